"""What operations rely on: health endpoints, metrics, JSON logs with one correlation id across services."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.conftest import log_text
from tools.system import SERVICE_ORDER, System


@pytest.mark.parametrize("service", SERVICE_ORDER)
def test_every_service_is_live_ready_and_exports_metrics(system: System, service: str) -> None:
    base = system.url(service)
    assert httpx.get(f"{base}/health/live").status_code == 200
    ready = httpx.get(f"{base}/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    metrics = httpx.get(system.metrics_url(service))
    assert metrics.status_code == 200
    assert "# TYPE" in metrics.text
    if service != "gateway":
        # What an operator should see without it failing readiness: unrouted messages and
        # outbox rows stuck or parked, also as metrics.
        assert set(ready.json()["detail"]) == {
            "unrouted",
            "outbox_parked",
            "outbox_stuck",
            "outbox_oldest_unpublished_seconds",
        }
        for metric in (
            "ibok_unrouted_messages",
            "ibok_outbox_parked_rows",
            "ibok_outbox_stuck_rows",
            "ibok_outbox_published_total",
        ):
            assert f"\n{metric} " in metrics.text, metric


def test_one_requests_correlation_id_appears_in_gateway_and_auth_logs(
    system: System, gateway: str
) -> None:
    cid = uuid.uuid4().hex
    answer = httpx.post(
        f"{gateway}/api/v1/auth/login",
        json={"login": "nobody", "password": "Wrong1234"},
        headers={"X-Correlation-ID": cid},
    )
    assert answer.status_code == 401
    assert answer.headers["x-correlation-id"] == cid

    def lines_with_cid(service: str) -> list[dict[str, object]]:
        lines = [
            json.loads(line)
            for line in log_text(system, service).splitlines()
            if line.startswith("{")
        ]
        return [line for line in lines if line.get("correlation_id") == cid]

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (
        lines_with_cid("gateway") and lines_with_cid("auth")
    ):
        time.sleep(0.1)
    assert lines_with_cid("gateway"), "the gateway logged no line with the correlation id"
    assert any(line["event"] == "login.refused" for line in lines_with_cid("auth"))


def test_logs_are_json_lines(system: System) -> None:
    for service in SERVICE_ORDER:
        lines = [line for line in log_text(system, service).splitlines() if line.strip()]
        assert lines, f"{service} logged nothing"
        for line in lines:
            record = json.loads(line)
            assert "event" in record and "timestamp" in record and record["service"] == service
