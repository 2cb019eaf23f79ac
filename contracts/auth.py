"""The auth service: the requests it answers and the events it emits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field

from contracts.base import Contract, Envelope
from contracts.billing_system import ContractNumber, CustomerNumber
from contracts.identity import IdentityKind
from contracts.rpc import Empty, Operation

Login = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
# R3: the length and alphabet are checked by the auth domain so the refusal has a stable code.
Password = Annotated[str, Field(min_length=1, max_length=128, repr=False)]
SessionToken = Annotated[str, Field(min_length=20, max_length=100, repr=False)]
Language = Literal["pl", "en"]


class RegisterAccount(Contract):
    customer_number: CustomerNumber
    contract_number: ContractNumber
    identity_kind: IdentityKind
    identity_number: str = Field(min_length=1, max_length=20, repr=False)
    login: Login
    password: Password
    email: EmailStr
    language: Language = "pl"


class AccountRegistered(Contract):
    login: str
    email: str
    email_verification_required: bool = True


class VerifyEmail(Contract):
    token: str = Field(min_length=20, max_length=100, repr=False)


class LogIn(Contract):
    login: str = Field(min_length=1, max_length=64)
    password: Password
    client_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)


class SessionOpened(Contract):
    token: SessionToken
    account_id: UUID
    expires_at: AwareDatetime


class SessionRef(Contract):
    token: SessionToken


class SessionInfo(Contract):
    """Who a session belongs to; the gateway asks for it on every authenticated request."""

    account_id: UUID
    login: str
    customer_number: str
    kind: Literal["customer", "staff"] = "customer"


class ProfileQuery(Contract):
    account_id: UUID


class Profile(Contract):
    account_id: UUID
    login: str
    customer_number: str
    customer_name: str
    email: str
    email_verified: bool
    language: Language
    created_at: datetime


REGISTER = Operation("auth", "register", RegisterAccount, AccountRegistered)
VERIFY_EMAIL = Operation("auth", "verify-email", VerifyEmail, Empty)
LOG_IN = Operation("auth", "log-in", LogIn, SessionOpened)
LOG_OUT = Operation("auth", "log-out", SessionRef, Empty)
RESOLVE_SESSION = Operation("auth", "resolve-session", SessionRef, SessionInfo)
PROFILE = Operation("auth", "profile", ProfileQuery, Profile)


class EmailVerificationRequested(Envelope):
    """Notify sends the link; the token is single-use and expires (R17, R16).

    ``purpose`` says whether this confirms the address given at registration or a new address
    the customer entered in the contact data (used only once confirmed).
    """

    SCHEMA: ClassVar[str] = "auth.email-verification-requested.v1"

    account_id: UUID
    login: str
    email: EmailStr
    token: str = Field(repr=False)
    expires_at: AwareDatetime
    language: Language = "pl"
    purpose: Literal["registration", "email_change"] = "registration"


class PasswordResetRequested(Envelope):
    """R3: "forgot password" by an emailed, single-use link."""

    SCHEMA: ClassVar[str] = "auth.password-reset-requested.v1"

    account_id: UUID
    login: str
    email: EmailStr
    token: str = Field(repr=False)
    expires_at: AwareDatetime
    language: Language = "pl"


class CustomerContactChanged(Envelope):
    """The customer's verified contact data and consents as they are now (R15, R16).

    Emitted when an account is activated and whenever its contact data or consent changes;
    notify keeps its recipients from these, newest ``revision`` wins.
    """

    SCHEMA: ClassVar[str] = "auth.customer-contact-changed.v1"

    account_id: UUID
    customer_number: str
    login: str
    email: EmailStr
    phone: str | None = None
    language: Language = "pl"
    marketing_consent: bool = False
    revision: int = Field(ge=0)


class AccountErased(Envelope):
    """R14: the account's personal data was erased after retention; projections forget it too."""

    SCHEMA: ClassVar[str] = "auth.account-erased.v1"

    account_id: UUID
    customer_number: str


class AccountActivated(Envelope):
    SCHEMA: ClassVar[str] = "auth.account-activated.v1"

    account_id: UUID
    login: str
    customer_number: str
