"""Retention (R14) in billing: who is due, the erasure of billing's part, the events."""
