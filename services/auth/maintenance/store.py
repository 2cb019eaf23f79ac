"""The SQL of maintenance mode (R6): one row, revised on every change."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.auth.store import Db


async def maintenance_state(db: Db) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT on_now, message, message_en, expected_end, revision FROM maintenance"
    )
    assert row is not None, "migration 0003 inserts the one maintenance row"
    return row


async def set_maintenance(
    db: Db, *, on: bool, message: str, message_en: str, expected_end: datetime | None
) -> asyncpg.Record:
    row = await db.fetchrow(
        """
        UPDATE maintenance SET on_now = $1, message = $2, message_en = $3, expected_end = $4,
                               revision = revision + 1, changed_at = now()
        RETURNING on_now, message, message_en, expected_end, revision
        """,
        on,
        message,
        message_en,
        expected_end,
    )
    assert row is not None
    return row
