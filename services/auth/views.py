"""Auth's rows as the contracts show them: the profile and the correspondence address."""

from __future__ import annotations

import json

import asyncpg

from contracts import auth as msgs
from contracts.billing_system import Address


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
