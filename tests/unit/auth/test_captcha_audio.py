"""The spoken captcha against a script: a solver that matches known recordings of each symbol
by normalised cross-correlation, the way the captcha package's bundled voices were solved.

The solver is first shown to work: on challenges built from fixed recordings (each symbol
always the same waveform) it reads nearly every character. On IBOK's challenges, whose speech
is made afresh each time, its success must be about chance (1 in 24 a character).
"""

from __future__ import annotations

import random
import shutil

import numpy as np

from services.auth.domain import CAPTCHA_ALPHABET, CAPTCHA_LENGTH
from services.auth.guard.captcha_audio import (
    RATE,
    Samples,
    challenge_audio,
    silence,
    speak,
    wav_bytes,
    wav_samples,
)

CHALLENGES = 12


def fft_correlation(signal: Samples, template: Samples) -> Samples:
    """Normalised cross-correlation of ``template`` at every offset of ``signal`` (-1..1)."""
    n = 1 << int(np.ceil(np.log2(len(signal) + len(template))))
    raw = np.fft.irfft(np.fft.rfft(signal, n) * np.conj(np.fft.rfft(template, n)), n)
    raw = raw[: len(signal) - len(template) + 1]
    energy = np.cumsum(np.concatenate([[0.0], signal.astype(np.float64) ** 2]))
    window = np.sqrt(np.maximum(energy[len(template) :] - energy[: -len(template)], 1e-12))
    return (raw / (window * np.linalg.norm(template))).astype(np.float32)


def solve(audio: Samples, library: dict[str, list[Samples]]) -> str:
    """The best-matching symbols at non-overlapping places, read left to right."""
    candidates = []
    for symbol, templates in library.items():
        for template in templates:
            if len(template) >= len(audio):
                continue
            scores = fft_correlation(audio, template)
            step = len(template) // 2
            for start in range(0, len(scores), step):
                best = start + int(np.argmax(scores[start : start + step]))
                candidates.append((float(scores[best]), best, len(template), symbol))
    picked: list[tuple[int, int, str]] = []
    for score, at, length, symbol in sorted(candidates, reverse=True):
        del score
        if all(at + length <= p or p + n <= at for p, n, _ in picked):
            picked.append((at, length, symbol))
        if len(picked) == CAPTCHA_LENGTH:
            break
    return "".join(symbol for _, _, symbol in sorted(picked))


def default_library(language: str) -> dict[str, list[Samples]]:
    """What an attacker records first: espeak-ng's default voice saying each symbol."""
    return {symbol: [speak(symbol, language)] for symbol in CAPTCHA_ALPHABET}


def segments(audio: Samples, count: int) -> list[Samples]:
    """The ``count`` loudest stretches of a track, in order (a previous challenge cut up)."""
    frame = RATE // 50
    energy = np.sqrt(np.convolve(audio**2, np.ones(frame) / frame, mode="same"))
    loud = energy > 0.35 * float(energy.max())
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))
    bounds = list(zip(edges[::2], edges[1::2], strict=False))
    longest = sorted(sorted(bounds, key=lambda b: b[0] - b[1])[:count])
    return [audio[a:b] for a, b in longest if b - a > frame]


def fixed_recordings_challenge(answer: str, library: dict[str, list[Samples]]) -> Samples:
    """A challenge as the old audio captcha made it: the same recording of each symbol."""
    gap = silence(0.5)
    return np.concatenate([gap, *[np.concatenate([library[c][0], gap]) for c in answer]])


def score(guesses: list[str], answers: list[str]) -> tuple[float, int]:
    chars = sum(
        g == a
        for guess, answer in zip(guesses, answers, strict=True)
        for g, a in zip(guess, answer, strict=False)
    )
    return chars / (len(answers) * CAPTCHA_LENGTH), sum(
        g == a for g, a in zip(guesses, answers, strict=True)
    )


def answers_of(rng: random.Random) -> list[str]:
    return [
        "".join(rng.choice(CAPTCHA_ALPHABET) for _ in range(CAPTCHA_LENGTH))
        for _ in range(CHALLENGES)
    ]


def test_the_solver_reads_challenges_built_from_fixed_recordings() -> None:
    assert shutil.which("espeak-ng"), "espeak-ng is missing (make install)"
    library = default_library("pl")
    rng = random.Random(7)
    answers = answers_of(rng)
    guesses = [solve(fixed_recordings_challenge(a, library), library) for a in answers]
    per_char, whole = score(guesses, answers)
    print(f"fixed recordings: {per_char:.0%} of characters, {whole}/{len(answers)} whole answers")
    assert per_char >= 0.9 and whole >= len(answers) * 0.7


def test_the_solver_does_no_better_than_chance_on_ibok_challenges() -> None:
    """Templates: espeak-ng's default voice per symbol, plus the cut-up pieces of a previous
    challenge whose answer the attacker knows."""
    rng = random.Random(11)
    library = default_library("pl")
    previous_answer = "".join(rng.choice(CAPTCHA_ALPHABET) for _ in range(CAPTCHA_LENGTH))
    previous = wav_samples(challenge_audio(previous_answer, "pl", CAPTCHA_ALPHABET, rng))
    for symbol, piece in zip(previous_answer, segments(previous, CAPTCHA_LENGTH), strict=False):
        library[symbol].append(piece)
    answers = answers_of(rng)
    live = [wav_samples(challenge_audio(a, "pl", CAPTCHA_ALPHABET, rng)) for a in answers]
    guesses = [solve(audio, library) for audio in live]
    per_char, whole = score(guesses, answers)
    chance = 1 / len(CAPTCHA_ALPHABET)
    print(
        f"IBOK challenges: {per_char:.0%} of characters (chance {chance:.0%}),"
        f" {whole}/{len(answers)} whole answers"
    )
    assert whole == 0
    assert per_char <= 3 * chance


def test_two_challenges_with_the_same_answer_share_no_waveform() -> None:
    rng = random.Random(3)
    one, two = (wav_samples(challenge_audio("K7AF3", "pl", CAPTCHA_ALPHABET, rng)) for _ in "12")
    n = min(len(one), len(two))
    assert abs(float(np.corrcoef(one[:n], two[:n])[0, 1])) < 0.2
    assert wav_bytes(one)[:4] == b"RIFF"
    english = wav_samples(challenge_audio("K7AF3", "en", CAPTCHA_ALPHABET, rng))
    assert len(english) > RATE  # spoken, more than a second
