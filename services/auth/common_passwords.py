"""The list of common and breached passwords (services/auth/data/common-passwords.txt), read once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

LIST = Path(__file__).parent / "data" / "common-passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    """Case-folded entries; lines starting with '#' are the file's note of its source."""
    lines = LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))
