"""One short function per message the billing service receives."""

from __future__ import annotations

import json

from contracts.billing import RegistrationEligibility, RegistrationEligibilityQuery
from contracts.billing_system import ContractUpserted, CustomerUpserted, SyncCompleted
from runtime.clock import business_today
from runtime.logs import get_logger
from runtime.messaging import first_delivery
from runtime.service import ServiceRuntime
from services.billing import domain, store

log = get_logger(__name__)


async def upsert_customer(rt: ServiceRuntime, msg: CustomerUpserted) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            await store.upsert_customer(conn, msg)


async def upsert_contract(rt: ServiceRuntime, msg: ContractUpserted) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            await store.upsert_contract(conn, msg)


async def complete_sync(rt: ServiceRuntime, msg: SyncCompleted) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        if await first_delivery(conn, msg):
            await store.record_sync(conn, msg.as_of)
    log.info("billing.sync_completed", as_of=msg.as_of.isoformat())


async def check_registration(
    rt: ServiceRuntime, query: RegistrationEligibilityQuery
) -> RegistrationEligibility:
    """R1: only the holder of a current contract, proven by PESEL or NIP, may register."""
    row = await store.customer_with_contract(rt.pool, query.customer_number, query.contract_number)
    if row is None:
        return RegistrationEligibility(eligible=False)
    term = domain.ContractTerm(row["status"], row["start_date"], row["end_date"])
    checks = json.loads(row["identity_checks"])
    identity_ok = domain.identity_matches(checks, query.identity_kind, query.identity_number)
    if not (identity_ok and domain.contract_is_current(term, business_today())):
        return RegistrationEligibility(eligible=False)
    return RegistrationEligibility(eligible=True, customer_name=row["name"])
