"""The shared runtime of IBOK's services: settings, logs, database, broker, health, outbox."""
