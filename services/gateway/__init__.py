"""The gateway: the only HTTP entry for customers and staff (Litestar)."""
