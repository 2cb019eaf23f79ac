"""The second factor (TOTP with recovery codes) of customers and staff."""
