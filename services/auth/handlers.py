"""One short function per customer request: registration, verification, login and sessions.

Passwords are in password_handlers.py, contact data in contact_handlers.py, staff in
staff_handlers.py; the dependencies and helpers they share are here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from contracts import auth as msgs
from contracts import billing, topology
from contracts.billing_system import Address, ContactDataChanged
from contracts.rpc import Empty
from runtime.clock import business_today, utc_now
from runtime.errors import Conflict, DomainError, NotFound, Unauthorized
from runtime.logs import get_logger
from runtime.paging import decode_cursor, encode_cursor
from runtime.rpc_client import RpcClient, RpcProblem, RpcTimeout, RpcUnavailable
from runtime.service import ServiceRuntime
from services.auth import domain, store
from services.auth.common_passwords import common_passwords
from services.auth.login_guard import LoginGuard
from services.auth.mfa import guard as mfa_guard
from services.auth.mfa.domain import Subject
from services.auth.passwords import Passwords

log = get_logger(__name__)

SESSION_ENDED = "Sesja wygasła. Zaloguj się ponownie."
SESSION_ENDED_EN = "The session has ended. Log in again."


@dataclass
class Auth:
    """The auth service's dependencies, wired once in app.py."""

    rt: ServiceRuntime
    passwords: Passwords
    rpc: RpcClient
    guard: LoginGuard

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.rt.settings.session_idle_minutes)

    @property
    def absolute(self) -> timedelta:
        return timedelta(hours=self.rt.settings.session_absolute_hours)


def session_ended() -> Unauthorized:
    return Unauthorized("session_invalid", SESSION_ENDED, detail_en=SESSION_ENDED_EN)


def token_invalid() -> DomainError:
    return DomainError(
        "token_invalid",
        "Link jest nieprawidłowy albo wygasł.",
        detail_en="The link is invalid or has expired.",
        status=422,
    )


def address_of(row: asyncpg.Record) -> Address | None:
    raw = row["correspondence_address"]
    return Address.model_validate(json.loads(raw)) if raw else None


def profile_of(row: asyncpg.Record) -> msgs.Profile:
    return msgs.Profile(
        account_id=row["id"],
        login=row["login"],
        customer_number=row["customer_number"],
        customer_name=row["customer_name"],
        email=row["email"],
        email_verified=row["email_verified_at"] is not None,
        language=row["language"],
        created_at=row["created_at"],
        phone=row["phone"],
        correspondence_address=address_of(row),
        marketing_consent=row["marketing_consent"],
        pending_email=row["pending_email"],
    )


