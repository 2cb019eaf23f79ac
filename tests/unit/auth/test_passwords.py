"""argon2id hashing: parameters from settings, rehash on change, equal work for unknown logins (R3, R4)."""

from __future__ import annotations

import asyncio
from typing import Literal

from argon2 import PasswordHasher

from runtime.settings import Settings
from services.auth.passwords import Passwords

FAST = Settings(argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1)


async def test_hash_is_argon2id_with_the_configured_parameters_and_verifies() -> None:
    passwords = Passwords(FAST)
    encoded = await passwords.hash("Tajne2026")
    assert encoded.startswith("$argon2id$") and "m=8192,t=1,p=1" in encoded
    assert await passwords.verify(encoded, "Tajne2026")
    assert not await passwords.verify(encoded, "Tajne2027")


async def test_hash_made_with_other_parameters_needs_a_rehash() -> None:
    old = await Passwords(FAST).hash("Tajne2026")
    stronger = Passwords(Settings(argon2_time_cost=2, argon2_memory_kib=8192))
    assert stronger.needs_rehash(old)
    assert not Passwords(FAST).needs_rehash(old)


async def test_unknown_login_costs_as_much_hashing_as_a_wrong_password() -> None:
    """R4: an unknown login is verified against a dummy hash made with the configured
    parameters, so its answer costs one full argon2id verification, as a wrong password does.
    (Checked by what is verified, not by timing, which other work on the machine disturbs.)"""
    verified: list[str] = []

    class Recording(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verified.append(str(hash))
            return super().verify(hash, password)

    passwords = Passwords(FAST)
    passwords._hasher = Recording(
        time_cost=FAST.argon2_time_cost,
        memory_cost=FAST.argon2_memory_kib,
        parallelism=FAST.argon2_parallelism,
    )
    encoded = await passwords.hash("Tajne2026")
    assert not await passwords.verify(encoded, "Wrong2026")
    assert not await passwords.verify(None, "Wrong2026")
    assert not await passwords.verify(None, "not-a-password-0")  # the dummy's own text
    assert verified[0] == encoded and verified[1] == verified[2] != encoded
    dummy = verified[1]
    assert dummy.startswith("$argon2id$") and not passwords.needs_rehash(dummy)
    assert dummy.split("$")[3] == encoded.split("$")[3]  # m=, t=, p= the same


async def test_hashing_runs_off_the_event_loop() -> None:
    passwords = Passwords(Settings(argon2_time_cost=3, argon2_memory_kib=32768))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    await asyncio.gather(*(passwords.hash("Tajne2026") for _ in range(4)))
    ticker.cancel()
    assert ticks > 5
