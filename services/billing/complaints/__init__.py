"""Complaints (R10, R12): handlers, rules and SQL."""
