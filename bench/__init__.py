"""IBOK's benchmarks: each prints a table and appends it to docs/performance.md."""
