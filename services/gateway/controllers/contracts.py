"""The customer's contracts: the list, one contract, and the signed document as PDF (R7.2)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get

from contracts import auth, billing
from services.gateway.controllers.invoices import rendered_response
from services.gateway.rpc import Rpc
from services.gateway.schemas.billing import ContractDetailOut, ContractList


class ContractsController(Controller):
    path = "/contracts"
    tags = ["contracts"]

    @get("", summary="The customer's contracts, current and ended (R7.2, R9)")
    async def list_contracts(self, rpc: Rpc, session: auth.SessionInfo) -> ContractList:
        reply = await rpc.billing_view(
            billing.LIST_CONTRACTS,
            billing.CustomerScope(customer_number=session.customer_number),
        )
        return ContractList.model_validate(reply.model_dump())

    @get("/{contract_id:uuid}", summary="One contract with its tariff and clauses (R7.2)")
    async def contract(
        self, rpc: Rpc, session: auth.SessionInfo, contract_id: UUID
    ) -> ContractDetailOut:
        reply = await rpc.billing_view(
            billing.GET_CONTRACT,
            billing.ContractQuery(customer_number=session.customer_number, contract_id=contract_id),
        )
        return ContractDetailOut.model_validate(reply.model_dump())

    @get(
        "/{contract_id:uuid}/document",
        summary="The signed contract as PDF (R7.2)",
        response_description="application/pdf",
        media_type="application/pdf",
    )
    async def document(
        self, rpc: Rpc, session: auth.SessionInfo, contract_id: UUID
    ) -> Response[bytes]:
        reply = await rpc.call(
            billing.CONTRACT_DOCUMENT,
            billing.ContractQuery(customer_number=session.customer_number, contract_id=contract_id),
            timeout=15,
        )
        return rendered_response(reply)
