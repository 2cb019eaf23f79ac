"""The staff console: publishing the terms (R11) and sending commercial information (R15)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from pydantic import ValidationError

from contracts import notify
from runtime.rpc_client import RpcProblem
from services.gateway.portal.forms import (
    CSRF_FIELD,
    add_problem,
    add_validation_errors,
    session_form_is_genuine,
    submitted_form,
)
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import lang_of, redirect
from services.gateway.portal.staff import staff_member, staff_page
from services.gateway.rpc import rpc_of


class StaffNoticePages(Controller):
    path = "/staff"
    include_in_schema = False

    # --- terms (R11) and announcements (R15) ---------------------------------------------

    @get("/terms", name="staff.terms")
    async def terms_page(self, request: Request[Any, Any, Any]) -> Template:
        staff = await staff_member(request)
        versions = await rpc_of(request.app.state).call(
            notify.TERMS_VERSIONS, notify.TermsVersionsQuery(limit=100)
        )
        return staff_page(
            request, "staff/terms.html", "staff.terms.title", staff, versions=versions.items
        )

    @post("/terms", name="staff.terms.publish")
    async def publish_terms(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        staff = await staff_member(request)
        lang = lang_of(request)
        form = await submitted_form(request, ("text", "effective_on"))
        if not session_form_is_genuine(staff.token, form.value(CSRF_FIELD)):
            form.add(None, translate("form.expired", lang))
        try:
            effective = date.fromisoformat(form.value("effective_on"))
        except ValueError:
            form.add("effective_on", translate("staff.terms.date_required", lang))
        if not form.value("text"):
            form.add("text", translate("staff.terms.text_required", lang))
        if not form.invalid:
            try:
                await rpc_of(request.app.state).call(
                    notify.PUBLISH_TERMS,
                    notify.PublishTerms(
                        text=form.value("text"),
                        effective_on=effective,
                        published_by=staff.staff.login,
                    ),
                )
            except ValidationError as exc:
                add_validation_errors(form, exc, {"text": "staff.terms.text"}, lang)
            except RpcProblem as exc:
                add_problem(form, exc, {"effective_date_invalid": "effective_on"}, lang)
            else:
                return redirect("/staff/terms", flash="flash.terms_published")
        versions = await rpc_of(request.app.state).call(
            notify.TERMS_VERSIONS, notify.TermsVersionsQuery(limit=100)
        )
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
    async def announcements_page(self, request: Request[Any, Any, Any]) -> Template:
        staff = await staff_member(request)
        return staff_page(request, "staff/announcements.html", "staff.announcements.title", staff)

    @post("/announcements", name="staff.announcements.send")
    async def send_announcement(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        staff = await staff_member(request)
        lang = lang_of(request)
        form = await submitted_form(request, ("subject", "body"))
        if not session_form_is_genuine(staff.token, form.value(CSRF_FIELD)):
            form.add(None, translate("form.expired", lang))
        else:
            try:
                command = notify.SendAnnouncement(
                    subject=form.value("subject"),
                    body=form.value("body"),
                    sent_by=staff.staff.login,
                )
            except ValidationError as exc:
                add_validation_errors(
                    form,
                    exc,
                    {"subject": "staff.announcements.subject", "body": "staff.announcements.body"},
                    lang,
                )
            else:
                try:
                    await rpc_of(request.app.state).call(notify.SEND_ANNOUNCEMENT, command)
                except RpcProblem as exc:
                    add_problem(form, exc, {}, lang)
                else:
                    return redirect("/staff/announcements", flash="flash.announcement_sent")
        return staff_page(
            request,
            "staff/announcements.html",
            "staff.announcements.title",
            staff,
            form=form,
            status=422,
        )
