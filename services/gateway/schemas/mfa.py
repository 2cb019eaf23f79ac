"""Request and response bodies of the second factor: the login's second step and enrolment."""

from __future__ import annotations

from pydantic import Field

from services.gateway.schemas.common import Schema


class MfaCompleteRequest(Schema):
    challenge: str = Field(
        min_length=20, max_length=100, description="From the login's `mfa_required` answer"
    )
    code: str = Field(
        min_length=1,
        max_length=40,
        description="A 6-digit code from the authenticator app, or an unused recovery code",
        examples=["123456"],
    )


class MfaStatusOut(Schema):
    totp: bool
    recovery_codes_left: int


class TotpEnrolmentOut(Schema):
    """Shown once: add the key to an authenticator app, then confirm with its first code."""

    secret: str = Field(description="The base32 key, to type in by hand")
    otpauth_uri: str = Field(description="The otpauth:// URI the QR code holds")
    qr_svg: str = Field(description="The QR code as an SVG document")


class MfaCodeRequest(Schema):
    code: str = Field(min_length=1, max_length=40, examples=["123456"])


class RecoveryCodesOut(Schema):
    """Shown once; each code works once, in place of an app code."""

    codes: list[str]


class MfaRemoveRequest(Schema):
    password: str = Field(min_length=1, max_length=128)
    code: str = Field(min_length=1, max_length=40)
