"""The start page: who is logged in and, as the services offer them, what is due and what is new."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Redirect, Template

from contracts import auth
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import lang_of, redirect, render, visitor_of
from services.gateway.rpc import rpc_of


class HomePage(Controller):
    include_in_schema = False

    @get("/", name="portal.home")
    async def home(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        visitor = await visitor_of(request)
        if visitor is None:
            return redirect("/login")
        lang = lang_of(request)
        profile = await rpc_of(request.app.state).call(
            auth.PROFILE, auth.ProfileQuery(account_id=visitor.session.account_id)
        )
        return render(
            request,
            "home.html",
            title=translate("home.title", lang),
            visitor=visitor,
            profile=profile,
        )
