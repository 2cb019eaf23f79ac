"""The second factor's rules without a database: RFC 6238 codes, replay, recovery codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from services.auth.mfa import domain

# RFC 6238 appendix B, SHA-1: the secret "12345678901234567890" at 59 s gives 94287082 (8
# digits); its last six digits are the 6-digit code.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_codes_follow_rfc_6238_test_vectors() -> None:
    at = datetime.fromtimestamp(59, UTC)
    assert domain.totp_code(RFC_SECRET, at) == "287082"
    at = datetime.fromtimestamp(1111111109, UTC)
    assert domain.totp_code(RFC_SECRET, at) == "081804"


def test_a_code_is_accepted_within_one_step_of_drift_and_not_beyond() -> None:
    secret = domain.new_totp_secret()
    now = datetime(2026, 12, 1, 12, 0, 10, tzinfo=UTC)
    current = domain.time_step(now)
    for offset in (-1, 0, 1):
        code = domain.totp_code(secret, now, offset)
        assert domain.matching_step(secret, code, now, 0) == current + offset
    for offset in (-3, 3):
        assert domain.matching_step(secret, domain.totp_code(secret, now, offset), now, 0) is None


def test_a_code_is_accepted_once_and_never_an_older_one_after_it() -> None:
    secret = domain.new_totp_secret()
    now = datetime(2026, 12, 1, 12, 0, 10, tzinfo=UTC)
    code = domain.totp_code(secret, now)
    step = domain.matching_step(secret, code, now, 0)
    assert step is not None
    assert domain.matching_step(secret, code, now, step) is None
    assert domain.matching_step(secret, domain.totp_code(secret, now, -1), now, step) is None
    later = now + timedelta(seconds=30)
    assert domain.matching_step(secret, domain.totp_code(secret, later), later, step) == step + 1


def test_malformed_codes_never_match() -> None:
    secret = domain.new_totp_secret()
    now = datetime.now(UTC)
    for code in ("", "12345", "1234567", "abcdef", "12 34 5"):
        assert domain.matching_step(secret, code, now, 0) is None
    spaced = domain.totp_code(secret, now)
    assert domain.matching_step(secret, f"{spaced[:3]} {spaced[3:]}", now, 0) is not None


def test_secret_has_160_bits_and_the_uri_names_issuer_and_login() -> None:
    secret = domain.new_totp_secret()
    assert len(secret) == 32  # base32: 5 bits a character
    uri = domain.otpauth_uri(secret, "admin")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret and parsed.issuer == "IBOK" and parsed.name == "admin"
    assert "<svg" in domain.qr_svg(uri)


def test_recovery_codes_are_ten_distinct_120_bit_codes_compared_loosely() -> None:
    codes = domain.new_recovery_codes()
    assert len(set(codes)) == 10
    assert len(domain.RECOVERY_ALPHABET) == 32 and domain.RECOVERY_LENGTH * 5 >= 112
    for code in codes:
        assert domain.looks_like_recovery_code(code)
        assert domain.recovery_digest(code) == domain.recovery_digest(
            code.upper().replace("-", " ")
        )
    assert domain.recovery_digest(codes[0]) != domain.recovery_digest(codes[1])
    assert not domain.looks_like_recovery_code("123456")
