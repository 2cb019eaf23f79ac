"""Captcha images (and optional audio) drawn by the ``captcha`` package, off the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha


class CaptchaRenderer:
    """Draws the challenge the customer solves; the answer itself is chosen by the domain (R4)."""

    def __init__(self) -> None:
        self._image = ImageCaptcha(width=200, height=70)
        self._audio = AudioCaptcha()
        # Drawing takes tens of milliseconds of CPU: never on the event loop (STYLE 7).
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="captcha")

    def _draw(self, answer: str, audio: bool) -> tuple[bytes, bytes | None]:
        image = self._image.generate(answer, format="png").getvalue()
        # The package's voices read digits and letters in English; offered as an alternative.
        sound = bytes(self._audio.generate(answer)) if audio else None
        return image, sound

    async def render(self, answer: str, *, audio: bool = False) -> tuple[bytes, bytes | None]:
        """(PNG image, WAV audio or None) showing ``answer``."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._draw, answer, audio
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
