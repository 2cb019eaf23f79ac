"""Staff: their login, accounts, blocks (R5) and the audit trail they read."""
