"""What staff look up on the billing side: customers by number or name."""

from __future__ import annotations

from contracts.billing import CustomerFound, CustomerSearch, CustomersFound
from services.billing import store
from services.billing.handlers import Billing


async def search_customers(b: Billing, query: CustomerSearch) -> CustomersFound:
    rows = await store.search_customers(b.rt.pool, query.q.strip(), query.limit)
    return CustomersFound(items=[CustomerFound(**dict(r)) for r in rows])
