"""Request and response bodies of staff login, staff users, account blocks (R5) and the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.auth import IdentityCheckUsed, StaffRole
from services.gateway.schemas.common import Schema


class StaffLoginRequest(Schema):
    login: str = Field(min_length=1, max_length=64, examples=["opiekun.anna"])
    password: str = Field(min_length=1, max_length=128)
    captcha_id: UUID | None = Field(
        default=None, description="Required after a wrong password for this login"
    )
    captcha_answer: str | None = Field(default=None, min_length=1, max_length=16)


class StaffLoginResponse(Schema):
    login: str
    role: StaffRole
    expires_at: datetime
    recovery_codes: list[str] | None = Field(
        default=None, description="Only at the login that enrolled the second factor: shown once"
    )


class StaffMe(Schema):
    staff_id: UUID
    login: str
    name: str
    role: StaffRole


class BlockRequest(Schema):
    """R5: block at the customer's request, after checking identity (the number is not sent)."""

    reason: str = Field(min_length=1, max_length=500, examples=["Zgubiony telefon z hasłem"])
    until: date | None = Field(
        default=None, description="Last day of the block (Warsaw calendar); or permanent"
    )
    permanent: bool = False
    identity_check_used: IdentityCheckUsed = Field(examples=["pesel"])
    identity_verified: Literal[True] = Field(
        description="Staff confirm the customer passed the identity check"
    )


class UnblockRequest(Schema):
    reason: str = Field(default="", max_length=500, examples=["Klient odzyskał dostęp"])


class BlockResponse(Schema):
    login: str
    blocked: bool
    until: date | None = None
    permanent: bool = False
    reason: str = ""
    identity_check_used: IdentityCheckUsed | None = None
    blocked_at: datetime | None = None


class StaffUserCreate(Schema):
    login: str = Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=100, examples=["Anna Opiekun"])
    role: StaffRole
    password: str = Field(min_length=1, max_length=128, description="12 to 128 characters")


class StaffUserOut(Schema):
    id: UUID
    login: str
    name: str
    role: StaffRole
    created_at: datetime
    active: bool


class AuditEntryOut(Schema):
    id: int
    at: datetime
    action: str = Field(examples=["account_blocked"])
    actor_kind: Literal["customer", "staff", "anonymous", "system"]
    actor_id: UUID | None = None
    actor_login: str | None = None
    client_address: str
    detail: dict[str, str | int | bool | None]


class MaintenanceRequest(Schema):
    on: bool
    message: str = Field(default="", max_length=500, examples=["Przerwa techniczna do 22:00."])
    message_en: str = Field(default="", max_length=500, examples=["Maintenance until 22:00."])
    expected_end: AwareDatetime | None = Field(default=None, examples=["2026-11-25T21:00:00Z"])


class MaintenanceOut(Schema):
    on: bool
    message: str
    message_en: str
    expected_end: AwareDatetime | None
    revision: int
