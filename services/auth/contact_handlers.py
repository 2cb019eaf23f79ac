"""The customer's own data: profile, contact data and consent (R15, R16); accounts for staff views."""

from __future__ import annotations

import json
from datetime import timedelta

from contracts import auth as msgs
from contracts import topology
from runtime.clock import utc_now
from runtime.errors import DomainError, NotFound
from services.auth import domain, store
from services.auth.guard import store as guard_store
from services.auth.handlers import Auth, emit_contact
from services.auth.views import profile_of


async def profile(a: Auth, query: msgs.ProfileQuery) -> msgs.Profile:
    row = await store.account_by_id(a.rt.pool, query.account_id)
    if row is None:
        raise NotFound("account_not_found", "Nie ma takiego konta.", detail_en="No such account.")
    return profile_of(row)


async def update_contact(a: Auth, cmd: msgs.UpdateContact) -> msgs.Profile:
    """R15, R16: phone, address and consent apply at once; a new email only once verified."""
    address = cmd.correspondence_address.model_dump() if cmd.correspondence_address else None
    wanted = {
        "phone": cmd.phone,
        "correspondence_address": address,
        "marketing_consent": cmd.marketing_consent,
    }
    new_email = str(cmd.email)
    await check_password_for_new_email(a, cmd, new_email)
    token = domain.new_token()
    expires_at = utc_now() + timedelta(hours=a.rt.settings.email_token_hours)
    async with a.rt.unit_of_work() as uow:
        current = await store.account_for_update(uow.conn, cmd.account_id)
        if current is None:
            raise NotFound(
                "account_not_found", "Nie ma takiego konta.", detail_en="No such account."
            )
        changed = domain.changed_contact_fields(
            {
                "phone": current["phone"],
                "correspondence_address": json.loads(current["correspondence_address"])
                if current["correspondence_address"]
                else None,
                "marketing_consent": current["marketing_consent"],
            },
            wanted,
        )
        email_change = not domain.same_email(new_email, current["email"])
        asks_again = email_change and not domain.same_email(new_email, current["pending_email"])
        row = await store.update_contact(
            uow.conn,
            cmd.account_id,
            phone=cmd.phone,
            correspondence_address=address,
            marketing_consent=cmd.marketing_consent,
            # Giving the current address back cancels a pending change.
            pending_email=new_email if email_change else None,
            bump_revision=bool(changed),
        )
        if asks_again:
            await store.revoke_email_tokens(uow.conn, cmd.account_id, "change_email")
            await store.insert_email_token(
                uow.conn,
                domain.token_digest(token),
                cmd.account_id,
                "change_email",
                new_email,
                expires_at,
            )
            uow.emit(
                topology.EVENTS_EXCHANGE,
                msgs.EmailVerificationRequested(
                    account_id=cmd.account_id,
                    login=current["login"],
                    email=new_email,
                    token=token,
                    expires_at=expires_at,
                    language=current["language"],
                    purpose="email_change",
                ),
            )
            # The old address hears of it: a change its owner did not make can be stopped.
            uow.emit(
                topology.EVENTS_EXCHANGE,
                msgs.EmailChangeRequested(
                    account_id=cmd.account_id,
                    login=current["login"],
                    old_email=current["email"],
                    new_email_hint=domain.masked_email(new_email),
                    language=current["language"],
                ),
            )
            await store.audit(
                uow.conn,
                "email_change_requested",
                actor_kind="customer",
                actor_id=cmd.account_id,
                account_id=cmd.account_id,
                client_address=cmd.client_address,
            )
        if changed:
            emit_contact(uow, row)
            await store.audit(
                uow.conn,
                "contact_changed",
                actor_kind="customer",
                actor_id=cmd.account_id,
                account_id=cmd.account_id,
                client_address=cmd.client_address,
                detail=domain.audit_detail(fields=",".join(changed)),
            )
    return profile_of(row)


async def check_password_for_new_email(a: Auth, cmd: msgs.UpdateContact, new_email: str) -> None:
    """A new address needs the current password (ASVS 5.0 6.2.3-like guard against a stolen
    session taking the account over); wrong passwords count in the login throttle (R4)."""
    account = await store.account_by_id(a.rt.pool, cmd.account_id)
    if account is None or domain.same_email(new_email, account["email"]):
        return
    if domain.same_email(new_email, account["pending_email"]):
        return  # asked for (with the password) already
    key = domain.login_key(account["login"])
    await a.guard.check_throttle("customer", key, cmd.client_address)
    row = await store.account_by_login(a.rt.pool, key)
    if cmd.current_password and row is not None:
        if await a.passwords.verify(row["password_hash"], cmd.current_password):
            return
        await guard_store.record_failure(a.rt.pool, "customer", key, cmd.client_address, "password")
        raise DomainError(
            "current_password_invalid",
            "Obecne hasło jest nieprawidłowe.",
            detail_en="The current password is wrong.",
            status=422,
            fields={"current_password": "invalid"},
        )
    raise DomainError(
        "current_password_required",
        "Aby zmienić adres e-mail, podaj obecne hasło.",
        detail_en="To change the email address, give your current password.",
        status=422,
        fields={"current_password": "required"},
    )
