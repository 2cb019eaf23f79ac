"""The customer's own data: profile, contact data and consent (R15, R16); accounts for staff views."""

from __future__ import annotations

import json
from datetime import timedelta

from contracts import auth as msgs
from contracts import topology
from runtime.clock import utc_now
from runtime.errors import NotFound
from services.auth import domain, store
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
