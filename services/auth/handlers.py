"""One short function per request the auth service answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from contracts import auth as msgs
from contracts import billing, topology
from contracts.rpc import Empty
from runtime.clock import utc_now
from runtime.errors import Conflict, DomainError, NotFound, Unauthorized
from runtime.logs import get_logger
from runtime.rpc_client import RpcClient, RpcProblem, RpcTimeout, RpcUnavailable
from runtime.service import ServiceRuntime
from services.auth import domain, store
from services.auth.passwords import Passwords

log = get_logger(__name__)

BAD_CREDENTIALS = "Nieprawidłowy login lub hasło."


@dataclass
class Auth:
    """The auth service's dependencies, wired once in app.py."""

    rt: ServiceRuntime
    passwords: Passwords
    rpc: RpcClient

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.rt.settings.session_idle_minutes)

    @property
    def absolute(self) -> timedelta:
        return timedelta(hours=self.rt.settings.session_absolute_hours)


async def register(a: Auth, cmd: msgs.RegisterAccount) -> msgs.AccountRegistered:
    """R1, R2, R3, R17: a current contract holder chooses a login and verifies the email."""
    domain.check_password_policy(cmd.password)
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
            "service_unavailable", "Usługa chwilowo niedostępna.", status=503
        ) from exc
    if not eligibility.eligible:
        # One answer for every mismatch, so the form reveals nothing about other customers.
        raise DomainError(
            "registration_not_eligible",
            "Dane nie pasują do aktywnej umowy. Sprawdź numer klienta, numer umowy i PESEL/NIP.",
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
    except asyncpg.UniqueViolationError as exc:
        if "login_key" in (exc.constraint_name or ""):
            raise Conflict("login_taken", "Ten login jest już zajęty.") from exc
        raise Conflict("already_registered", "Dla tego klienta istnieje już konto w IBOK.") from exc
    a.rt.published_soon()
    log.info("account.registered", account_id=str(account_id))
    return msgs.AccountRegistered(login=cmd.login, email=str(cmd.email))


async def verify_email(a: Auth, cmd: msgs.VerifyEmail) -> Empty:
    async with a.rt.pool.acquire() as conn, conn.transaction():
        spent = await store.use_email_token(conn, domain.token_digest(cmd.token), "verify_email")
        account = spent and await store.mark_email_verified(
            conn, spent["account_id"], spent["email"]
        )
        if not account:
            raise DomainError("token_invalid", "Link jest nieprawidłowy albo wygasł.", status=422)
        await a.rt.emit(
            conn,
            topology.EVENTS_EXCHANGE,
            msgs.AccountActivated(
                account_id=account["id"],
                login=account["login"],
                customer_number=account["customer_number"],
            ),
        )
    a.rt.published_soon()
    return Empty()


async def log_in(a: Auth, cmd: msgs.LogIn) -> msgs.SessionOpened:
    """R4, R13: the same answer for an unknown login and a wrong password; a new session id."""
    account = await store.account_by_login(a.rt.pool, domain.login_key(cmd.login))
    ok = await a.passwords.verify(account["password_hash"] if account else None, cmd.password)
    if not (account and ok):
        log.info("login.refused", reason="invalid_credentials")
        raise Unauthorized("invalid_credentials", BAD_CREDENTIALS)
    if account["email_verified_at"] is None:
        raise DomainError("email_not_verified", "Najpierw potwierdź adres e-mail.", status=403)
    if a.passwords.needs_rehash(account["password_hash"]):
        await store.update_password_hash(
            a.rt.pool, account["id"], await a.passwords.hash(cmd.password)
        )
    token = domain.new_token()
    row = await store.insert_session(
        a.rt.pool, domain.token_digest(token), account["id"], cmd.client_address, cmd.user_agent
    )
    times = domain.SessionTimes(row["created_at"], row["last_seen_at"])
    log.info("session.opened", account_id=str(account["id"]))
    return msgs.SessionOpened(
        token=token,
        account_id=account["id"],
        expires_at=domain.session_expires_at(times, idle=a.idle, absolute=a.absolute),
    )


async def resolve_session(a: Auth, ref: msgs.SessionRef) -> msgs.SessionInfo:
    digest = domain.token_digest(ref.token)
    row = await store.session_with_account(a.rt.pool, digest)
    if row is None:
        raise Unauthorized("session_invalid", "Sesja wygasła. Zaloguj się ponownie.")
    times = domain.SessionTimes(row["created_at"], row["last_seen_at"])
    if domain.session_expired(times, utc_now(), idle=a.idle, absolute=a.absolute):
        await store.delete_session(a.rt.pool, digest)
        raise Unauthorized("session_invalid", "Sesja wygasła. Zaloguj się ponownie.")
    await store.touch_session(a.rt.pool, digest)
    return msgs.SessionInfo(
        account_id=row["account_id"], login=row["login"], customer_number=row["customer_number"]
    )


async def log_out(a: Auth, ref: msgs.SessionRef) -> Empty:
    await store.delete_session(a.rt.pool, domain.token_digest(ref.token))
    return Empty()


async def profile(a: Auth, query: msgs.ProfileQuery) -> msgs.Profile:
    row = await store.account_by_id(a.rt.pool, query.account_id)
    if row is None:
        raise NotFound("account_not_found", "Nie ma takiego konta.")
    return msgs.Profile(
        account_id=row["id"],
        login=row["login"],
        customer_number=row["customer_number"],
        customer_name=row["customer_name"],
        email=row["email"],
        email_verified=row["email_verified_at"] is not None,
        language=row["language"],
        created_at=row["created_at"],
    )
