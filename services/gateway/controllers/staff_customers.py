"""Staff look customers up: billing's data and the IBOK account's state, side by side."""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Controller, get
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from pydantic import ValidationError

from contracts import auth, billing
from services.gateway.rpc import Rpc
from services.gateway.schemas.staff_customers import (
    AccountState,
    CustomerHit,
    CustomerHits,
    StaffCustomerView,
)
from services.gateway.sessions import any_staff, current_staff


def account_state(account: auth.CustomerAccount | None) -> AccountState:
    if account is None:
        return AccountState(status="none")
    return AccountState(
        status=account.status,
        login=account.login,
        blocked_until=account.blocked_until,
        email_verified=account.email_verified,
    )


class StaffCustomersController(Controller):
    """Roles ``care`` and ``admin``."""

    path = "/staff/customers"
    tags = ["staff"]
    guards = [any_staff]
    dependencies = {"staff": Provide(current_staff)}

    @get("", summary="Find customers by number (prefix) or name (any part)")
    async def search(
        self,
        rpc: Rpc,
        staff: auth.StaffInfo,
        q: Annotated[str, Parameter(min_length=2, max_length=100)],
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> CustomerHits:
        found = await rpc.call(billing.SEARCH_CUSTOMERS, billing.CustomerSearch(q=q, limit=limit))
        numbers = [c.customer_number for c in found.items]
        accounts = (
            await rpc.call(
                auth.ACCOUNTS_OF_CUSTOMERS, auth.AccountsOfCustomersQuery(customer_numbers=numbers)
            )
            if numbers
            else auth.AccountsOfCustomers(accounts=[])
        )
        by_number = {a.customer_number: a for a in accounts.accounts}
        return CustomerHits(
            items=[
                CustomerHit(
                    **c.model_dump(), account=account_state(by_number.get(c.customer_number))
                )
                for c in found.items
            ]
        )

    @get("/{number:str}", summary="A customer: contracts, balance and the IBOK account's state")
    async def customer(self, rpc: Rpc, staff: auth.StaffInfo, number: str) -> StaffCustomerView:
        try:
            scope = billing.CustomerScope(customer_number=number)
        except ValidationError as exc:
            raise NotFoundException("Nie ma takiego klienta.") from exc
        overview, accounts = await asyncio.gather(
            rpc.call(billing.CUSTOMER_OVERVIEW, scope),
            rpc.call(
                auth.ACCOUNTS_OF_CUSTOMERS, auth.AccountsOfCustomersQuery(customer_numbers=[number])
            ),
        )
        return StaffCustomerView(
            **overview.model_dump(exclude={"contracts"}),
            contracts=overview.contracts,
            account=account_state(accounts.accounts[0] if accounts.accounts else None),
        )
