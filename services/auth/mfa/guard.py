"""The second factor at login: after a right password, a challenge instead of a session.

Called by the password step (handlers.log_in, staff/handlers.staff_log_in); the challenge is
completed in services/auth/mfa/handlers.py. Kept apart from those handlers so the login
handlers can call it without importing them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from runtime.clock import utc_now
from runtime.errors import Unauthorized
from services.auth import domain as auth_domain
from services.auth.mfa import domain, store
from services.auth.mfa.domain import Subject

if TYPE_CHECKING:
    from services.auth.handlers import Auth


async def demand_second_factor(
    a: Auth, subject: Subject, client_address: str, user_agent: str
) -> None:
    """Nothing when the subject has no confirmed factor (customers may have none); otherwise
    raises ``mfa_required`` with a single-use challenge."""
    factor = await store.factor_of(a.rt.pool, subject)
    if factor is None or factor["confirmed_at"] is None:
        return
    raise await challenge(a, subject, "verify", client_address, user_agent)


async def staff_second_factor(
    a: Auth, subject: Subject, login: str, client_address: str, user_agent: str
) -> Unauthorized:
    """Staff always: ``mfa_required`` with a factor, else ``mfa_enrolment_required`` with a new
    secret whose first code both enrols it and opens the session (never a session without it)."""
    factor = await store.factor_of(a.rt.pool, subject)
    if factor is not None and factor["confirmed_at"] is not None:
        return await challenge(a, subject, "verify", client_address, user_agent)
    secret = domain.new_totp_secret()
    await store.start_factor(a.rt.pool, subject, secret)
    uri = domain.otpauth_uri(secret, login)
    return await challenge(
        a,
        subject,
        "enrol",
        client_address,
        user_agent,
        secret=secret,
        otpauth_uri=uri,
        qr_svg=domain.qr_svg(uri),
    )


async def challenge(
    a: Auth,
    subject: Subject,
    purpose: str,
    client_address: str,
    user_agent: str,
    **extra: str,
) -> Unauthorized:
    token = auth_domain.new_token()
    expires_at = utc_now() + timedelta(minutes=domain.CHALLENGE_MINUTES)
    await store.insert_challenge(
        a.rt.pool,
        auth_domain.token_digest(token),
        subject,
        purpose,
        client_address,
        user_agent,
        expires_at,
    )
    fields = {"challenge": token, "expires_at": expires_at.isoformat(), **extra}
    if purpose == "enrol":
        return Unauthorized(
            "mfa_enrolment_required",
            "Konto pracownika wymaga drugiego składnika. Dodaj klucz w aplikacji"
            " uwierzytelniającej (kod QR lub klucz) i wpisz wyświetlony kod.",
            detail_en="A staff account needs a second factor. Add the key to an authenticator"
            " app (QR code or key) and type the code it shows.",
            fields=fields,
        )
    return Unauthorized(
        "mfa_required",
        "Wpisz kod z aplikacji uwierzytelniającej albo kod odzyskiwania.",
        detail_en="Type the code from the authenticator app or a recovery code.",
        fields={**fields, "methods": "totp,recovery_code"},
    )
