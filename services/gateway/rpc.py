"""The gateway's handle on the services, injected into every handler as the dependency ``rpc``:
one concurrent request/reply client per process, and billing's read answers through the
gateway's cache (services/gateway/billing_cache.py). ``create_app`` takes the client, so a test
gives the real gateway a fake one (tests/service/gateway/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from contracts.base import Contract
from contracts.rpc import Operation
from services.gateway.billing_cache import BillingCache

Rep = TypeVar("Rep", bound=Contract)
T = TypeVar("T")


class RpcCaller(Protocol):
    """What the gateway asks of ``runtime.rpc_client.RpcClient``: a reply, validated or as its
    JSON, or RpcProblem, RpcTimeout or RpcUnavailable."""

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def call(
        self, operation: Operation[Any, Rep], request: Contract, *, timeout: float | None = None
    ) -> Rep: ...

    async def call_raw(
        self, operation: Operation[Any, Any], request: Contract, *, timeout: float | None = None
    ) -> bytes: ...


class Rpc:
    """The services as a handler sees them: any operation, and billing's reads about one
    customer kept in the billing cache while they hold."""

    def __init__(self, client: RpcCaller, billing_cache: BillingCache) -> None:
        self.client = client
        self.billing_cache = billing_cache

    @property
    def ready(self) -> bool:
        return self.client.ready

    def call(
        self, operation: Operation[Any, Rep], request: Contract, *, timeout: float | None = None
    ) -> Awaitable[Rep]:
        return self.client.call(operation, request, timeout=timeout)

    def billing_view(self, operation: Operation[Any, Rep], query: Contract) -> Awaitable[Rep]:
        """Billing's answer to a read about the customer ``query`` names, kept while it holds."""
        return self._through(operation, query, lambda: self.client.call(operation, query))

    def billing_view_raw(self, operation: Operation[Any, Any], query: Contract) -> Awaitable[bytes]:
        """As ``billing_view``, the reply's JSON as billing wrote it (to pass on unparsed)."""
        return self._through(
            operation, query, lambda: self.client.call_raw(operation, query), "raw"
        )

    def _through(
        self,
        operation: Operation[Any, Any],
        query: Contract,
        load: Callable[[], Awaitable[T]],
        *tag: str,
    ) -> Awaitable[T]:
        customer: str = query.customer_number  # type: ignore[attr-defined]  # every billing read names one
        key = (operation.name, *tag, query.model_dump_json())
        return self.billing_cache.through(customer, key, load)
