"""Retention (R14) in auth: the account and everything of it goes."""
