"""Edge protection at the gateway: security headers, rate limits with 429 and Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import gateway_of_its_own
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tools.system import System


def test_api_answers_carry_the_security_headers(gateway: str) -> None:
    answer = httpx.get(f"{gateway}/api/v1/me")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in answer.headers  # plain http here


def test_every_answer_is_counted_by_route_template_and_status(gateway: str, system: System) -> None:
    answer = httpx.get(
        f"{gateway}/api/v1/invoices/{'0' * 8}", headers={"X-Correlation-ID": "abc-1"}
    )
    assert answer.status_code == 401 and answer.headers["x-correlation-id"] == "abc-1"
    metrics = httpx.get(system.metrics_url("gateway")).text
    route = (
        'ibok_gateway_requests_total{method="GET",path="/api/v1/invoices/{invoice_ref}",'
        'status_code="401"}'
    )
    assert route in metrics  # the template, not the path asked for
    assert 'path="/api/v1/invoices/00000000"' not in metrics
    assert "ibok_gateway_request_duration_seconds_bucket" in metrics


def test_hsts_is_sent_when_the_proxy_says_the_request_came_over_https(gateway: str) -> None:
    answer = httpx.get(f"{gateway}/health/live", headers={"X-Forwarded-Proto": "https"})
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_no_cors_headers_for_a_foreign_origin(gateway: str) -> None:
    answer = httpx.options(
        f"{gateway}/api/v1/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in answer.headers


@pytest.fixture
def strict_gateway(
    infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A gateway of its own with low limits (it needs no backend: limits apply before any call)."""
    with gateway_of_its_own(
        infra,
        mail_sink,
        tmp_path_factory.mktemp("strict-logs"),
        IBOK_RATE_LIMIT_SENSITIVE_PER_MINUTE="5",
        IBOK_RATE_LIMIT_EXPENSIVE_PER_MINUTE="3",
    ) as system:
        yield system.url("gateway")


def test_login_attempts_beyond_the_limit_get_429_with_retry_after(strict_gateway: str) -> None:
    statuses = []
    last = None
    for _ in range(8):
        last = httpx.post(
            f"{strict_gateway}/api/v1/auth/login", json={"login": "x", "password": "Wrong1234"}
        )
        statuses.append(last.status_code)
    assert 429 not in statuses[:5]
    assert statuses[5:] == [429, 429, 429]
    assert last is not None
    assert int(last.headers["retry-after"]) >= 1
    assert last.headers["content-type"] == "application/problem+json"
    assert last.json()["code"] == "too_many_requests"
    # Other routes are not affected by the login limit.
    assert httpx.get(f"{strict_gateway}/api/v1/me").status_code == 401
