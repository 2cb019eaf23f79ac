"""One short function per second-factor request: completing a login, enrolment, recovery codes,
removal, and an admin's reset of a staff member's factor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import asyncpg

from contracts import auth as msgs
from contracts.rpc import Empty
from runtime.clock import utc_now
from runtime.errors import Conflict, DomainError, NotFound
from runtime.logs import get_logger
from services.auth import domain as auth_domain
from services.auth import store as auth_store
from services.auth.guard import store as guard_store
from services.auth.handlers import Auth, blocked_now, open_session
from services.auth.mfa import domain, store
from services.auth.mfa.domain import Subject, SubjectKind
from services.auth.staff import store as staff_store
from services.auth.staff.handlers import open_staff_session, require_role

log = get_logger(__name__)

Opened = TypeVar("Opened")
Opener = Callable[[asyncpg.Connection, Subject, asyncpg.Record, str], Awaitable[Opened]]


async def second_factor_used(
    conn: asyncpg.Connection, factor: asyncpg.Record | None, purpose: str, code: str
) -> str | None:
    """Which method the code passed ("totp" or "recovery_code"), spending it; None if it fails.

    An enrolment challenge takes a TOTP code of the new, unconfirmed factor; a login challenge
    a fresh TOTP code (each accepted once, RFC 6238 5.2) or an unused recovery code.
    """
    if factor is None:
        return None
    now = utc_now()
    if purpose == "enrol":
        if factor["confirmed_at"] is not None:
            return None
        step = domain.matching_step(factor["secret"], code, now, 0)
        if step is None:
            return None
        await store.confirm_factor(conn, factor["id"], step)
        return "totp"
    if factor["confirmed_at"] is None:
        return None
    if domain.looks_like_recovery_code(code):
        spent = await store.spend_recovery_code(conn, factor["id"], domain.recovery_digest(code))
        return "recovery_code" if spent else None
    step = domain.matching_step(factor["secret"], code, now, factor["last_step"])
    if step is None:
        return None
    await store.spend_step(conn, factor["id"], step)
    return "totp"


async def new_recovery_codes_of(conn: asyncpg.Connection, factor_id: UUID) -> list[str]:
    codes = domain.new_recovery_codes()
    await store.replace_recovery_codes(conn, factor_id, [domain.recovery_digest(c) for c in codes])
    return codes


async def pass_challenge(
    a: Auth, cmd: msgs.CompleteMfa, kind: SubjectKind, opener: Opener[Opened]
) -> Opened:
    """The second step of a login: the challenge and its code, then ``opener`` opens the session
    in the same transaction. Wrong codes count on the challenge (it ends after a few) and in
    the login throttle (R4); the refusal is raised after the count is committed."""
    digest = auth_domain.token_digest(cmd.challenge)
    refusal: DomainError
    async with a.rt.unit_of_work() as uow:
        conn = uow.conn
        ch = await store.challenge_for_update(conn, digest)
        owner = None if ch is None else ch["account_id" if kind == "customer" else "staff_id"]
        if ch is None or owner is None or ch["expires_at"] <= utc_now():
            refusal = domain.challenge_invalid()
        else:
            subject = Subject(kind, owner)
            key = auth_domain.login_key(ch["login"])
            await a.guard.check_throttle(kind, key, cmd.client_address)
            factor = await store.factor_of(conn, subject, lock=True)
            method = await second_factor_used(conn, factor, ch["purpose"], cmd.code)
            if method is not None:
                await store.delete_challenge(conn, digest)
                return await opener(conn, subject, ch, method)
            attempts = await store.count_attempt(conn, digest)
            left = domain.CHALLENGE_ATTEMPTS - attempts
            if left <= 0:
                await store.delete_challenge(conn, digest)
            await guard_store.record_failure(conn, kind, key, cmd.client_address, "second_factor")
            await auth_store.audit(
                conn,
                "mfa_failed" if kind == "customer" else "staff_mfa_failed",
                actor_kind="anonymous",
                account_id=subject.id if kind == "customer" else None,
                staff_id=subject.id if kind == "staff" else None,
                client_address=cmd.client_address,
                detail=auth_domain.audit_detail(attempts_left=max(left, 0)),
            )
            refusal = domain.code_invalid(left) if left > 0 else domain.challenge_invalid()
    log.info("mfa.refused", scope=kind, code=refusal.code)
    raise refusal


async def complete_mfa(a: Auth, cmd: msgs.CompleteMfa) -> msgs.SessionOpened:
    """The customer's second step: a session once the code passes, unless blocked meanwhile (R5)."""

    async def opener(
        conn: asyncpg.Connection, subject: Subject, ch: asyncpg.Record, method: str
    ) -> msgs.SessionOpened:
        account = await auth_store.account_by_login(conn, auth_domain.login_key(ch["login"]))
        if account is None or blocked_now(account):
            raise domain.challenge_invalid()
        opened = await open_session(
            a, conn, subject.id, cmd.client_address, cmd.user_agent, second_factor=method
        )
        return opened.model_copy(update={"login": account["login"]})

    return await pass_challenge(a, cmd, "customer", opener)


