"""The customer's IBOK inbox: messages from the utility, newest first, read and unread (R10, R11, R15)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

from contracts import auth, notify
from services.gateway.rpc import Rpc
from services.gateway.schemas.notify import InboxMessage, InboxPage


def _message(m: notify.InboxMessage) -> InboxMessage:
    return InboxMessage(**m.model_dump(), read=m.read_at is not None)


class InboxController(Controller):
    path = "/inbox"
    tags = ["inbox"]

    @get("", summary="The inbox, newest first, with the number of unread messages")
    async def inbox(
        self,
        rpc: Rpc,
        session: auth.SessionInfo,
        limit: int = Parameter(ge=1, le=100, default=20),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> InboxPage:
        page = await rpc.call(
            notify.INBOX,
            notify.InboxQuery(customer_number=session.customer_number, limit=limit, cursor=cursor),
        )
        return InboxPage(
            items=[_message(m) for m in page.items],
            next_cursor=page.next_cursor,
            unread=page.unread,
        )

    @post("/{message_id:uuid}/read", status_code=HTTP_200_OK, summary="Mark a message read")
    async def mark_read(
        self, rpc: Rpc, session: auth.SessionInfo, message_id: UUID
    ) -> InboxMessage:
        message = await rpc.call(
            notify.MARK_READ,
            notify.MarkRead(customer_number=session.customer_number, message_id=message_id),
        )
        return _message(message)
