"""The staff console: publishing the terms (R11) and sending commercial information (R15)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from contracts import notify
from services.gateway.portal.forms import posted_form, submit_form
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import lang_of, redirect
from services.gateway.portal.staff import staff_member, staff_page
from services.gateway.rpc import Rpc


class StaffNoticePages(Controller):
    path = "/staff"
    include_in_schema = False

    # --- terms (R11) and announcements (R15) ---------------------------------------------

    @get("/terms", name="staff.terms")
    async def terms_page(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        staff = await staff_member(request, rpc)
        versions = await rpc.call(notify.TERMS_VERSIONS, notify.TermsVersionsQuery(limit=100))
        return staff_page(
            request, "staff/terms.html", "staff.terms.title", staff, versions=versions.items
        )

    @post("/terms", name="staff.terms.publish")
    async def publish_terms(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template | Redirect:
        staff = await staff_member(request, rpc)
        lang = lang_of(request)
        form = await posted_form(request, ("text", "effective_on"), staff.token)
        try:
            effective = date.fromisoformat(form.value("effective_on"))
        except ValueError:
            form.add("effective_on", translate("staff.terms.date_required", lang))
        if not form.value("text"):
            form.add("text", translate("staff.terms.text_required", lang))
        published = await submit_form(
            request,
            rpc,
            form,
            notify.PUBLISH_TERMS,
            lambda: notify.PublishTerms(
                text=form.value("text"), effective_on=effective, published_by=staff.staff.login
            ),
            labels={"text": "staff.terms.text"},
            problem_fields={"effective_date_invalid": "effective_on"},
        )
        if published is not None:
            return redirect("/staff/terms", flash="flash.terms_published")
        versions = await rpc.call(notify.TERMS_VERSIONS, notify.TermsVersionsQuery(limit=100))
        return staff_page(
            request,
            "staff/terms.html",
            "staff.terms.title",
            staff,
            form=form,
            status=422,
            versions=versions.items,
        )

    @get("/announcements", name="staff.announcements")
    async def announcements_page(self, request: Request[Any, Any, Any], rpc: Rpc) -> Template:
        staff = await staff_member(request, rpc)
        return staff_page(request, "staff/announcements.html", "staff.announcements.title", staff)

    @post("/announcements", name="staff.announcements.send")
    async def send_announcement(
        self, request: Request[Any, Any, Any], rpc: Rpc
    ) -> Template | Redirect:
        staff = await staff_member(request, rpc)
        form = await posted_form(request, ("subject", "body"), staff.token)
        sent = await submit_form(
            request,
            rpc,
            form,
            notify.SEND_ANNOUNCEMENT,
            lambda: notify.SendAnnouncement(
                subject=form.value("subject"), body=form.value("body"), sent_by=staff.staff.login
            ),
            labels={"subject": "staff.announcements.subject", "body": "staff.announcements.body"},
        )
        if sent is not None:
            return redirect("/staff/announcements", flash="flash.announcement_sent")
        return staff_page(
            request,
            "staff/announcements.html",
            "staff.announcements.title",
            staff,
            form=form,
            status=422,
        )