async def staff_complete_mfa(a: Auth, cmd: msgs.CompleteMfa) -> msgs.StaffSessionOpened:
    """The staff second step; an enrolment challenge also confirms the factor and hands out the
    recovery codes, once."""

    async def opener(
        conn: asyncpg.Connection, subject: Subject, ch: asyncpg.Record, method: str
    ) -> msgs.StaffSessionOpened:
        user = await store.staff_by_id(conn, subject.id)
        if user is None or user["disabled_at"] is not None:
            raise domain.challenge_invalid()
        codes: list[str] = []
        if ch["purpose"] == "enrol":
            factor = await store.factor_of(conn, subject)
            assert factor is not None  # confirmed a moment ago, in this transaction
            codes = await new_recovery_codes_of(conn, factor["id"])
            await auth_store.audit(
                conn,
                "staff_mfa_enrolled",
                actor_kind="staff",
                actor_id=subject.id,
                staff_id=subject.id,
                client_address=cmd.client_address,
            )
        opened = await open_staff_session(
            a, conn, user, cmd.client_address, cmd.user_agent, second_factor=method
        )
        return opened.model_copy(update={"recovery_codes": codes})

    return await pass_challenge(a, cmd, "staff", opener)


# --- a customer's own factor (/me/mfa) ---------------------------------------------------------


async def mfa_status(a: Auth, query: msgs.MfaStatusQuery) -> msgs.MfaStatus:
    factor = await store.factor_of(a.rt.pool, Subject("customer", query.account_id))
    if factor is None or factor["confirmed_at"] is None:
        return msgs.MfaStatus(totp=False)
    left = await store.recovery_codes_left(a.rt.pool, factor["id"])
    return msgs.MfaStatus(totp=True, recovery_codes_left=left)


def already_enabled() -> Conflict:
    return Conflict(
        "mfa_already_enabled",
        "Drugi składnik jest już włączony.",
        detail_en="The second factor is already on.",
    )


def not_enabled() -> Conflict:
    return Conflict(
        "mfa_not_enabled",
        "Drugi składnik nie jest włączony.",
        detail_en="The second factor is not on.",
    )


async def begin_totp(a: Auth, cmd: msgs.BeginTotp) -> msgs.TotpEnrolment:
    """A new secret for the authenticator app; it counts only once confirmed with a code."""
    subject = Subject("customer", cmd.account_id)
    factor = await store.factor_of(a.rt.pool, subject)
    if factor is not None and factor["confirmed_at"] is not None:
        raise already_enabled()
    account = await store.account_password(a.rt.pool, cmd.account_id)
    if account is None:
        raise NotFound("account_not_found", "Nie ma takiego konta.", detail_en="No such account.")
    secret = domain.new_totp_secret()
    await store.start_factor(a.rt.pool, subject, secret)
    uri = domain.otpauth_uri(secret, account["login"])
    return msgs.TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=domain.qr_svg(uri))


async def confirm_totp(a: Auth, cmd: msgs.ConfirmTotp) -> msgs.RecoveryCodes:
    """The first code from the app turns the factor on; the recovery codes are shown this once."""
    subject = Subject("customer", cmd.account_id)
    async with a.rt.unit_of_work() as uow:
        conn = uow.conn
        factor = await store.factor_of(conn, subject, lock=True)
        if factor is None:
            raise Conflict(
                "mfa_not_started",
                "Najpierw rozpocznij dodawanie aplikacji.",
                detail_en="Start adding the app first.",
            )
        if factor["confirmed_at"] is not None:
            raise already_enabled()
        if await second_factor_used(conn, factor, "enrol", cmd.code) is None:
            raise domain.enrolment_code_invalid()
        codes = await new_recovery_codes_of(conn, factor["id"])
        await auth_store.audit(
            conn,
            "mfa_enabled",
            actor_kind="customer",
            actor_id=cmd.account_id,
            account_id=cmd.account_id,
            client_address=cmd.client_address,
        )
    return msgs.RecoveryCodes(codes=codes)


