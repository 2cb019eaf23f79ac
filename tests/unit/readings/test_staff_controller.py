"""The staff controller for flagged readings, mounted as the staff router will mount it.

The controller is not registered in the gateway yet (staff sessions come with staff login);
this checks it serves and maps answers once a ``staff_session`` dependency is provided.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.testing import TestClient

from contracts import auth, readings
from contracts.base import Contract, Problem
from contracts.rpc import Operation
from runtime.rpc_client import RpcClient, RpcProblem
from services.gateway.controllers.staff_readings import StaffReadingsController
from services.gateway.problems import EXCEPTION_HANDLERS

# The gateway's controllers share Litestar 2's inferred parameter style; its 3.0 notices are noise.
pytestmark = pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")

READING = readings.FlaggedReadingView(
    reading_id=uuid.UUID("0b7c2d1e-7f00-4a8e-9d64-5f3e8a9b1c2d"),
    customer_number="K000020",
    serial="WM0000201",
    value=Decimal("180.001"),
    read_on=date(2026, 3, 15),
    revision=1,
    status="pending_review",
    previous_value=Decimal("60.000"),
    previous_read_on=date(2026, 2, 3),
    daily_average_m3=Decimal("1.000"),
    submitted_at=datetime(2026, 3, 15, 9, 30, tzinfo=UTC),
)


class ReadingsStandIn(RpcClient):
    """Answers as the readings service would, and remembers what it was asked."""

    def __init__(self) -> None:
        super().__init__("amqp://unused")
        self.asked: list[Contract] = []

    async def call(
        self, operation: Operation[Any, Any], request: Contract, *, timeout: float | None = None
    ) -> Any:
        self.asked.append(request)
        if operation is readings.FLAGGED_READINGS:
            return readings.FlaggedReadingPage(items=[READING], next_cursor="abc")
        assert isinstance(request, readings.ReviewReading)
        if request.decision == "accepted":
            raise RpcProblem(
                Problem(code="reading_already_reviewed", status=409, detail="Już sprawdzony.")
            )
        return READING.model_copy(
            update={
                "status": "rejected",
                "review_reason": request.reason,
                "reviewed_by": request.reviewer,
            }
        )


def staff_app(stand_in: ReadingsStandIn) -> Litestar:
    async def staff_session() -> auth.SessionInfo:
        return auth.SessionInfo(
            account_id=uuid.uuid4(), login="care1", customer_number="", kind="staff"
        )

    app = Litestar(
        route_handlers=[
            Router(
                path="/api/v1",
                route_handlers=[StaffReadingsController],
                dependencies={"staff_session": Provide(staff_session)},
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.rpc = stand_in
    return app


def test_flagged_list_and_review_go_to_the_readings_service_as_the_staff_member() -> None:
    stand_in = ReadingsStandIn()
    with TestClient(staff_app(stand_in)) as client:
        listed = client.get("/api/v1/staff/readings/flagged", params={"limit": 5})
        assert listed.status_code == 200, listed.text
        assert listed.json()["next_cursor"] == "abc"
        item = listed.json()["items"][0]
        assert (item["value"], item["previous_value"], item["daily_average_m3"]) == (
            "180.001",
            "60.000",
            "1.000",
        )
        assert stand_in.asked[0] == readings.FlaggedReadingsQuery(limit=5)

        reviewed = client.post(
            f"/api/v1/staff/readings/{READING.reading_id}/review",
            json={"decision": "rejected", "reason": "Zdjęcie pokazuje 118 m³."},
        )
        assert reviewed.status_code == 200, reviewed.text
        assert reviewed.json()["status"] == "rejected"
        request = stand_in.asked[1]
        assert isinstance(request, readings.ReviewReading)
        assert (request.reviewer, request.reason) == ("care1", "Zdjęcie pokazuje 118 m³.")

        again = client.post(
            f"/api/v1/staff/readings/{READING.reading_id}/review", json={"decision": "accepted"}
        )
        assert again.status_code == 409
        assert again.json()["code"] == "reading_already_reviewed"
        bad = client.post(
            f"/api/v1/staff/readings/{READING.reading_id}/review", json={"decision": "maybe"}
        )
        assert bad.status_code == 400
