"""The gateway's handle on the services: one concurrent request/reply client per process, and
billing's read answers through the gateway's cache (services/gateway/billing_cache.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from litestar.datastructures import State

from contracts.base import Contract
from contracts.rpc import Operation
from runtime.rpc_client import RpcClient
from services.gateway.billing_cache import BillingCache

Rep = TypeVar("Rep", bound=Contract)
T = TypeVar("T")


def rpc_of(state: State) -> RpcClient:
    client: Any = state.rpc
    assert isinstance(client, RpcClient)
    return client


def _cache_of(state: State) -> BillingCache:
    cache: Any = state.billing_cache
    assert isinstance(cache, BillingCache)
    return cache


def _through(
    state: State,
    operation: Operation[Any, Any],
    query: Contract,
    load: Callable[[], Awaitable[T]],
    *tag: str,
) -> Awaitable[T]:
    customer: str = query.customer_number  # type: ignore[attr-defined]  # every billing read names one
    return _cache_of(state).through(customer, (operation.name, *tag, query.model_dump_json()), load)


async def billing_view(state: State, operation: Operation[Any, Rep], query: Contract) -> Rep:
    """Billing's answer to a read about the customer ``query`` names, kept while it holds."""
    return await _through(state, operation, query, lambda: rpc_of(state).call(operation, query))


async def billing_view_raw(state: State, operation: Operation[Any, Any], query: Contract) -> bytes:
    """As ``billing_view``, the reply's JSON as billing wrote it (to pass on unparsed)."""
    return await _through(
        state, operation, query, lambda: rpc_of(state).call_raw(operation, query), "raw"
    )
