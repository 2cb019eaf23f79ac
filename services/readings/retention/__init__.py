"""Retention (R14) in readings: readings stay, but lead to nobody."""
