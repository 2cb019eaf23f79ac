"""The terms of service (regulamin): the version in force today and every version (R11). Public."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import Parameter

from contracts import notify
from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Page
from services.gateway.schemas.notify import TermsVersion, TermsVersionSummary


class TermsController(Controller):
    path = "/terms"
    tags = ["terms"]

    @get("", summary="The terms of service in force today (Warsaw)")
    async def in_force(self, rpc: Rpc) -> TermsVersion:
        terms = await rpc.call(notify.TERMS_IN_FORCE, notify.TermsInForceQuery())
        return TermsVersion(**terms.model_dump())

    @get("/versions", summary="Every version of the terms, newest first")
    async def versions(
        self,
        rpc: Rpc,
        limit: int = Parameter(ge=1, le=100, default=20),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> Page[TermsVersionSummary]:
        page = await rpc.call(
            notify.TERMS_VERSIONS, notify.TermsVersionsQuery(limit=limit, cursor=cursor)
        )
        return Page[TermsVersionSummary](
            items=[TermsVersionSummary(**v.model_dump()) for v in page.items],
            next_cursor=page.next_cursor,
        )

    @get("/versions/{version:int}", summary="One version of the terms, in force or not")
    async def version(
        self, rpc: Rpc, version: int = Parameter(ge=1, le=2_147_483_647)
    ) -> TermsVersion:
        terms = await rpc.call(notify.TERMS_VERSION, notify.TermsVersionQuery(version=version))
        return TermsVersion(**terms.model_dump())
