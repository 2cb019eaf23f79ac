"""Maintenance mode (R6): its state, the admin's command to set it, and the event every gateway follows."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.base import Contract, Envelope
from contracts.rpc import Operation


class MaintenanceState(Contract):
    on: bool
    message: str = Field(default="", max_length=500)
    message_en: str = Field(default="", max_length=500)
    expected_end: AwareDatetime | None = None
    revision: int = Field(default=0, ge=0)


class SetMaintenance(Contract):
    on: bool
    message: str = Field(default="", max_length=500)
    message_en: str = Field(default="", max_length=500)
    expected_end: AwareDatetime | None = None
    staff_id: str = Field(max_length=64)
    client_address: str = Field(default="", max_length=64)


class MaintenanceStateQuery(Contract):
    pass


class MaintenanceChanged(Envelope):
    """Every gateway process applies this at once; it also polls the state in case it missed one."""

    SCHEMA: ClassVar[str] = "auth.maintenance-changed.v1"

    state: MaintenanceState


SET_MAINTENANCE = Operation("auth", "set-maintenance", SetMaintenance, MaintenanceState)
GET_MAINTENANCE = Operation("auth", "maintenance-state", MaintenanceStateQuery, MaintenanceState)
