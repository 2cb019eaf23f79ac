"""The auth service: accounts, credentials, sessions, blocks, staff, contact data, audit trail."""
