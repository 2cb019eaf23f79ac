"""A simulator of the utility's billing system: publishes a consistent data set, reads IBOK's output."""
