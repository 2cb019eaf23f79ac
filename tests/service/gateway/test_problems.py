"""Every entry of the gateway's problem table (services/gateway/problems.py), through the real
app: what a service or the transport raises becomes one RFC 9457 answer, in Polish or English."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.exceptions import HTTPException, ValidationException
from litestar.testing import AsyncTestClient
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from contracts import readings
from runtime.rpc_client import RpcTimeout, RpcUnavailable
from services.gateway.problems import EXCEPTION_HANDLERS, PROBLEM_JSON, TYPE_BASE
from tests.service.gateway.conftest import FakeRpc, as_customer, refusal
from tests.service.gateway.samples import reading_view


class _Strict(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    try:
        _Strict(n="x")  # type: ignore[arg-type]
    except ValidationError as exc:
        return exc
    raise AssertionError("the model accepted a string")


# What the fake raises when the gateway asks for the meters, and the answer the client gets.
RAISED: list[tuple[str, BaseException, int, str]] = [
    ("domain refusal", refusal("meter_unknown", 422), 422, "meter_unknown"),
    ("domain not found", refusal("not_found", 404), 404, "not_found"),
    ("domain conflict", refusal("already_settled", 409), 409, "already_settled"),
    ("service unavailable problem", refusal("busy", 503), 503, "busy"),
    ("timeout", RpcTimeout("ibok.readings.rpc.meters.v1"), 504, "upstream_timeout"),
    ("unreachable", RpcUnavailable("broker unreachable"), 503, "service_unavailable"),
    ("contract refusal", _validation_error(), 422, "invalid_request"),
    ("unserialisable", PydanticSerializationError("bad"), 422, "invalid_request"),
    (
        "unencodable text",
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate"),
        422,
        "invalid_request",
    ),
    (
        "request validation",
        ValidationException(extra=[{"key": "limit", "message": "too big"}]),
        400,
        "invalid_request",
    ),
    ("http 401", HTTPException(status_code=401), 401, "unauthenticated"),
    ("http 403", HTTPException(status_code=403), 403, "forbidden"),
    ("http 404", HTTPException(status_code=404), 404, "not_found"),
    ("http 405", HTTPException(status_code=405), 405, "method_not_allowed"),
    ("http 413", HTTPException(status_code=413), 413, "request_too_large"),
    ("http 429", HTTPException(status_code=429), 429, "too_many_requests"),
    ("http other", HTTPException(status_code=418, detail="teapot"), 418, "http_error"),
    ("anything else", RuntimeError("boom"), 500, "internal_error"),
]


@pytest.mark.parametrize(
    ("raised", "status", "code"), [r[1:] for r in RAISED], ids=[r[0] for r in RAISED]
)
async def test_what_the_client_raises_becomes_one_problem(
    gateway: AsyncTestClient[Any], fake: FakeRpc, raised: BaseException, status: int, code: str
) -> None:
    headers = as_customer(fake)
    fake.answer(readings.METERS, raised)
    response = await gateway.get("/api/v1/meters", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (status, code, TYPE_BASE + code)
    assert body["detail"]
    assert ("retry-after" in response.headers) is (status == 503)


def test_every_entry_of_the_table_is_exercised() -> None:
    """A handler added to the table without a case above fails here."""
    handled_by = {next(k for k in type(r[1]).__mro__ if k in EXCEPTION_HANDLERS) for r in RAISED}
    assert handled_by == set(EXCEPTION_HANDLERS)


async def test_a_refusal_keeps_its_fields_and_speaks_the_clients_language(
    gateway: AsyncTestClient[Any], fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(
        readings.SUBMIT_READING,
        refusal("below_previous", 422, "Stan niższy niż poprzedni.", value="za mało"),
    )
    reading = {"serial": "WM0000011", "value": "1.000"}
    polish = await gateway.post("/api/v1/readings", json=reading, headers=headers)
    english = await gateway.post(
        "/api/v1/readings", json=reading, headers={**headers, "accept-language": "en-GB,en;q=0.9"}
    )
    assert polish.status_code == english.status_code == 422
    assert polish.json()["code"] == english.json()["code"] == "below_previous"
    assert polish.json()["detail"] == "Stan niższy niż poprzedni."
    assert english.json()["detail"] == "below_previous (en)"
    assert polish.json()["fields"] == {"value": "za mało"}
    assert len(fake.sent(readings.SUBMIT_READING)) == 2


async def test_the_gateways_own_refusals_are_problems_and_reach_no_service(
    gateway: AsyncTestClient[Any], fake: FakeRpc
) -> None:
    headers = as_customer(fake)
    fake.answer(
        readings.SUBMIT_READING,
        readings.ReadingAccepted(reading=reading_view(), message="ok", message_en="ok"),
    )
    bad_body = await gateway.post("/api/v1/readings", json={"serial": ""}, headers=headers)
    no_route = await gateway.get("/api/v1/nowhere", headers=headers)
    wrong_method = await gateway.delete("/api/v1/meters", headers=headers)
    too_large = await gateway.post(
        "/api/v1/readings", content=b"{" + b" " * 70_000 + b"}", headers=headers
    )
    assert [
        (r.status_code, r.json()["code"]) for r in (bad_body, no_route, wrong_method, too_large)
    ] == [
        (400, "invalid_request"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "request_too_large"),
    ]
    assert "serial" in " ".join(bad_body.json()["fields"])
    assert fake.sent(readings.SUBMIT_READING) == []
