"""The customer's complaints (R10): file one, list them, read one with its thread, answer staff."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from contracts import auth, billing, readings
from contracts.base import Problem
from runtime.rpc_client import RpcProblem
from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Page
from services.gateway.schemas.complaints import (
    ComplaintCreate,
    ComplaintDetailOut,
    ComplaintMessageCreate,
    ComplaintMessageOut,
    ComplaintOut,
)

IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_DOC = (
    "Send an `Idempotency-Key` header (any string up to 100 characters) to make a repeated "
    "request answer what the first one did instead of acting twice."
)
# How far back the gateway looks for the customer's reading a complaint names.
READING_PAGES = 5


def request_id(request: Request[Any, Any, Any], owner: str) -> UUID:
    """The command's id: derived from the caller's Idempotency-Key (scoped to ``owner``, so two
    callers' keys never meet) or a fresh one."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "")[:100]
    return uuid5(NAMESPACE_URL, f"ibok:{owner}:{key}") if key else uuid4()


async def check_own_reading(rpc: Rpc, customer_number: str, reading_id: UUID) -> None:
    """Only the customer's own reading may be named: looked up in their history (else 404)."""
    cursor: str | None = None
    for _ in range(READING_PAGES):
        page = await rpc.call(
            readings.READING_HISTORY,
            readings.ReadingHistoryQuery(customer_number=customer_number, limit=100, cursor=cursor),
        )
        if any(r.reading_id == reading_id for r in page.items):
            return
        if not (cursor := page.next_cursor):
            break
    raise RpcProblem(
        Problem(
            code="reading_not_found",
            status=404,
            detail="Nie znaleziono odczytu.",
            detail_en="No such reading.",
        )
    )


def complaint_out(view: billing.ComplaintView) -> ComplaintOut:
    return ComplaintOut.model_validate(view.model_dump(exclude={"customer_number", "messages"}))


def complaint_detail(view: billing.ComplaintView) -> ComplaintDetailOut:
    return ComplaintDetailOut(
        **complaint_out(view).model_dump(),
        messages=[
            ComplaintMessageOut.model_validate(
                m.model_dump(exclude={"hidden_at", "hidden_by", "hidden_reason"})
            )
            for m in view.messages
        ],
    )


class ComplaintsController(Controller):
    path = "/complaints"
    tags = ["complaints"]

    @post(
        "",
        status_code=HTTP_201_CREATED,
        summary="File a complaint (R10); it must be settled within 10 days",
        description="Another customer's invoice or reading answers 404 and files nothing. "
        + IDEMPOTENCY_DOC,
    )
    async def file(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        session: auth.SessionInfo,
        data: ComplaintCreate,
    ) -> ComplaintDetailOut:
        if data.reading_id is not None:
            await check_own_reading(rpc, session.customer_number, data.reading_id)
        view = await rpc.call(
            billing.FILE_COMPLAINT,
            billing.FileComplaint(
                request_id=request_id(request, session.customer_number),
                customer_number=session.customer_number,
                channel="ibok",
                **data.model_dump(),
            ),
        )
        return complaint_detail(view)

    @get("", summary="The customer's complaints, newest first, with their deadline and state")
    async def list_complaints(
        self,
        rpc: Rpc,
        session: auth.SessionInfo,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Page[ComplaintOut]:
        page = await rpc.call(
            billing.LIST_COMPLAINTS,
            billing.ComplaintsQuery(
                customer_number=session.customer_number, limit=limit, cursor=cursor
            ),
        )
        return Page[ComplaintOut](
            items=[complaint_out(v) for v in page.items], next_cursor=page.next_cursor
        )

    @get("/{complaint_id:uuid}", summary="One complaint with its messages (hidden ones marked)")
    async def complaint(
        self, rpc: Rpc, session: auth.SessionInfo, complaint_id: UUID
    ) -> ComplaintDetailOut:
        view = await rpc.call(
            billing.GET_COMPLAINT,
            billing.ComplaintRef(
                complaint_id=complaint_id, customer_number=session.customer_number
            ),
        )
        return complaint_detail(view)

    @post(
        "/{complaint_id:uuid}/messages",
        status_code=HTTP_200_OK,
        summary="Answer staff's request for information; the complaint goes back to staff",
        description=IDEMPOTENCY_DOC,
    )
    async def answer(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        session: auth.SessionInfo,
        complaint_id: UUID,
        data: ComplaintMessageCreate,
    ) -> ComplaintDetailOut:
        view = await rpc.call(
            billing.ANSWER_COMPLAINT,
            billing.AnswerComplaint(
                request_id=request_id(request, session.customer_number),
                customer_number=session.customer_number,
                complaint_id=complaint_id,
                body=data.body,
            ),
        )
        return complaint_detail(view)
