"""R4 for a customer who can neither see nor hear the captcha: a one-time code emailed to the
account's verified address stands in for it.

It does not weaken R4: only the mailbox's owner can read the code, it is single use, expires in
10 minutes, at most 3 are sent an hour, a wrong one counts as a wrong captcha, and the answer
to the request is the same whether or not the login exists.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg

from contracts import auth as msgs
from contracts import topology
from contracts.rpc import Empty
from runtime.clock import utc_now
from runtime.logs import get_logger
from services.auth import domain, store

if TYPE_CHECKING:
    from uuid import UUID

    from services.auth.handlers import Auth

log = get_logger(__name__)

CODE_LENGTH = 8
CODE_MINUTES = 10
CODES_PER_HOUR = 3


def code_digest(account_id: UUID, code: str) -> bytes:
    return domain.token_digest(f"login-code:{account_id}:{''.join(code.split()).upper()}")


async def request_login_code(a: Auth, cmd: msgs.RequestLoginCode) -> Empty:
    account = await store.account_by_login(a.rt.pool, domain.login_key(cmd.login))
    if account is None or account["email_verified_at"] is None:
        log.info("login_code.ignored")
        return Empty()
    now = utc_now()
    code = "".join(secrets.choice(domain.CAPTCHA_ALPHABET) for _ in range(CODE_LENGTH))
    expires_at = now + timedelta(minutes=CODE_MINUTES)
    async with a.rt.unit_of_work() as uow:
        conn = uow.conn
        await store.account_for_update(conn, account["id"])
        sent = await store.email_tokens_since(
            conn, account["id"], "login_code", now - timedelta(hours=1)
        )
        if sent >= CODES_PER_HOUR:
            # Quietly: the answer must not differ, and the mailbox must not be flooded.
            log.info("login_code.throttled", account_id=str(account["id"]))
            return Empty()
        await store.revoke_email_tokens(conn, account["id"], "login_code")
        await store.insert_email_token(
            conn,
            code_digest(account["id"], code),
            account["id"],
            "login_code",
            account["email"],
            expires_at,
        )
        uow.emit(
            topology.EVENTS_EXCHANGE,
            msgs.LoginCodeRequested(
                account_id=account["id"],
                login=account["login"],
                email=account["email"],
                code=code,
                expires_at=expires_at,
                language=account["language"],
            ),
        )
        await store.audit(
            conn,
            "login_code_requested",
            actor_kind="anonymous",
            account_id=account["id"],
            client_address=cmd.client_address,
        )
    return Empty()


async def spend_login_code(pool: asyncpg.Pool, login_key: str, code: str) -> bool:
    """True once for the account's latest unexpired code; the code is spent by its first use."""
    account = await store.account_by_login(pool, login_key)
    if account is None:
        return False
    spent = await store.use_email_token(pool, code_digest(account["id"], code), ("login_code",))
    return spent is not None
