"""What staff look up on the billing side: customers by number or name."""

from __future__ import annotations

from contracts.billing import CustomerFound, CustomerSearch, CustomersFound
from runtime.service import ServiceRuntime
from services.billing import store


async def search_customers(rt: ServiceRuntime, query: CustomerSearch) -> CustomersFound:
    rows = await store.search_customers(rt.pool, query.q.strip(), query.limit)
    return CustomersFound(items=[CustomerFound(**dict(r)) for r in rows])
