"""Registration (R1, R2, R3, R17) and the email verification that completes it: one answer for
every mismatch, so the form confirms nobody's identity number or account."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from contracts import auth as msgs
from contracts import billing, topology
from contracts.rpc import Empty
from runtime.clock import utc_now
from runtime.errors import Conflict, DomainError
from runtime.logs import get_logger
from runtime.rpc_client import RpcProblem, RpcTimeout, RpcUnavailable
from services.auth import domain, store
from services.auth.common_passwords import common_passwords
from services.auth.handlers import Auth, emit_contact, token_invalid

log = get_logger(__name__)


def registration_refused() -> DomainError:
    """One answer for no such customer, a wrong identity number and a customer who already has
    an account, so the form confirms nobody's PESEL or account (the owner hears by email)."""
    return DomainError(
        "registration_not_eligible",
        "Nie można założyć konta dla tych danych. Sprawdź numer klienta, numer umowy i"
        " PESEL/NIP. Jeśli dla tej umowy istnieje już konto, jego właściciel dostanie wiadomość"
        " e-mail; zaloguj się lub ustaw nowe hasło.",
        detail_en="An account cannot be opened for these data. Check the customer number, the"
        " contract number and the PESEL/NIP. If an account already exists for this contract,"
        " its owner gets an email; log in or set a new password.",
        status=422,
    )


async def _already_registered(a: Auth, cmd: msgs.RegisterAccount) -> bool:
    """The customer (identity proven) has an account: tell its owner by email and record it."""
    async with a.rt.unit_of_work() as uow:
        owner = await store.account_of_customer(uow.conn, cmd.customer_number)
        if owner is None:
            return False
        uow.emit(
            topology.EVENTS_EXCHANGE,
            msgs.RegistrationRepeated(
                account_id=owner["id"],
                login=owner["login"],
                email=owner["email"],
                language=owner["language"],
            ),
        )
        await store.audit(
            uow.conn,
            "registration_repeated",
            actor_kind="anonymous",
            account_id=owner["id"],
            client_address=cmd.client_address,
        )
    log.info("register.repeated", account_id=str(owner["id"]))
    return True


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
        raise registration_refused()
    if await _already_registered(a, cmd):
        raise registration_refused()
    password_hash = await a.passwords.hash(cmd.password)
    account_id = uuid.uuid4()
    token = domain.new_token()
    expires_at = utc_now() + timedelta(hours=a.rt.settings.email_token_hours)
    try:
        async with a.rt.unit_of_work() as uow:
            await store.insert_account(
                uow.conn,
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
                uow.conn,
                domain.token_digest(token),
                account_id,
                "verify_email",
                str(cmd.email),
                expires_at,
            )
            uow.emit(
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
                uow.conn,
                "registered",
                actor_kind="customer",
                actor_id=account_id,
                account_id=account_id,
                client_address=cmd.client_address,
            )
    except asyncpg.UniqueViolationError as exc:
        if "login_key" in (exc.constraint_name or ""):
            # Only a caller who proved the customer's identity learns that a login is taken.
            raise Conflict(
                "login_taken", "Ten login jest już zajęty.", detail_en="This login is taken."
            ) from exc
        raise registration_refused() from exc
    log.info("account.registered", account_id=str(account_id))
    return msgs.AccountRegistered(login=cmd.login, email=str(cmd.email))


async def verify_email(a: Auth, cmd: msgs.VerifyEmail) -> Empty:
    """R17 (the registration address: the account becomes active) or R16 (a changed address)."""
    async with a.rt.unit_of_work() as uow:
        spent = await store.use_email_token(
            uow.conn, domain.token_digest(cmd.token), ("verify_email", "change_email")
        )
        if spent is None:
            raise token_invalid()
        if spent["purpose"] == "verify_email":
            action = "email_verified"
            row = await store.mark_email_verified(uow.conn, spent["account_id"], spent["email"])
        else:
            action = "email_changed"
            row = await store.apply_email_change(uow.conn, spent["account_id"], spent["email"])
        if row is None:
            raise token_invalid()
        emit_contact(uow, row)
        await store.audit(
            uow.conn,
            action,
            actor_kind="customer",
            actor_id=row["id"],
            account_id=row["id"],
            client_address=cmd.client_address,
        )
    return Empty()
