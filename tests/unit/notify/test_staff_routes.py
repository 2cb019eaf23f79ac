"""The staff routes for terms and announcements, wired the way the lead will wire them, on a fake RPC."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.testing import TestClient

from contracts import auth, notify
from contracts.rpc import Operation
from runtime.rpc_client import RpcClient
from services.gateway.controllers.staff_notify import StaffNotifyController
from services.gateway.problems import EXCEPTION_HANDLERS

JOB = uuid.uuid4()


class RecordingRpc(RpcClient):
    def __init__(self) -> None:
        super().__init__("amqp://unused")
        self.calls: list[tuple[str, Any]] = []

    async def call(self, operation: Operation[Any, Any], request: Any, **_: Any) -> Any:
        self.calls.append((operation.name, request))
        if operation is notify.PUBLISH_TERMS:
            return notify.TermsPublished(
                version=2, effective_on=request.effective_on, fanout_job_id=JOB
            )
        if operation is notify.SEND_ANNOUNCEMENT:
            return notify.AnnouncementSent(announcement_id=uuid.uuid4(), fanout_job_id=JOB)
        now = datetime.now(UTC)
        return notify.FanoutStatus(
            job_id=JOB,
            kind="terms",
            status="running",
            total=10,
            done=4,
            emails=4,
            created_at=now,
            updated_at=now,
        )


def client_as(kind: str) -> tuple[TestClient[Litestar], RecordingRpc]:
    rpc = RecordingRpc()

    async def session() -> auth.SessionInfo:
        return auth.SessionInfo(
            account_id=uuid.uuid4(), login="opiekun", customer_number="", kind=kind
        )

    app = Litestar(
        route_handlers=[
            Router(
                path="/api/v1",
                route_handlers=[StaffNotifyController],
                dependencies={"session": Provide(session)},
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.rpc = rpc
    return TestClient(app), rpc


def test_staff_publish_terms_with_their_login_and_follow_the_fanout() -> None:
    client, rpc = client_as("staff")
    with client:
        answer = client.post(
            "/api/v1/staff/terms", json={"text": "§ 1 ...", "effective_on": "2030-01-01"}
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["fanout_job_id"] == str(JOB)
        progress = client.get(f"/api/v1/staff/fanouts/{JOB}")
        assert progress.status_code == 200 and progress.json()["done"] == 4
    name, request = rpc.calls[0]
    assert name == "publish-terms" and request.published_by == "opiekun"
    assert request.effective_on == date(2030, 1, 1)


def test_staff_send_an_announcement() -> None:
    client, rpc = client_as("staff")
    with client:
        answer = client.post(
            "/api/v1/staff/announcements", json={"subject": "Taryfa", "body": "Od lipca ..."}
        )
    assert answer.status_code == 202, answer.text
    assert rpc.calls[0][1].sent_by == "opiekun"


def test_a_customer_session_cannot_use_the_staff_routes() -> None:
    client, rpc = client_as("customer")
    with client:
        terms = client.post("/api/v1/staff/terms", json={"text": "x", "effective_on": "2030-01-01"})
        announcement = client.post(
            "/api/v1/staff/announcements", json={"subject": "x", "body": "y"}
        )
        progress = client.get(f"/api/v1/staff/fanouts/{JOB}")
    assert terms.status_code == announcement.status_code == progress.status_code == 403
    assert terms.json()["code"] == "forbidden"
    assert rpc.calls == []


def test_a_subject_with_a_line_break_is_refused_before_reaching_notify() -> None:
    client, rpc = client_as("staff")
    with client:
        answer = client.post(
            "/api/v1/staff/announcements",
            json={"subject": "Taryfa\r\nBcc: x@example.com", "body": "y"},
        )
    assert answer.status_code == 400
    assert rpc.calls == []
