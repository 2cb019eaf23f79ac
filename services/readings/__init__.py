"""The readings service: meters, meter readings and consumption analytics."""
