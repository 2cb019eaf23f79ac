"""Pages of the IBOK inbox (R10, R11, R15) and of the terms of service with their versions (R11)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from contracts import notify
from runtime.rpc_client import RpcProblem
from services.gateway.portal.forms import posted_form
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import customer, lang_of, redirect, render, visitor_of
from services.gateway.rpc import Rpc


class MessagePages(Controller):
    include_in_schema = False

    @get("/inbox", name="portal.inbox")
    async def inbox(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        visitor = await customer(request, rpc)
        lang = lang_of(request)
        page = await rpc.call(
            notify.INBOX,
            notify.InboxQuery(
                customer_number=visitor.session.customer_number, limit=20, cursor=cursor
            ),
        )
        return render(
            request, "inbox.html", title=translate("inbox.title", lang), visitor=visitor, page=page
        )

    @post("/inbox/{message_id:uuid}/read", name="portal.inbox.read")
    async def mark_read(
        self, request: Request[Any, Any, Any], rpc: Rpc, message_id: UUID
    ) -> Redirect:
        visitor = await customer(request, rpc)
        form = await posted_form(request, (), visitor.token)
        if not form.invalid:
            await rpc.call(
                notify.MARK_READ,
                notify.MarkRead(
                    customer_number=visitor.session.customer_number, message_id=message_id
                ),
            )
        return redirect(f"/inbox#message-{message_id}")

    @get("/terms", name="portal.terms")
    async def terms(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        # Public: the terms are readable before registering, too.
        lang = lang_of(request)
        try:
            current: notify.TermsVersion | None = await rpc.call(
                notify.TERMS_IN_FORCE, notify.TermsInForceQuery()
            )
        except RpcProblem as exc:
            if exc.problem.status != 404:
                raise
            current = None  # none in force yet (a first version may be published for later)
        versions = await rpc.call(notify.TERMS_VERSIONS, notify.TermsVersionsQuery(limit=100))
        return render(
            request,
            "terms.html",
            title=translate("terms.title", lang),
            visitor=await visitor_of(request, rpc),
            terms=current,
            versions=versions.items,
        )

    @get("/terms/{version:int}", name="portal.terms.version")
    async def terms_version(
        self, request: Request[Any, Any, Any], rpc: Rpc, version: int
    ) -> Template:
        lang = lang_of(request)
        found = await rpc.call(
            notify.TERMS_VERSION, notify.TermsVersionQuery(version=max(version, 1))
        )
        versions = await rpc.call(notify.TERMS_VERSIONS, notify.TermsVersionsQuery(limit=100))
        return render(
            request,
            "terms.html",
            title=translate("terms.version_title", lang, version=found.version),
            visitor=await visitor_of(request, rpc),
            terms=found,
            versions=versions.items,
        )
