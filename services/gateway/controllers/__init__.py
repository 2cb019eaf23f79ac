"""The gateway's controllers, one module per area."""
