"""The SQL of R14 in auth: the account, its sessions, tokens, blocks and login guards go; the
audit trail keeps its entries without the customer's addresses and staff's free text."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from runtime.db import execute_counted


def _erasure(account_id: UUID, login_key: str) -> dict[str, tuple[str, tuple[Any, ...]]]:
    return {
        "sessions": ("DELETE FROM sessions WHERE account_id = $1", (account_id,)),
        "email_tokens": ("DELETE FROM email_tokens WHERE account_id = $1", (account_id,)),
        "blocks": ("DELETE FROM blocks WHERE account_id = $1", (account_id,)),
        "login_guards": (
            "DELETE FROM login_guards WHERE scope = 'customer' AND login_key = $1",
            (login_key,),
        ),
        "login_failures": (
            "DELETE FROM login_failures WHERE scope = 'customer' AND login_key = $1",
            (login_key,),
        ),
        # A staff member's own address stays with their action; the customer's (and an
        # anonymous caller's) goes, and so does free text a staff member wrote about them.
        "audit_trail": (
            """
            UPDATE audit_trail SET
                client_address = CASE WHEN actor_kind = 'staff' THEN client_address ELSE '' END,
                detail = detail - 'reason'
            WHERE account_id = $1
              AND ((actor_kind <> 'staff' AND client_address <> '') OR detail ? 'reason')
            """,
            (account_id,),
        ),
        "accounts": ("DELETE FROM accounts WHERE id = $1", (account_id,)),
    }


async def account_to_erase(conn: asyncpg.Connection, customer_number: str) -> asyncpg.Record | None:
    """The customer's account (id, login key), locked for the erasure; None without one."""
    return await conn.fetchrow(
        "SELECT id, login_key FROM accounts WHERE customer_number = $1 FOR UPDATE",
        customer_number,
    )


async def erase_account(
    conn: asyncpg.Connection, account_id: UUID, login_key: str
) -> dict[str, int]:
    """Erase the account and what hangs on it; the rows each statement touched."""
    return await execute_counted(conn, _erasure(account_id, login_key))
