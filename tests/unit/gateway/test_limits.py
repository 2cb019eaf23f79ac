"""The gateway's rate limiter and language choice, without a server."""

from __future__ import annotations

from services.gateway.limits import Limit, SlidingWindowLimiter


def test_requests_within_the_limit_pass_and_the_next_waits() -> None:
    limiter = SlidingWindowLimiter(Limit(3, 60))
    assert [limiter.hit("a", 10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.hit("a", 10.0)
    assert 0 < wait <= 60


def test_clients_are_counted_apart() -> None:
    limiter = SlidingWindowLimiter(Limit(1, 60))
    assert limiter.hit("a", 1.0) == 0.0
    assert limiter.hit("b", 1.0) == 0.0
    assert limiter.hit("a", 2.0) > 0


def test_previous_window_weighs_less_as_time_passes() -> None:
    limiter = SlidingWindowLimiter(Limit(10, 60))
    for _ in range(10):
        assert limiter.hit("a", 59.0) == 0.0
    # Just after the window turns, the previous ten still count almost fully.
    assert limiter.hit("a", 61.0) > 0
    # Late in the next window most of them have slid out.
    assert limiter.hit("a", 115.0) == 0.0


def test_a_long_pause_forgets_everything() -> None:
    limiter = SlidingWindowLimiter(Limit(2, 60))
    limiter.hit("a", 0.0)
    limiter.hit("a", 0.0)
    assert limiter.hit("a", 500.0) == 0.0
