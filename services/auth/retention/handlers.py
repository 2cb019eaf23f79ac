"""Retention (R14) in auth: when billing says a customer's retention ended, their account goes.

The account with its sessions, emailed tokens and blocks is deleted, and so are the login's
captcha demands and failed attempts; the audit trail keeps its entries of the account (what
was done, when, by which staff member) without the customer's addresses and the staff's free
text, and gains one ``retention_erased`` entry with how many rows went. Notify and the gateways hear of
it through ``auth.account-erased.v1`` and ``auth.sessions-ended.v1``.
"""

from __future__ import annotations

from functools import partial

from contracts import topology
from contracts.auth import AccountErased
from contracts.retention import CustomerRetentionEnded
from runtime.retention import log_erased
from runtime.unit_of_work import UnitOfWork
from services.auth import domain, store
from services.auth.handlers import Auth, sessions_ended
from services.auth.retention import store as erasure


async def erase_customer(a: Auth, uow: UnitOfWork, msg: CustomerRetentionEnded) -> None:
    """R14: the customer's account and everything of it here (once per event: the runtime)."""
    account = await erasure.account_to_erase(uow.conn, msg.customer_number)
    if account is None:
        counts = {"accounts": 0}
    else:
        counts = await erasure.erase_account(uow.conn, account["id"], account["login_key"])
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
