"""The billing system's meters, contracts, control readings and invoices, in batches."""
