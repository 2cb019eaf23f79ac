"""The billing service: the billing system's data, contracts, invoices, settlement, complaints."""
