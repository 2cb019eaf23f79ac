"""Maintenance mode (R6): the state auth keeps for every gateway."""