async def emit_contact(a: Auth, conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    """R15, R16: the verified contact data as it is now, to notify and to the billing system."""
    await a.rt.emit(
        conn,
        topology.EVENTS_EXCHANGE,
        msgs.CustomerContactChanged(
            account_id=row["id"],
            customer_number=row["customer_number"],
            login=row["login"],
            email=row["email"],
            phone=row["phone"],
            language=row["language"],
            marketing_consent=row["marketing_consent"],
            revision=row["contact_revision"],
        ),
    )
    await a.rt.emit(
        conn,
        topology.IBOK_OUT_EXCHANGE,
        ContactDataChanged(
            customer_number=row["customer_number"],
            email=row["email"],
            phone=row["phone"],
            correspondence_address=address_of(row),
            marketing_consent=row["marketing_consent"],
        ),
    )


def blocked_now(row: asyncpg.Record) -> bool:
    return row["block_id"] is not None and domain.block_in_effect(
        row["blocked_until"], business_today()
    )


# --- registration ------------------------------------------------------------------------------


async def register(a: Auth, cmd: msgs.RegisterAccount) -> msgs.AccountRegistered:
    """R1, R2, R3, R17: a current contract holder chooses a login and verifies the email."""
    domain.check_password_policy(cmd.password)
    domain.check_password_not_guessable(cmd.password, cmd.login, str(cmd.email), common_passwords())
    try:
        eligibility = await a.rpc.call(
            billing.CHECK_REGISTRATION,
            billing.RegistrationEligibilityQuery(
                customer_number=cmd.customer_number,
                contract_number=cmd.contract_number,
                identity_kind=cmd.identity_kind,
                identity_number=cmd.identity_number,
            ),
        )
    except (RpcUnavailable, RpcTimeout, RpcProblem) as exc:
        log.warning("register.billing_unavailable", error=type(exc).__name__)
        raise DomainError(
            "service_unavailable",
            "Usługa chwilowo niedostępna.",
            detail_en="The service is temporarily unavailable.",
            status=503,
        ) from exc
    if not eligibility.eligible:
        # One answer for every mismatch, so the form reveals nothing about other customers.
        raise DomainError(
            "registration_not_eligible",
            "Dane nie pasują do aktywnej umowy. Sprawdź numer klienta, numer umowy i PESEL/NIP.",
            detail_en="The data match no active contract. Check the customer number, the"
            " contract number and the PESEL/NIP.",
            status=422,
        )
    password_hash = await a.passwords.hash(cmd.password)
    account_id = uuid.uuid4()
    token = domain.new_token()
    expires_at = utc_now() + timedelta(hours=a.rt.settings.email_token_hours)
    try:
        async with a.rt.pool.acquire() as conn, conn.transaction():
            await store.insert_account(
                conn,
                account_id=account_id,
                login=cmd.login,
                login_key=domain.login_key(cmd.login),
                customer_number=cmd.customer_number,
                customer_name=eligibility.customer_name,
                email=str(cmd.email),
                language=cmd.language,
                password_hash=password_hash,
            )
            await store.insert_email_token(
                conn,
                domain.token_digest(token),
                account_id,
                "verify_email",
                str(cmd.email),
                expires_at,
            )
            await a.rt.emit(
                conn,
                topology.EVENTS_EXCHANGE,
                msgs.EmailVerificationRequested(
                    account_id=account_id,
                    login=cmd.login,
                    email=cmd.email,
                    token=token,
                    expires_at=expires_at,
                    language=cmd.language,
                ),
            )
            await store.audit(
                conn,
                "registered",
                actor_kind="customer",
                actor_id=account_id,
                account_id=account_id,
                client_address=cmd.client_address,
            )
    except asyncpg.UniqueViolationError as exc:
        if "login_key" in (exc.constraint_name or ""):
            raise Conflict(
                "login_taken", "Ten login jest już zajęty.", detail_en="This login is taken."
            ) from exc
        raise Conflict(
            "already_registered",
            "Dla tego klienta istnieje już konto w IBOK.",
            detail_en="This customer already has an IBOK account.",
        ) from exc
    a.rt.published_soon()
    log.info("account.registered", account_id=str(account_id))
    return msgs.AccountRegistered(login=cmd.login, email=str(cmd.email))


async def verify_email(a: Auth, cmd: msgs.VerifyEmail) -> Empty:
    """R17 (the registration address: the account becomes active) or R16 (a changed address)."""
    async with a.rt.pool.acquire() as conn, conn.transaction():
        spent = await store.use_email_token(
            conn, domain.token_digest(cmd.token), ("verify_email", "change_email")
        )
        if spent is None:
            raise token_invalid()
        if spent["purpose"] == "verify_email":
            action = "email_verified"
            row = await store.mark_email_verified(conn, spent["account_id"], spent["email"])
        else:
            action = "email_changed"
            row = await store.apply_email_change(conn, spent["account_id"], spent["email"])
        if row is None:
            raise token_invalid()
        if action == "email_verified":
            await a.rt.emit(
                conn,
                topology.EVENTS_EXCHANGE,
                msgs.AccountActivated(
                    account_id=row["id"], login=row["login"], customer_number=row["customer_number"]
                ),
            )
        await emit_contact(a, conn, row)
        await store.audit(
            conn,
            action,
            actor_kind="customer",
            actor_id=row["id"],
            account_id=row["id"],
            client_address=cmd.client_address,
        )
    a.rt.published_soon()
    return Empty()


# --- login and sessions ------------------------------------------------------------------------


async def new_captcha(a: Auth, request: msgs.CaptchaRequest) -> msgs.CaptchaChallenge:
    return await a.guard.new_challenge(request)


async def log_in(a: Auth, cmd: msgs.LogIn) -> msgs.SessionOpened:
    """R4, R5, R13: captcha and throttling first; one answer for an unknown login and a wrong
    password (a dummy hash is verified for an unknown login, so both take as long); blocked
    only after a correct password; a new session id."""
    key = domain.login_key(cmd.login)
    address = cmd.client_address
    await a.guard.check_throttle("customer", key, address)
    await a.guard.check_captcha(
        "customer", key, address, cmd.captcha_id, cmd.captcha_answer, cmd.email_code
    )
    account = await store.account_by_login(a.rt.pool, key)
    ok = await a.passwords.verify(account["password_hash"] if account else None, cmd.password)
    if not (account and ok):
        raise await a.guard.refuse(
            "customer", key, address, account_id=account["id"] if account else None
        )
    await a.guard.release("customer", key)
    if blocked_now(account):
        await store.audit(
            a.rt.pool,
            "login_refused_blocked",
            actor_kind="customer",
            actor_id=account["id"],
            account_id=account["id"],
            client_address=address,
        )
        raise domain.account_blocked_error(account["blocked_until"])
    if account["email_verified_at"] is None:
        raise DomainError(
            "email_not_verified",
            "Najpierw potwierdź adres e-mail.",
            detail_en="Confirm your email address first.",
            status=403,
        )
    if a.passwords.needs_rehash(account["password_hash"]):
        await store.update_password_hash(
            a.rt.pool, account["id"], await a.passwords.hash(cmd.password)
        )
    # An enrolled second factor: no session yet, a challenge for POST /auth/mfa instead.
    await mfa_guard.demand_second_factor(
        a, Subject("customer", account["id"]), address, cmd.user_agent
    )
    async with a.rt.pool.acquire() as conn, conn.transaction():
        return await open_session(a, conn, account["id"], address, cmd.user_agent)


async def open_session(
    a: Auth,
    conn: asyncpg.Connection,
    account_id: uuid.UUID,
    address: str,
    user_agent: str,
    **detail: str,
) -> msgs.SessionOpened:
    """R13: a new session id, in the caller's transaction, with the login in the audit trail."""
    token = domain.new_token()
    row = await store.insert_session(
        conn, domain.token_digest(token), account_id, address, user_agent
    )
    await store.audit(
        conn,
        "login",
        actor_kind="customer",
        actor_id=account_id,
        account_id=account_id,
        client_address=address,
        detail=domain.audit_detail(session=str(row["id"]), **detail),
    )
    times = domain.SessionTimes(row["created_at"], row["last_seen_at"])
    log.info("session.opened", account_id=str(account_id))
    return msgs.SessionOpened(
        token=token,
        account_id=account_id,
        expires_at=domain.session_expires_at(times, idle=a.idle, absolute=a.absolute),
    )


async def live_session(a: Auth, digest: bytes) -> asyncpg.Record:
    """The session and its account, or 401 when unknown, past a timeout (R13) or blocked (R5)."""
    row = await store.session_with_account(a.rt.pool, digest)
    if row is None:
        raise session_ended()
    times = domain.SessionTimes(row["created_at"], row["last_seen_at"])
    if domain.session_expired(times, utc_now(), idle=a.idle, absolute=a.absolute) or blocked_now(
        row
    ):
        await store.delete_session(a.rt.pool, digest)
        raise session_ended()
    return row


async def resolve_session(a: Auth, ref: msgs.SessionRef) -> msgs.SessionInfo:
    digest = domain.token_digest(ref.token)
    row = await live_session(a, digest)
    await store.touch_session(a.rt.pool, digest)
    return msgs.SessionInfo(
        account_id=row["account_id"], login=row["login"], customer_number=row["customer_number"]
    )


async def log_out(a: Auth, ref: msgs.SessionRef) -> Empty:
    account_id = await store.delete_session(a.rt.pool, domain.token_digest(ref.token))
    if account_id is not None:
        await sessions_ended(a, account_id, "logout")
    return Empty()


async def sessions_ended(a: Auth, account_id: uuid.UUID, reason: str) -> None:
    """Tell every gateway to forget the account's cached sessions before we answer (R13, R5)."""
    await a.rt.announce(
        topology.EVENTS_EXCHANGE, msgs.SessionsEnded(account_id=account_id, reason=reason)
    )


async def sessions(a: Auth, query: msgs.SessionsQuery) -> msgs.SessionsPage:
    """R13: the customer's live sessions, newest first; ids are not tokens."""
    after = session_cursor(query.cursor)
    now = utc_now()
    rows = await store.live_sessions_of_account(
        a.rt.pool,
        query.account_id,
        seen_since=now - a.idle,
        created_since=now - a.absolute,
        after=after,
        limit=query.limit + 1,
    )
    current = domain.token_digest(query.current_token) if query.current_token else None
    items = [
        msgs.SessionSummary(
            id=row["id"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            expires_at=domain.session_expires_at(
                domain.SessionTimes(row["created_at"], row["last_seen_at"]),
                idle=a.idle,
                absolute=a.absolute,
            ),
            client_address=row["client_address"],
            user_agent=row["user_agent"],
            current=bytes(row["token_digest"]) == current,
        )
        for row in rows[: query.limit]
    ]
    last = rows[query.limit - 1] if len(rows) > query.limit else None
    return msgs.SessionsPage(
        items=items,
        next_cursor=encode_cursor(last["created_at"].isoformat(), str(last["id"]))
        if last
        else None,
    )


def session_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        created_at, session_id = key
        return datetime.fromisoformat(created_at), uuid.UUID(session_id)
    except (TypeError, ValueError) as exc:
        raise DomainError(
            "invalid_cursor", "Nieprawidłowy kursor strony.", detail_en="Invalid page cursor."
        ) from exc


async def end_session(a: Auth, cmd: msgs.EndSession) -> Empty:
    """R13: the customer ends one of their own sessions; another account's id is not found."""
    async with a.rt.pool.acquire() as conn, conn.transaction():
        if not await store.delete_session_by_id(conn, cmd.account_id, cmd.session_id):
            raise NotFound(
                "session_not_found", "Nie ma takiej sesji.", detail_en="No such session."
            )
        await store.audit(
            conn,
            "session_ended",
            actor_kind="customer",
            actor_id=cmd.account_id,
            account_id=cmd.account_id,
            client_address=cmd.client_address,
            detail=domain.audit_detail(session=str(cmd.session_id)),
        )
    await sessions_ended(a, cmd.account_id, "session_ended")
    return Empty()
