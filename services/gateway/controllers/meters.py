"""The customer's water meters (R7.6): premises, diameter, legalizacja and the last reading."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from contracts import auth, readings
from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Page
from services.gateway.schemas.readings import Meter


class MetersController(Controller):
    path = "/meters"
    tags = ["readings"]

    @get("", summary="The customer's meters with legalizacja expiry and days left (R7.6)")
    async def meters(
        self,
        rpc: Rpc,
        session: auth.SessionInfo,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Page[Meter]:
        page = await rpc.call(
            readings.METERS,
            readings.MetersQuery(
                customer_number=session.customer_number, limit=limit, cursor=cursor
            ),
        )
        return Page[Meter](
            items=[Meter.model_validate(m.model_dump()) for m in page.items],
            next_cursor=page.next_cursor,
        )
