"""The spoken captcha (R4, WCAG 1.1.1): speech made afresh for every challenge, never a recording.

Each character is spoken by espeak-ng (Polish or English) with a voice, speed, pitch and
loudness drawn at random, then time-warped by a random factor, placed after a random pause,
and mixed with noise and quieter random letters and digits spoken by other random voices. No two
challenges share a waveform, so matching against known recordings of the symbols (the way the
captcha package's bundled voices were solved) finds nothing to match: tests/unit/auth/
test_captcha_audio.py measures it with such a solver.
"""

from __future__ import annotations

import io
import random
import subprocess
import wave
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

RATE = 16_000
ESPEAK = "espeak-ng"
ESPEAK_RATE = 22_050
# espeak-ng's voice variants that stay clearly audible (no whisper, no croak).
VARIANTS = (
    *(f"m{i}" for i in range(1, 9)),
    *(f"f{i}" for i in range(1, 6)),
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "iven",
    "iven2",
    "steph",
    "steph2",
    "edward",
    "john",
    "linda",
    "max",
    "paul",
    "robert",
    "quincy",
    "boris",
    "michel",
)


@dataclass(frozen=True)
class Voice:
    variant: str
    speed: int  # words a minute
    pitch: int  # 0-99
    amplitude: int  # 0-200
    warp: float  # resampling factor: tempo and pitch together


def random_voice(rng: random.Random) -> Voice:
    return Voice(
        variant=rng.choice(VARIANTS),
        speed=rng.randint(110, 190),
        pitch=rng.randint(20, 80),
        amplitude=rng.randint(80, 160),
        warp=rng.uniform(0.85, 1.15),
    )


def speak(text: str, language: str, voice: Voice | None = None) -> Samples:
    """``text`` spoken by espeak-ng at ``RATE``, silence trimmed; the default voice if None."""
    args = [ESPEAK, "-v", language if voice is None else f"{language}+{voice.variant}"]
    if voice is not None:
        args += ["-s", str(voice.speed), "-p", str(voice.pitch), "-a", str(voice.amplitude)]
    # A fixed program; the text is one character of the captcha alphabet, never user input.
    out = subprocess.run(  # noqa: S603
        [*args, "--stdout", text], capture_output=True, check=True, timeout=10
    ).stdout
    raw = np.frombuffer(out[44 : 44 + (len(out) - 44) // 2 * 2], dtype="<i2").astype(np.float32)
    warp = 1.0 if voice is None else voice.warp
    return trimmed(resampled(raw / 32768.0, ESPEAK_RATE * warp, RATE))


def resampled(x: Samples, rate_in: float, rate_out: int) -> Samples:
    count = max(1, int(len(x) * rate_out / rate_in))
    return np.interp(np.linspace(0, len(x) - 1, count), np.arange(len(x)), x).astype(np.float32)


def trimmed(x: Samples, threshold: float = 0.02) -> Samples:
    loud = np.flatnonzero(np.abs(x) > threshold * max(float(np.abs(x).max()), 1e-9))
    return x[loud[0] : loud[-1] + 1] if len(loud) else x


def challenge_audio(answer: str, language: str, alphabet: str, rng: random.Random) -> bytes:
    """A WAV (16 kHz, 16-bit mono) speaking ``answer`` one character at a time."""
    parts: list[Samples] = [silence(rng.uniform(0.4, 0.9))]
    for char in answer:
        spoken = speak(char, language, random_voice(rng)) * rng.uniform(0.7, 1.0)
        parts += [spoken, silence(rng.uniform(0.35, 0.9))]
    speech = np.concatenate(parts)
    level = float(np.sqrt(np.mean(speech**2)))
    track = speech + babble(len(speech), language, alphabet, rng) * level * rng.uniform(0.25, 0.4)
    track += noise(len(speech), rng) * level * rng.uniform(0.15, 0.3)
    return wav_bytes((track / max(float(np.abs(track).max()), 1e-9) * 0.9).astype(np.float32))


def silence(seconds: float) -> Samples:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def babble(length: int, language: str, alphabet: str, rng: random.Random) -> Samples:
    """Quieter random symbols in other random voices, anywhere in the track (normalised)."""
    out = np.zeros(length, dtype=np.float32)
    for _ in range(rng.randint(4, 7)):
        spoken = speak(rng.choice(alphabet), language, random_voice(rng))
        start = rng.randrange(0, max(1, length - len(spoken)))
        out[start : start + len(spoken)] += spoken[: length - start]
    rms = float(np.sqrt(np.mean(out**2)))
    return out / rms if rms > 0 else out


def noise(length: int, rng: random.Random) -> Samples:
    """Brownish noise (white noise, low-passed by a running mean of random width), normalised."""
    generator = np.random.default_rng(rng.getrandbits(64))
    white = generator.standard_normal(length + 64).astype(np.float32)
    width = rng.randint(2, 12)
    smooth = np.convolve(white, np.ones(width, dtype=np.float32) / width, mode="same")[:length]
    return (smooth / max(float(np.sqrt(np.mean(smooth**2))), 1e-9)).astype(np.float32)


def wav_bytes(x: Samples) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def wav_samples(data: bytes) -> Samples:
    with wave.open(io.BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
    return (np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)
