"""Consumption (R7.7): the curve of a premises' use, per month or billing period."""
