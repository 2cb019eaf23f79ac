"""The auth service: the requests it answers and the events it emits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field

from contracts.base import Contract, Envelope
from contracts.billing_system import Address, ContractNumber, CustomerNumber
from contracts.identity import IdentityKind
from contracts.rpc import Empty, Operation

Login = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
# R3: the length and alphabet are checked by the auth domain so the refusal has a stable code.
Password = Annotated[str, Field(min_length=1, max_length=128, repr=False)]
SessionToken = Annotated[str, Field(min_length=20, max_length=100, repr=False)]
Language = Literal["pl", "en"]
ClientAddress = Annotated[str, Field(max_length=64)]
CaptchaAnswer = Annotated[str, Field(min_length=1, max_length=16)]
Phone = Annotated[str, Field(min_length=6, max_length=20, pattern=r"^\+?[0-9 ()-]+$")]
Limit = Annotated[int, Field(ge=1, le=100)]
Cursor = Annotated[str, Field(max_length=200)]
StaffRole = Literal["care", "admin"]
# R5: which identity check the customer passed before staff blocked the account (never the number).
IdentityCheckUsed = Literal["pesel", "nip", "id_card", "passport"]


class RegisterAccount(Contract):
    customer_number: CustomerNumber
    contract_number: ContractNumber
    identity_kind: IdentityKind
    identity_number: str = Field(min_length=1, max_length=20, repr=False)
    login: Login
    password: Password
    email: EmailStr
    language: Language = "pl"
    client_address: ClientAddress = ""


class AccountRegistered(Contract):
    login: str
    email: str
    email_verification_required: bool = True


class VerifyEmail(Contract):
    """Confirms the address given at registration (R17) or a new address (R16): one link format."""

    token: str = Field(min_length=20, max_length=100, repr=False)
    client_address: ClientAddress = ""


class LogIn(Contract):
    """R4: after a wrong password for this login, ``captcha_id`` and ``captcha_answer`` are required."""

    login: str = Field(min_length=1, max_length=64)
    password: Password
    captcha_id: UUID | None = None
    captcha_answer: CaptchaAnswer | None = None
    # In place of the captcha: the one-time code emailed to the account (REQUEST_LOGIN_CODE).
    email_code: str | None = Field(default=None, min_length=1, max_length=16, repr=False)
    client_address: ClientAddress = ""
    user_agent: str = Field(default="", max_length=300)


class RequestLoginCode(Contract):
    """R4 for someone who can neither see nor hear the captcha: a one-time code to the account's
    verified address. The same empty answer whether or not the login exists."""

    login: str = Field(min_length=1, max_length=64)
    client_address: ClientAddress = ""


class SessionOpened(Contract):
    token: SessionToken
    account_id: UUID
    expires_at: AwareDatetime
    login: str | None = None


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
    phone: str | None = None
    correspondence_address: Address | None = None
    marketing_consent: bool = False
    # R16: a new address waiting for its link to be followed; ``email`` is used until then.
    pending_email: str | None = None


class CaptchaRequest(Contract):
    audio: bool = False
    # The spoken challenge's language (WCAG 1.1.1: the page's language).
    language: Language = "pl"
    client_address: ClientAddress = ""


class CaptchaChallenge(Contract):
    """R4: a single-use image captcha; the answer is kept only as a digest on the server."""

    id: UUID
    image_png_base64: str
    audio_wav_base64: str | None = None
    expires_at: AwareDatetime


class ChangePassword(Contract):
    """R3: needs the current password; every other session of the account ends."""

    token: SessionToken
    current_password: Password
    new_password: Password
    client_address: ClientAddress = ""


class RequestPasswordReset(Contract):
    login: str = Field(min_length=1, max_length=64)
    client_address: ClientAddress = ""


class ResetPassword(Contract):
    token: str = Field(min_length=20, max_length=100, repr=False)
    new_password: Password
    client_address: ClientAddress = ""


class SessionsQuery(Contract):
    account_id: UUID
    # The caller's own session, marked ``current`` in the answer.
    current_token: str | None = Field(default=None, min_length=20, max_length=100, repr=False)
    limit: Limit = 20
    cursor: Cursor | None = None


class SessionSummary(Contract):
    """A session as its owner sees it: a non-secret id, never the token."""

    id: UUID
    created_at: AwareDatetime
    last_seen_at: AwareDatetime
    expires_at: AwareDatetime
    client_address: str
    user_agent: str
    current: bool = False


class SessionsPage(Contract):
    items: list[SessionSummary]
    next_cursor: str | None = None


class EndSession(Contract):
    account_id: UUID
    session_id: UUID
    client_address: ClientAddress = ""


class UpdateContact(Contract):
    """R15, R16: the customer's contact data and consent; a new email is used once verified."""

    account_id: UUID
    email: EmailStr
    phone: Phone | None = None
    correspondence_address: Address | None = None
    marketing_consent: bool = False
    client_address: ClientAddress = ""
    # Needed when ``email`` is a new address (a stolen session alone cannot move the account).
    current_password: str | None = Field(default=None, min_length=1, max_length=128, repr=False)


