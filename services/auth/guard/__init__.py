"""The login guard (R4, R5): captchas, throttling and failed attempts."""