async def new_recovery_codes(a: Auth, cmd: msgs.ConfirmTotp) -> msgs.RecoveryCodes:
    """A fresh set of recovery codes (the old ones stop working), with a current TOTP code."""
    subject = Subject("customer", cmd.account_id)
    async with a.rt.unit_of_work() as uow:
        conn = uow.conn
        factor = await store.factor_of(conn, subject, lock=True)
        if factor is None or factor["confirmed_at"] is None:
            raise not_enabled()
        if domain.looks_like_recovery_code(cmd.code) or (
            await second_factor_used(conn, factor, "verify", cmd.code) is None
        ):
            raise domain.enrolment_code_invalid()
        codes = await new_recovery_codes_of(conn, factor["id"])
        await auth_store.audit(
            conn,
            "mfa_recovery_codes_renewed",
            actor_kind="customer",
            actor_id=cmd.account_id,
            account_id=cmd.account_id,
            client_address=cmd.client_address,
        )
    return msgs.RecoveryCodes(codes=codes)


async def remove_totp(a: Auth, cmd: msgs.RemoveTotp) -> Empty:
    """The customer turns the second factor off: the password and a current code (or a recovery
    code), so neither a stolen session nor a stolen password alone can do it."""
    subject = Subject("customer", cmd.account_id)
    account = await store.account_password(a.rt.pool, cmd.account_id)
    if account is None:
        raise not_enabled()
    key = auth_domain.login_key(account["login"])
    await a.guard.check_throttle("customer", key, cmd.client_address)
    if not await a.passwords.verify(account["password_hash"], cmd.password):
        await guard_store.record_failure(a.rt.pool, "customer", key, cmd.client_address, "password")
        raise DomainError(
            "current_password_invalid",
            "Obecne hasło jest nieprawidłowe.",
            detail_en="The current password is wrong.",
            status=422,
            fields={"password": "invalid"},
        )
    passed = False
    async with a.rt.unit_of_work() as uow:
        conn = uow.conn
        factor = await store.factor_of(conn, subject, lock=True)
        if factor is None or factor["confirmed_at"] is None:
            raise not_enabled()
        if await second_factor_used(conn, factor, "verify", cmd.code) is None:
            await guard_store.record_failure(
                conn, "customer", key, cmd.client_address, "second_factor"
            )
        else:
            passed = True
            await store.delete_factor(conn, subject)
            await auth_store.audit(
                conn,
                "mfa_removed",
                actor_kind="customer",
                actor_id=cmd.account_id,
                account_id=cmd.account_id,
                client_address=cmd.client_address,
            )
    if not passed:
        raise domain.enrolment_code_invalid()
    return Empty()


# --- staff: an admin's reset -------------------------------------------------------------------


async def reset_staff_mfa(a: Auth, cmd: msgs.ResetStaffMfa) -> Empty:
    """A lost authenticator: an admin removes the factor, the staff member's sessions end, and
    their next login enrols a new one. In the audit trail with the admin as the actor."""
    await require_role(a, cmd.actor_id, "admin")
    user = await staff_store.staff_by_login(a.rt.pool, auth_domain.login_key(cmd.login))
    if user is None:
        raise NotFound(
            "staff_not_found", "Nie ma takiego pracownika.", detail_en="No such staff member."
        )
    subject = Subject("staff", user["id"])
    async with a.rt.unit_of_work() as uow:
        conn = uow.conn
        removed = await store.delete_factor(conn, subject)
        await store.delete_challenges_of(conn, subject)
        ended = await store.delete_staff_sessions(conn, user["id"])
        await auth_store.audit(
            conn,
            "staff_mfa_reset",
            actor_kind="staff",
            actor_id=cmd.actor_id,
            staff_id=user["id"],
            client_address=cmd.client_address,
            detail=auth_domain.audit_detail(
                login=user["login"], factor_removed=removed, sessions_ended=ended
            ),
        )
    log.info("staff_mfa.reset", staff_id=str(user["id"]), sessions_ended=ended)
    return Empty()