class AccountsOfCustomersQuery(Contract):
    customer_numbers: list[CustomerNumber] = Field(max_length=500)


class CustomerAccount(Contract):
    """A customer's IBOK account as staff see it: no password hash, no identity number."""

    customer_number: str
    login: str
    status: Literal["active", "pending", "blocked"]
    # None with status "blocked" means blocked without an end date.
    blocked_until: date | None = None
    email_verified: bool


class AccountsOfCustomers(Contract):
    accounts: list[CustomerAccount]


REGISTER = Operation("auth", "register", RegisterAccount, AccountRegistered)
VERIFY_EMAIL = Operation("auth", "verify-email", VerifyEmail, Empty)
NEW_CAPTCHA = Operation("auth", "new-captcha", CaptchaRequest, CaptchaChallenge)
LOG_IN = Operation("auth", "log-in", LogIn, SessionOpened)
REQUEST_LOGIN_CODE = Operation("auth", "request-login-code", RequestLoginCode, Empty)
LOG_OUT = Operation("auth", "log-out", SessionRef, Empty)
RESOLVE_SESSION = Operation("auth", "resolve-session", SessionRef, SessionInfo)
PROFILE = Operation("auth", "profile", ProfileQuery, Profile)
CHANGE_PASSWORD = Operation("auth", "change-password", ChangePassword, Empty)
REQUEST_PASSWORD_RESET = Operation("auth", "request-password-reset", RequestPasswordReset, Empty)
RESET_PASSWORD = Operation("auth", "reset-password", ResetPassword, Empty)
SESSIONS = Operation("auth", "sessions", SessionsQuery, SessionsPage)
END_SESSION = Operation("auth", "end-session", EndSession, Empty)
UPDATE_CONTACT = Operation("auth", "update-contact", UpdateContact, Profile)
ACCOUNTS_OF_CUSTOMERS = Operation(
    "auth", "accounts-of-customers", AccountsOfCustomersQuery, AccountsOfCustomers
)


# --- staff -------------------------------------------------------------------------------------


class StaffLogIn(Contract):
    """Staff log in like customers (captcha after a wrong password, throttling), in their own table."""

    login: str = Field(min_length=1, max_length=64)
    password: Password
    captcha_id: UUID | None = None
    captcha_answer: CaptchaAnswer | None = None
    client_address: ClientAddress = ""
    user_agent: str = Field(default="", max_length=300)


class StaffSessionOpened(Contract):
    token: SessionToken
    staff_id: UUID
    login: str
    role: StaffRole
    expires_at: AwareDatetime
    # Set once, when this login also enrolled the second factor: shown to the person once.
    recovery_codes: list[str] = Field(default_factory=list, repr=False)


class StaffInfo(Contract):
    """Who a staff session belongs to; the gateway asks for it on every staff request."""

    staff_id: UUID
    login: str
    name: str
    role: StaffRole


class CreateStaffUser(Contract):
    actor_id: UUID
    login: Login
    name: str = Field(min_length=1, max_length=100)
    role: StaffRole
    password: Password
    client_address: ClientAddress = ""


class StaffUser(Contract):
    id: UUID
    login: str
    name: str
    role: StaffRole
    created_at: AwareDatetime
    active: bool


class StaffUsersQuery(Contract):
    actor_id: UUID
    limit: Limit = 20
    cursor: Cursor | None = None


class StaffUsersPage(Contract):
    items: list[StaffUser]
    next_cursor: str | None = None


class BlockAccount(Contract):
    """R5: staff block an account at the customer's request, after checking identity."""

    actor_id: UUID
    login: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    # The last Warsaw calendar day of the block; None together with ``permanent``.
    until: date | None = None
    permanent: bool = False
    identity_check_used: IdentityCheckUsed
    identity_verified: bool
    client_address: ClientAddress = ""


class UnblockAccount(Contract):
    actor_id: UUID
    login: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=500)
    client_address: ClientAddress = ""


class AccountBlock(Contract):
    login: str
    blocked: bool
    until: date | None = None
    permanent: bool = False
    reason: str = ""
    identity_check_used: IdentityCheckUsed | None = None
    blocked_at: AwareDatetime | None = None


class AccountAuditQuery(Contract):
    actor_id: UUID
    login: str = Field(min_length=1, max_length=64)
    limit: Limit = 20
    cursor: Cursor | None = None


class AuditEntry(Contract):
    """Who did what, when and from where; never a password, token or identity number."""

    id: int
    at: AwareDatetime
    action: str
    actor_kind: Literal["customer", "staff", "anonymous", "system"]
    actor_id: UUID | None = None
    actor_login: str | None = None
    client_address: str
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)


class AuditPage(Contract):
    items: list[AuditEntry]
    next_cursor: str | None = None


