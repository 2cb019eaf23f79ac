"""Retention (R14) in auth: when billing says a customer's retention ended, their account goes.

The account with its sessions, emailed tokens and blocks is deleted, and so are the login's
captcha demands and failed attempts; the audit trail keeps its entries of the account (what
was done, when, by which staff member) without the customer's addresses and the staff's free
text, and gains one ``retention_erased`` entry with how many rows went. Notify and the gateways hear of
it through ``auth.account-erased.v1`` and ``auth.sessions-ended.v1``.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from contracts import topology
from contracts.auth import AccountErased
from contracts.retention import CustomerRetentionEnded
from runtime.db import execute_counted
from runtime.retention import log_erased
from runtime.unit_of_work import UnitOfWork
from services.auth import domain, store
from services.auth.handlers import Auth, sessions_ended


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


async def erase_customer(a: Auth, uow: UnitOfWork, msg: CustomerRetentionEnded) -> None:
    """R14: the customer's account and everything of it here (once per event: the runtime)."""
    account = await uow.conn.fetchrow(
        "SELECT id, login_key FROM accounts WHERE customer_number = $1 FOR UPDATE",
        msg.customer_number,
    )
    if account is None:
        counts = {"accounts": 0}
    else:
        counts = await execute_counted(uow.conn, _erasure(account["id"], account["login_key"]))
        await store.audit(
            uow.conn,
            "retention_erased",
            actor_kind="system",
            account_id=account["id"],
            detail=domain.audit_detail(
                rule="R14", rows=sum(counts.values()), sessions_ended=counts["sessions"]
            ),
        )
        uow.emit(
            topology.EVENTS_EXCHANGE,
            AccountErased(account_id=account["id"], customer_number=msg.customer_number),
        )
        if counts["sessions"]:
            uow.after_commit(partial(sessions_ended, a, account["id"], "erased"))
    uow.after_commit(
        partial(log_erased, msg.customer_number, counts, message_id=str(msg.message_id))
    )
