"""Request and response bodies of registration, login, passwords and the customer's own account."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import EmailStr, Field

from contracts.auth import Language, Phone
from contracts.billing_system import Address
from contracts.identity import IdentityKind
from services.gateway.schemas.common import Schema


class RegisterRequest(Schema):
    customer_number: str = Field(min_length=1, max_length=32, examples=["K000001"])
    contract_number: str = Field(min_length=1, max_length=32, examples=["U/2024/000001"])
    identity_kind: IdentityKind = Field(examples=["pesel"])
    identity_number: str = Field(min_length=10, max_length=20, examples=["44051401359"])
    login: str = Field(
        min_length=3, max_length=32, pattern=r"^[A-Za-z0-9._-]+$", examples=["jan.kowalski"]
    )
    password: str = Field(min_length=1, max_length=128, examples=["Tajne123"])
    email: EmailStr = Field(examples=["jan@example.com"])
    language: Language = "pl"


class RegisterResponse(Schema):
    login: str
    email: str
    email_verification_required: bool


class VerifyEmailRequest(Schema):
    token: str = Field(min_length=20, max_length=100)


class CaptchaResponse(Schema):
    """R4: a single-use challenge. Send ``id`` as ``captcha_id`` with the typed text."""

    id: UUID
    image: str = Field(
        description="PNG as a data URI", examples=["data:image/png;base64,iVBORw0..."]
    )
    audio: str | None = Field(
        default=None, description="WAV as a data URI, when asked for with ?audio=true"
    )
    expires_at: datetime


class LoginRequest(Schema):
    login: str = Field(min_length=1, max_length=64, examples=["jan.kowalski"])
    password: str = Field(min_length=1, max_length=128, examples=["Tajne123"])
    captcha_id: UUID | None = Field(
        default=None, description="Required after a wrong password for this login (R4)"
    )
    captcha_answer: str | None = Field(
        default=None, min_length=1, max_length=16, examples=["K7AF3"]
    )
    email_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="In place of the captcha: the one-time code from `POST /auth/login-code`",
    )


class LoginCodeRequest(Schema):
    login: str = Field(min_length=1, max_length=64, examples=["jan.kowalski"])


class LoginResponse(Schema):
    login: str
    expires_at: datetime


class ChangePasswordRequest(Schema):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128, examples=["Nowe2026"])


class PasswordResetRequest(Schema):
    login: str = Field(min_length=1, max_length=64, examples=["jan.kowalski"])


class PasswordResetConfirm(Schema):
    token: str = Field(min_length=20, max_length=100)
    new_password: str = Field(min_length=1, max_length=128, examples=["Nowe2026"])


class ContactRequest(Schema):
    """R15, R16: the whole contact data; a new email is used only after its link is followed."""

    email: EmailStr = Field(examples=["jan@example.com"])
    phone: Phone | None = Field(default=None, examples=["+48 600 100 200"])
    correspondence_address: Address | None = None
    marketing_consent: bool = False
    current_password: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Required when `email` is a new address; the old address is told of it",
    )


class Me(Schema):
    account_id: UUID
    login: str
    customer_number: str
    customer_name: str
    email: str
    email_verified: bool
    language: Language
    created_at: datetime
    phone: str | None = None
    correspondence_address: Address | None = None
    marketing_consent: bool = False
    pending_email: str | None = Field(
        default=None, description="A new address waiting for verification (R16)"
    )
    kind: Literal["customer"] = "customer"


class SessionItem(Schema):
    """One of the customer's live sessions; ``id`` is not the session token."""

    id: UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_address: str
    user_agent: str
    current: bool
