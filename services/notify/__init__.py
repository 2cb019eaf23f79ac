"""The notify service: email outbox and delivery, the IBOK inbox, terms and announcements."""
