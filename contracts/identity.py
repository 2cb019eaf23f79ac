"""The identity-check digest format the billing system sends instead of a PESEL or NIP.

This is part of the wire format (both sides must compute it the same way), which is why it
lives with the contracts: ``pbkdf2_sha256$<iterations>$<salt, urlsafe base64>$<digest, urlsafe
base64>`` over the number's digits. The billing system chooses the salt and the iteration count
per customer; IBOK only verifies, and never stores the number itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from typing import Literal

IdentityKind = Literal["pesel", "nip"]
_DIGITS = {"pesel": 11, "nip": 10}


def normalise_identity_number(kind: IdentityKind, number: str) -> str | None:
    """Digits only, of the right length for its kind; None when it cannot be such a number."""
    digits = re.sub(r"[\s-]", "", number)
    if not digits.isdigit() or len(digits) != _DIGITS[kind]:
        return None
    return digits


def make_identity_digest(
    number: str, *, iterations: int = 20_000, salt: bytes | None = None
) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", number.encode(), salt, iterations)
    return "$".join(
        (
            "pbkdf2_sha256",
            str(iterations),
            base64.urlsafe_b64encode(salt).decode(),
            base64.urlsafe_b64encode(digest).decode(),
        )
    )


def identity_digest_matches(encoded: str, number: str) -> bool:
    try:
        scheme, iterations, salt_b64, digest_b64 = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        salt = base64.urlsafe_b64decode(salt_b64)
        expected = base64.urlsafe_b64decode(digest_b64)
        rounds = int(iterations)
    except ValueError:
        return False
    if not 1_000 <= rounds <= 2_000_000:
        return False
    actual = hashlib.pbkdf2_hmac("sha256", number.encode(), salt, rounds)
    return hmac.compare_digest(actual, expected)
