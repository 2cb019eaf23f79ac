"""The billing system's messages, applied in batches."""
