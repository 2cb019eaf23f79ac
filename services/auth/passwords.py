"""argon2id hashing off the event loop (STYLE 7): hashing is deliberately slow."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from runtime.settings import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        # argon2-cffi releases the GIL while hashing, so threads do run in parallel.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="argon2")
        # Verified against when the login is unknown, so both answers take the same time (R4).
        self._dummy = self._hasher.hash("not-a-password-0")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._hasher.hash, password
        )

    async def verify(self, encoded: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(encoded or self._dummy, password) and encoded is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.get_running_loop().run_in_executor(self._pool, check)

    def needs_rehash(self, encoded: str) -> bool:
        return self._hasher.check_needs_rehash(encoded)

    async def rehashed(self, encoded: str, password: str) -> str | None:
        """After a successful login: a new hash when ``encoded`` was made with older
        parameters, else None."""
        return await self.hash(password) if self.needs_rehash(encoded) else None
