"""argon2id hashing: parameters from settings, rehash on change, equal work for unknown logins (R3, R4)."""

from __future__ import annotations

import asyncio
import time

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
    """R4: a dummy hash is verified when the login is unknown, so the answer takes as long."""
    passwords = Passwords(FAST)
    encoded = await passwords.hash("Tajne2026")

    async def timed(stored: str | None) -> float:
        started = time.perf_counter()
        assert not await passwords.verify(stored, "Wrong2026")
        return time.perf_counter() - started

    # Interleaved, and the fastest of many: the least disturbed by other work on the machine.
    known: list[float] = []
    unknown: list[float] = []
    for _ in range(15):
        known.append(await timed(encoded))
        unknown.append(await timed(None))
    ratio = min(unknown) / min(known)
    print(
        f"verify: wrong password {min(known) * 1000:.1f} ms, unknown login "
        f"{min(unknown) * 1000:.1f} ms"
    )
    assert 0.5 < ratio < 2.0


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
