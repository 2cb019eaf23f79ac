"""Maintenance mode (R6) across two gateway processes: customer routes 503 with Retry-After and the message;
staff and health routes keep working; the state survives a gateway restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import staff_client
from tools.system import System


def eventually(check: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


async def test_maintenance_holds_on_every_gateway_and_survives_a_restart(
    gateway: str, second_gateway: System, staff_logins: dict[str, tuple[str, str]]
) -> None:
    gateways = [gateway, second_gateway.url("gateway")]
    admin = await staff_client(gateway, *staff_logins["admin"])
    care = await staff_client(gateway, *staff_logins["care"])
    end = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    body = {
        "on": True,
        "message": "Przerwa techniczna.",
        "message_en": "Maintenance break.",
        "expected_end": end.isoformat(),
    }
    try:
        refused = await care.put("/api/v1/staff/maintenance", json=body)
        assert refused.status_code == 403, "only admins switch maintenance"

        switched = await admin.put("/api/v1/staff/maintenance", json=body)
        assert switched.status_code == 200, switched.text
        assert switched.json()["on"] is True

        def customer_routes_refused() -> bool:
            return all(httpx.get(f"{g}/api/v1/me").status_code == 503 for g in gateways)

        eventually(customer_routes_refused)
        for base in gateways:
            answer = httpx.get(f"{base}/api/v1/me")
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["code"] == "maintenance"
            assert answer.json()["detail"] == "Przerwa techniczna."
            assert 540 <= int(answer.headers["retry-after"]) <= 600
            english = httpx.get(f"{base}/api/v1/me", headers={"Accept-Language": "en"})
            assert english.json()["detail"] == "Maintenance break."
            assert (
                httpx.post(
                    f"{base}/api/v1/auth/login", json={"login": "x", "password": "y"}
                ).status_code
                == 503
            )
            assert httpx.get(f"{base}/health/ready").status_code == 200
        assert (await admin.get("/api/v1/staff/maintenance")).json()["on"] is True

        # A restarted gateway asks auth for the state before it serves anyone.
        second_gateway.stop_all()
        second_gateway.start("gateway")
        second_gateway.wait_ready(("gateway",), timeout=30)
        assert httpx.get(f"{second_gateway.url('gateway')}/api/v1/me").status_code == 503

        off = await admin.put("/api/v1/staff/maintenance", json={"on": False})
        assert off.status_code == 200
        eventually(lambda: all(httpx.get(f"{g}/api/v1/me").status_code == 401 for g in gateways))
    finally:
        await admin.put("/api/v1/staff/maintenance", json={"on": False})
        await admin.aclose()
        await care.aclose()
