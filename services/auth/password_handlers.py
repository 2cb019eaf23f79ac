"""The customer's password: change it within a session, or reset it by an emailed link (R3)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from contracts import auth as msgs
from contracts import topology
from contracts.rpc import Empty
from runtime.clock import utc_now
from runtime.errors import DomainError
from runtime.logs import get_logger
from runtime.unit_of_work import UnitOfWork
from services.auth import domain, store
from services.auth.common_passwords import common_passwords
from services.auth.guard import store as guard_store
from services.auth.handlers import Auth, live_session, sessions_ended, token_invalid

log = get_logger(__name__)


async def change_password(a: Auth, cmd: msgs.ChangePassword) -> Empty:
    """R3: needs the current password; every other session of the account ends."""
    digest = domain.token_digest(cmd.token)
    session = await live_session(a, digest)
    key = domain.login_key(session["login"])
    await a.guard.check_throttle("customer", key, cmd.client_address)
    domain.check_password_policy(cmd.new_password)
    current = await store.account_by_login(a.rt.pool, key)
    if current is None or not await a.passwords.verify(
        current["password_hash"], cmd.current_password
    ):
        await guard_store.record_failure(a.rt.pool, "customer", key, cmd.client_address, "password")
        await store.audit(
            a.rt.pool,
            "password_change_failed",
            actor_kind="customer",
            actor_id=session["account_id"],
            account_id=session["account_id"],
            client_address=cmd.client_address,
        )
        raise DomainError(
            "current_password_invalid",
            "Obecne hasło jest nieprawidłowe.",
            detail_en="The current password is wrong.",
            status=422,
        )
    domain.check_password_not_guessable(
        cmd.new_password, current["login"], current["email"], common_passwords()
    )
    new_hash = await a.passwords.hash(cmd.new_password)
    async with a.rt.unit_of_work() as uow:
        await store.revoke_email_tokens(uow.conn, session["account_id"], "reset_password")
        await new_password(
            uow, session["account_id"], new_hash, cmd, "password_changed", keep=digest
        )
    await sessions_ended(a, session["account_id"], "password_changed")
    return Empty()


async def new_password(
    uow: UnitOfWork,
    account_id: UUID,
    new_hash: str,
    cmd: msgs.ChangePassword | msgs.ResetPassword,
    action: str,
    *,
    keep: bytes | None = None,
) -> None:
    """R3: the new password, every session of the account ended (but ``keep``), audited."""
    await store.set_password(uow.conn, account_id, new_hash)
    ended = await store.delete_sessions_of_account(uow.conn, account_id, keep=keep)
    counted = {"other_sessions_ended" if keep else "sessions_ended": ended}
    await store.audit(
        uow.conn,
        action,
        actor_kind="customer",
        actor_id=account_id,
        account_id=account_id,
        client_address=cmd.client_address,
        detail=domain.audit_detail(**counted),
    )


async def request_password_reset(a: Auth, cmd: msgs.RequestPasswordReset) -> Empty:
    """R3: a single-use emailed link; the same empty answer whether or not the login exists."""
    account = await store.account_by_login(a.rt.pool, domain.login_key(cmd.login))
    if account is None or account["email_verified_at"] is None:
        log.info("password_reset.ignored")
        return Empty()
    settings = a.rt.settings
    now = utc_now()
    token = domain.new_token()
    expires_at = now + timedelta(minutes=settings.password_reset_minutes)
    async with a.rt.unit_of_work() as uow:
        await store.account_for_update(uow.conn, account["id"])
        recent = await store.email_tokens_since(
            uow.conn, account["id"], "reset_password", now - timedelta(hours=1)
        )
        if recent >= settings.password_resets_per_hour:
            # Quietly: the answer must not differ, and the mailbox must not be flooded.
            log.info("password_reset.throttled", account_id=str(account["id"]))
            return Empty()
        await store.revoke_email_tokens(uow.conn, account["id"], "reset_password")
        await store.insert_email_token(
            uow.conn,
            domain.token_digest(token),
            account["id"],
            "reset_password",
            account["email"],
            expires_at,
        )
        uow.emit(
            topology.EVENTS_EXCHANGE,
            msgs.PasswordResetRequested(
                account_id=account["id"],
                login=account["login"],
                email=account["email"],
                token=token,
                expires_at=expires_at,
                language=account["language"],
            ),
        )
        await store.audit(
            uow.conn,
            "password_reset_requested",
            actor_kind="anonymous",
            account_id=account["id"],
            client_address=cmd.client_address,
        )
    return Empty()


async def reset_password(a: Auth, cmd: msgs.ResetPassword) -> Empty:
    """R3: the emailed link sets a new password once; every session of the account ends."""
    domain.check_password_policy(cmd.new_password)
    digest = domain.token_digest(cmd.token)
    # Checked before hashing, so invalid links cost no hashing time.
    if not await store.email_token_usable(a.rt.pool, digest, "reset_password"):
        raise token_invalid()
    new_hash = await a.passwords.hash(cmd.new_password)
    async with a.rt.unit_of_work() as uow:
        spent = await store.use_email_token(uow.conn, digest, ("reset_password",))
        if spent is None:
            raise token_invalid()
        account = await store.account_by_id(uow.conn, spent["account_id"])
        if account is None:
            raise token_invalid()
        # Refused here, the unit of work is undone: the link still works for another password.
        domain.check_password_not_guessable(
            cmd.new_password, account["login"], account["email"], common_passwords()
        )
        await new_password(uow, spent["account_id"], new_hash, cmd, "password_reset")
    await sessions_ended(a, spent["account_id"], "password_reset")
    return Empty()
