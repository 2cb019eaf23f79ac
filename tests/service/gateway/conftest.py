"""The real gateway app over a fake RPC client: no broker, no services, no database.

``FakeRpc`` records every request the gateway sends and answers from what a test gave it: a
reply contract, a domain problem (``refusal``), a transport failure, or a function of the
request. ``gateway`` is an ``AsyncTestClient`` over ``create_app`` with that client and an
event queue that needs no broker (its ``deliver`` plays an event to the gateway).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from contracts import auth
from contracts.base import Contract, Problem
from contracts.maintenance import GET_MAINTENANCE, MaintenanceState
from contracts.rpc import Operation
from runtime.rpc_client import RpcProblem, RpcUnavailable
from runtime.settings import Settings
from services.gateway.app import create_app
from services.gateway.events import GatewayEvents
from services.gateway.protection import CSRF_HEADER, csrf_token_for
from services.gateway.sessions import SESSION_COOKIE, STAFF_SESSION_COOKIE

Rep = TypeVar("Rep", bound=Contract)
Answer = Contract | BaseException | Callable[[Any], Contract | BaseException]

CUSTOMER_TOKEN = "customer-session-token-0001"
STAFF_TOKEN = "staff-session-token-000001"
CUSTOMER = auth.SessionInfo(
    account_id=UUID("00000000-0000-4000-8000-000000000001"),
    login="jan.kowalski",
    customer_number="K000123",
)


def refusal(code: str, status: int = 422, detail: str = "Odmowa.", **fields: str) -> RpcProblem:
    """A service's domain problem, as the RPC client raises it."""
    return RpcProblem(
        Problem(code=code, status=status, detail=detail, detail_en=f"{code} (en)", fields=fields)
    )


def staff_member(role: auth.StaffRole = "care") -> auth.StaffInfo:
    return auth.StaffInfo(
        staff_id=UUID("00000000-0000-4000-8000-0000000000aa"),
        login=f"{role}.user",
        name="Anna Nowak",
        role=role,
    )


class FakeRpc:
    """Answers the gateway's calls as the services would, from canned answers, and records
    each request; an operation nobody answered is unreachable, as with no service running.

    Replies cross as JSON, as through the broker, so a reply the gateway's models cannot read
    fails here too."""

    def __init__(self) -> None:
        self.ready = True
        self.requests: list[tuple[Operation[Any, Any], Contract]] = []
        self._answers: dict[Operation[Any, Any], Answer] = {}

    def reset(self) -> None:
        self.ready = True
        self.requests.clear()
        self._answers.clear()

    def answer(self, operation: Operation[Any, Any], answer: Answer) -> None:
        self._answers[operation] = answer

    def sent(self, operation: Operation[Any, Any]) -> list[Any]:
        """The requests of ``operation`` the gateway sent, in order."""
        return [request for op, request in self.requests if op == operation]

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def call(
        self, operation: Operation[Any, Rep], request: Contract, *, timeout: float | None = None
    ) -> Rep:
        return operation.reply.model_validate_json(
            await self.call_raw(operation, request, timeout=timeout)
        )

    async def call_raw(
        self, operation: Operation[Any, Any], request: Contract, *, timeout: float | None = None
    ) -> bytes:
        assert isinstance(request, operation.request), (operation.name, type(request))
        self.requests.append((operation, request))
        answer = self._answers.get(operation)
        if answer is None:
            raise RpcUnavailable(f"no consumer queue {operation.queue}")
        if callable(answer) and not isinstance(answer, Contract | BaseException):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        return answer.model_dump_json().encode()


class QuietEvents(GatewayEvents):
    """The gateway's event queue without a broker: listening from start, events played by hand."""

    def __init__(self) -> None:
        super().__init__("amqp://unused")

    async def start(self) -> None:
        self._listening(True)

    async def stop(self) -> None:
        self._listening(False)

    def deliver(self, schema: str, event: Contract) -> None:
        self._handlers[schema](event.model_dump_json().encode())


SETTINGS = Settings(
    cookie_secure=False,
    session_cache_seconds=0,
    billing_cache_seconds=300,
    rate_limit_sensitive_per_minute=100_000,
    rate_limit_expensive_per_minute=100_000,
    rate_limit_general_per_minute=100_000,
)


@pytest.fixture(scope="session")
def _shared() -> tuple[FakeRpc, QuietEvents]:
    return FakeRpc(), QuietEvents()


@pytest.fixture(scope="session")
async def _app(_shared: tuple[FakeRpc, QuietEvents]) -> AsyncIterator[AsyncTestClient[Any]]:
    # One app for every test (building it costs about a second); each test starts it clean.
    fake, events = _shared
    fake.answer(GET_MAINTENANCE, MaintenanceState(on=False))
    app = create_app(SETTINGS, rpc_client=fake, events=events)
    async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def fake(_shared: tuple[FakeRpc, QuietEvents]) -> FakeRpc:
    """The gateway's RPC client, emptied: no answers, no requests."""
    rpc = _shared[0]
    rpc.reset()
    return rpc


@pytest.fixture
def events(_shared: tuple[FakeRpc, QuietEvents]) -> QuietEvents:
    return _shared[1]


@pytest.fixture
def gateway(_app: AsyncTestClient[Any], fake: FakeRpc) -> AsyncTestClient[Any]:
    """The real gateway over ``fake``, with nothing kept from an earlier test."""
    state = _app.app.state
    state.rpc.billing_cache.changed(None)
    state.maintenance.state = MaintenanceState(on=False)
    _app.cookies.clear()
    return _app


def as_customer(fake: FakeRpc, session: auth.SessionInfo = CUSTOMER) -> dict[str, str]:
    """Headers of a logged-in customer whose session auth resolves to ``session``."""
    fake.answer(auth.RESOLVE_SESSION, session)
    return {
        "cookie": f"{SESSION_COOKIE}={CUSTOMER_TOKEN}",
        CSRF_HEADER: csrf_token_for(CUSTOMER_TOKEN),
    }


def as_staff(fake: FakeRpc, role: auth.StaffRole = "care") -> dict[str, str]:
    """Headers of a logged-in staff member with ``role``."""
    fake.answer(auth.RESOLVE_STAFF_SESSION, staff_member(role))
    return {
        "cookie": f"{STAFF_SESSION_COOKIE}={STAFF_TOKEN}",
        CSRF_HEADER: csrf_token_for(STAFF_TOKEN),
    }