STAFF_LOG_IN = Operation("auth", "staff-log-in", StaffLogIn, StaffSessionOpened)
STAFF_LOG_OUT = Operation("auth", "staff-log-out", SessionRef, Empty)
RESOLVE_STAFF_SESSION = Operation("auth", "resolve-staff-session", SessionRef, StaffInfo)
CREATE_STAFF_USER = Operation("auth", "create-staff-user", CreateStaffUser, StaffUser)
STAFF_USERS = Operation("auth", "staff-users", StaffUsersQuery, StaffUsersPage)
BLOCK_ACCOUNT = Operation("auth", "block-account", BlockAccount, AccountBlock)
UNBLOCK_ACCOUNT = Operation("auth", "unblock-account", UnblockAccount, AccountBlock)
ACCOUNT_AUDIT = Operation("auth", "account-audit", AccountAuditQuery, AuditPage)


# --- the second factor (TOTP, RFC 6238, with recovery codes) -----------------------------------

MfaCode = Annotated[str, Field(min_length=1, max_length=40, repr=False)]


class CompleteMfa(Contract):
    """The second step of a login: the challenge from ``mfa_required`` and a TOTP or recovery code.

    A staff challenge from ``mfa_enrolment_required`` is completed the same way with the first
    code of the new authenticator; the reply then carries the recovery codes, once.
    """

    challenge: str = Field(min_length=20, max_length=100, repr=False)
    code: MfaCode
    client_address: ClientAddress = ""
    user_agent: str = Field(default="", max_length=300)


class MfaStatusQuery(Contract):
    account_id: UUID


class MfaStatus(Contract):
    totp: bool
    recovery_codes_left: int = 0


class BeginTotp(Contract):
    account_id: UUID
    client_address: ClientAddress = ""


class TotpEnrolment(Contract):
    """A new secret waiting for its first code; shown to the person, never again after that."""

    secret: str = Field(repr=False)
    otpauth_uri: str = Field(repr=False)
    qr_svg: str = Field(repr=False)


class ConfirmTotp(Contract):
    account_id: UUID
    code: MfaCode
    client_address: ClientAddress = ""


class RecoveryCodes(Contract):
    codes: list[str] = Field(repr=False)


class RemoveTotp(Contract):
    """Needs the password and a current TOTP or recovery code."""

    account_id: UUID
    password: Password
    code: MfaCode
    client_address: ClientAddress = ""


class ResetStaffMfa(Contract):
    """An admin removes a staff member's second factor (a lost phone): the next login enrols anew."""

    actor_id: UUID
    login: str = Field(min_length=1, max_length=64)
    client_address: ClientAddress = ""


COMPLETE_MFA = Operation("auth", "complete-mfa", CompleteMfa, SessionOpened)
STAFF_COMPLETE_MFA = Operation("auth", "staff-complete-mfa", CompleteMfa, StaffSessionOpened)
MFA_STATUS = Operation("auth", "mfa-status", MfaStatusQuery, MfaStatus)
BEGIN_TOTP = Operation("auth", "begin-totp", BeginTotp, TotpEnrolment)
CONFIRM_TOTP = Operation("auth", "confirm-totp", ConfirmTotp, RecoveryCodes)
NEW_RECOVERY_CODES = Operation("auth", "new-recovery-codes", ConfirmTotp, RecoveryCodes)
REMOVE_TOTP = Operation("auth", "remove-totp", RemoveTotp, Empty)
RESET_STAFF_MFA = Operation("auth", "reset-staff-mfa", ResetStaffMfa, Empty)


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


class EmailChangeRequested(Envelope):
    """R16: a new address was asked for; notify tells the old address (``old_email``), so the
    owner learns of a change they did not make. ``new_email_hint`` is the new address masked."""

    SCHEMA: ClassVar[str] = "auth.email-change-requested.v1"

    account_id: UUID
    login: str
    old_email: EmailStr
    new_email_hint: str = Field(max_length=320)
    language: Language = "pl"


class LoginCodeRequested(Envelope):
    """R4: the one-time code that stands in for the captcha, to the account's verified address."""

    SCHEMA: ClassVar[str] = "auth.login-code-requested.v1"

    account_id: UUID
    login: str
    email: EmailStr
    code: str = Field(repr=False)
    expires_at: AwareDatetime
    language: Language = "pl"


class PasswordResetRequested(Envelope):
    """R3: "forgot password" by an emailed, single-use link."""

    SCHEMA: ClassVar[str] = "auth.password-reset-requested.v1"

    account_id: UUID
    login: str
    email: EmailStr
    token: str = Field(repr=False)
    expires_at: AwareDatetime
    language: Language = "pl"


class RegistrationRepeated(Envelope):
    """Someone proved this customer's identity at registration while the customer already has
    an account: the registration form answered as for a mismatch, the owner is told by email."""

    SCHEMA: ClassVar[str] = "auth.registration-repeated.v1"

    account_id: UUID
    login: str
    email: EmailStr
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


class SessionsEnded(Envelope):
    """Sessions of this account ended before their time (logout, block, password change...).

    Published straight after the change commits and before auth answers, so every gateway
    drops the account's cached sessions before anyone can use them again.
    """

    SCHEMA: ClassVar[str] = "auth.sessions-ended.v1"

    account_id: UUID
    reason: str = Field(max_length=40)
