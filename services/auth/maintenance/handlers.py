"""Maintenance mode (R6): admins switch it; every gateway follows the state auth keeps."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from contracts import topology
from contracts.maintenance import (
    MaintenanceChanged,
    MaintenanceState,
    MaintenanceStateQuery,
    SetMaintenance,
)
from runtime.logs import get_logger
from services.auth import domain, store
from services.auth.handlers import Auth
from services.auth.maintenance import store as maintenance_store

log = get_logger(__name__)


def _state(row: asyncpg.Record) -> MaintenanceState:
    return MaintenanceState(
        on=row["on_now"],
        message=row["message"],
        message_en=row["message_en"],
        expected_end=row["expected_end"],
        revision=row["revision"],
    )


async def maintenance_state(a: Auth, _: MaintenanceStateQuery) -> MaintenanceState:
    return _state(await maintenance_store.maintenance_state(a.rt.pool))


async def set_maintenance(a: Auth, cmd: SetMaintenance) -> MaintenanceState:
    """The gateway lets only admins call this; the change and its event commit together."""
    async with a.rt.unit_of_work() as uow:
        row = await maintenance_store.set_maintenance(
            uow.conn,
            on=cmd.on,
            message=cmd.message,
            message_en=cmd.message_en,
            expected_end=cmd.expected_end,
        )
        state = _state(row)
        await store.audit(
            uow.conn,
            "maintenance_on" if cmd.on else "maintenance_off",
            actor_kind="staff",
            actor_id=UUID(cmd.staff_id),
            staff_id=UUID(cmd.staff_id),
            client_address=cmd.client_address,
            detail=domain.audit_detail(
                expected_end=cmd.expected_end.isoformat() if cmd.expected_end else None,
                revision=state.revision,
            ),
        )
        uow.emit(topology.EVENTS_EXCHANGE, MaintenanceChanged(state=state))
    log.info("maintenance.set", on=state.on, revision=state.revision)
    return state
