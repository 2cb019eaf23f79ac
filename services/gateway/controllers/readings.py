"""Meter readings: the customer submits one (R8) and browses the history of every source (R7.5)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from contracts import auth, readings
from services.gateway.problems import prefers_english
from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Page
from services.gateway.schemas.readings import Reading, ReadingAccepted, SubmitReadingRequest


class ReadingsController(Controller):
    path = "/readings"
    tags = ["readings"]

    @get("", summary="Reading history of every source, newest first (R7.5, R8)")
    async def history(
        self,
        rpc: Rpc,
        session: auth.SessionInfo,
        serial: Annotated[str | None, Parameter(max_length=32)] = None,
        date_from: Annotated[date | None, Parameter(query="from")] = None,
        date_to: Annotated[date | None, Parameter(query="to")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Page[Reading]:
        page = await rpc.call(
            readings.READING_HISTORY,
            readings.ReadingHistoryQuery(
                customer_number=session.customer_number,
                serial=serial,
                date_from=date_from,
                date_to=date_to,
                limit=limit,
                cursor=cursor,
            ),
        )
        return Page[Reading](
            items=[Reading.model_validate(r.model_dump()) for r in page.items],
            next_cursor=page.next_cursor,
        )

    @post(
        "",
        status_code=HTTP_201_CREATED,
        summary="Submit a meter reading (R1, R8)",
        description="201 for a new reading; 200 when it replaced the reading of the same meter "
        "and day. A reading far above recent use is accepted with `flagged: true`.",
        responses={
            HTTP_200_OK: ResponseSpec(
                ReadingAccepted, description="It replaced the reading of the same meter and day."
            )
        },
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        session: auth.SessionInfo,
        data: SubmitReadingRequest,
    ) -> Response[ReadingAccepted]:
        accepted = await rpc.call(
            readings.SUBMIT_READING,
            readings.SubmitReading(
                customer_number=session.customer_number,
                serial=data.serial,
                value=data.value,
                read_on=data.read_on,
            ),
        )
        body = ReadingAccepted(
            reading=Reading.model_validate(accepted.reading.model_dump()),
            replaced=accepted.replaced,
            flagged=accepted.flagged,
            message=accepted.message_en if prefers_english(request) else accepted.message,
        )
        return Response(body, status_code=HTTP_200_OK if accepted.replaced else HTTP_201_CREATED)
