"""Consumption analytics (R7.7): the series as JSON and as an accessible SVG chart."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from contracts import auth, readings
from services.gateway.problems import prefers_english
from services.gateway.rpc import Rpc
from services.gateway.schemas.readings import Consumption

Group = Literal["month", "period"]


class ConsumptionController(Controller):
    path = "/consumption"
    tags = ["readings"]

    @get(
        "",
        summary="Consumption per month or billing period, with the year before and the trend",
        description="Whole months (or billing periods) that touch `from`..`to` (default: the "
        "last twelve months). Use between readings is spread evenly over the days.",
    )
    async def series(
        self,
        rpc: Rpc,
        session: auth.SessionInfo,
        group: Group = "month",
        date_from: Annotated[date | None, Parameter(query="from")] = None,
        date_to: Annotated[date | None, Parameter(query="to")] = None,
        premises: Annotated[str | None, Parameter(max_length=32)] = None,
    ) -> Consumption:
        report = await rpc.call(
            readings.CONSUMPTION,
            readings.ConsumptionQuery(
                customer_number=session.customer_number,
                group=group,
                date_from=date_from,
                date_to=date_to,
                premises_id=premises,
            ),
        )
        return Consumption.model_validate(report.model_dump())

    @get(
        "/chart.svg",
        summary="The same series as an accessible SVG bar chart",
        media_type="image/svg+xml",
    )
    async def chart(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        session: auth.SessionInfo,
        group: Group = "month",
        date_from: Annotated[date | None, Parameter(query="from")] = None,
        date_to: Annotated[date | None, Parameter(query="to")] = None,
        premises: Annotated[str | None, Parameter(max_length=32)] = None,
    ) -> Response[str]:
        chart = await rpc.call(
            readings.CONSUMPTION_CHART,
            readings.ConsumptionChartQuery(
                customer_number=session.customer_number,
                group=group,
                date_from=date_from,
                date_to=date_to,
                premises_id=premises,
                language="en" if prefers_english(request) else "pl",
            ),
        )
        return Response(
            chart.svg,
            media_type="image/svg+xml; charset=utf-8",
            headers={
                "X-Content-Type-Options": "nosniff",
                "Content-Language": "en" if prefers_english(request) else "pl",
            },
        )
