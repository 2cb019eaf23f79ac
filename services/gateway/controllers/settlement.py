"""The customer's settlement: balance, what is due and when, what is overdue (R7.4, R9)."""

from __future__ import annotations

from litestar import Controller, get

from contracts import auth, billing
from services.gateway.rpc import Rpc
from services.gateway.schemas.billing import SettlementOut


class SettlementController(Controller):
    path = "/settlement"
    tags = ["settlement"]

    @get("", summary="Balance, due and overdue invoices, recent charges and payments (R7.4)")
    async def settlement(self, rpc: Rpc, session: auth.SessionInfo) -> SettlementOut:
        reply = await rpc.billing_view(
            billing.GET_SETTLEMENT,
            billing.CustomerScope(customer_number=session.customer_number),
        )
        return SettlementOut.model_validate(reply.model_dump())
