"""Captcha images drawn by the ``captcha`` package and spoken challenges made by
captcha_audio.py, off the event loop."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

from captcha.image import ImageCaptcha

from services.auth.domain import CAPTCHA_ALPHABET
from services.auth.guard.captcha_audio import challenge_audio


class CaptchaRenderer:
    """Draws the challenge the customer solves; the answer itself is chosen by the domain (R4)."""

    def __init__(self) -> None:
        self._image = ImageCaptcha(width=200, height=70)
        # Audio is random in every respect (voices, timing, noise): never reproducible.
        self._random = random.SystemRandom()
        # Drawing takes tens of milliseconds of CPU: never on the event loop (STYLE 7).
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="captcha")

    def _draw(self, answer: str, audio: bool, language: str) -> tuple[bytes, bytes | None]:
        image = self._image.generate(answer, format="png").getvalue()
        sound = challenge_audio(answer, language, CAPTCHA_ALPHABET, self._random) if audio else None
        return image, sound

    async def render(
        self, answer: str, *, audio: bool = False, language: str = "pl"
    ) -> tuple[bytes, bytes | None]:
        """(PNG image, WAV audio in ``language`` or None) showing ``answer``."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._draw, answer, audio, language
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
