"""IBOK's command-line tools: the operations CLI and the billing-system simulator."""
