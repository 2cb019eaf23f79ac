"""The monolith baseline: a plain Litestar app answering "24 newest invoices of a customer" straight
from asyncpg, with billing's own query, for the invoice benchmark to compare the gateway path with.

    IBOK_POSTGRES_DSN=... BASELINE_PORT=... .venv/bin/python -m bench.baseline_app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

from bench.common import serve_baseline
from services.billing import store

DSN = os.environ["IBOK_POSTGRES_DSN"]


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        DSN, min_size=4, max_size=10, server_settings={"search_path": "billing"}
    )
    try:
        yield
    finally:
        await app.state.pool.close()


@get("/invoices/{customer_number:str}")
async def invoices(customer_number: str, state: State, limit: int = 24) -> dict[str, Any]:
    rows = await store.invoice_page(
        state.pool,
        customer_number,
        status=None,
        issued_from=None,
        issued_to=None,
        after=None,
        limit=limit,
    )
    return {
        "items": [
            {
                "invoice_id": str(r["invoice_id"]),
                "number": r["number"],
                "contract_number": r["contract_number"],
                "issued_on": r["issued_on"].isoformat(),
                "due_date": r["due_date"].isoformat(),
                "period_from": r["period_from"].isoformat(),
                "period_to": r["period_to"].isoformat(),
                "gross_grosze": r["gross_grosze"],
                "status": r["status"],
            }
            for r in rows
        ],
        "data_as_of": rows[0]["data_as_of"].isoformat() if rows and rows[0]["data_as_of"] else None,
    }


app = Litestar(route_handlers=[invoices], lifespan=[lifespan])

if __name__ == "__main__":
    serve_baseline(app)
