"""IBOK's message catalogue: every message that crosses a process boundary, versioned."""
