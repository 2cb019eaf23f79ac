"""IBOK's five services; each is started with ``python -m services.<name>``."""
