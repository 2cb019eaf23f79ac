"""The SQL of R14 in readings: the customer's rows point to an anonymous key; addresses, review
notes and reminders go."""

from __future__ import annotations

from typing import Any

import asyncpg

from runtime.db import execute_counted


def _erasure(number: str, key: str) -> dict[str, tuple[str, tuple[Any, ...]]]:
    return {
        "readings": (
            "UPDATE readings SET customer_number = $2, review_reason = NULL"
            " WHERE customer_number = $1",
            (number, key),
        ),
        "meters": (
            "UPDATE meters SET customer_number = $2, updated_at = now() WHERE customer_number = $1",
            (number, key),
        ),
        # A contract without an end date is current: it stays the customer's (billing decided
        # on the contracts it had; one arriving since is the customer's again).
        "contracts": (
            "UPDATE contracts SET customer_number = $2, premises_address = '{}', updated_at = now()"
            " WHERE customer_number = $1 AND end_date IS NOT NULL",
            (number, key),
        ),
        "legalization_reminders": (
            "DELETE FROM legalization_reminders WHERE customer_number = $1",
            (number,),
        ),
    }


async def anonymise_customer(conn: asyncpg.Connection, number: str, key: str) -> dict[str, int]:
    """Hand the customer's rows to ``key``; the rows each statement touched."""
    return await execute_counted(conn, _erasure(number, key))
