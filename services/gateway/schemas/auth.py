"""Request and response bodies of registration, login and the customer's own account."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import EmailStr, Field

from contracts.auth import Language
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


class LoginRequest(Schema):
    login: str = Field(min_length=1, max_length=64, examples=["jan.kowalski"])
    password: str = Field(min_length=1, max_length=128, examples=["Tajne123"])


class LoginResponse(Schema):
    login: str
    expires_at: datetime


class Me(Schema):
    account_id: UUID
    login: str
    customer_number: str
    customer_name: str
    email: str
    email_verified: bool
    language: Language
    created_at: datetime
    kind: Literal["customer"] = "customer"
