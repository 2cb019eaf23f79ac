"""What every page shares: who is visiting, the language, CSRF, flash notices and rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException
from litestar.response import Redirect, Template

from contracts import auth
from runtime.rpc_client import RpcProblem
from runtime.settings import Settings
from services.gateway.portal.forms import FormState, anonymous_cookie, anonymous_token
from services.gateway.portal.i18n import Lang, language_of, translate
from services.gateway.protection import csrf_token_for
from services.gateway.rpc import Rpc
from services.gateway.sessions import SESSION_COOKIE, current_session

FLASH_COOKIE = "ibok_flash"
# A flash notice is a catalog key, never free text, so a cookie cannot inject what a page shows.
FLASH_KEYS = frozenset(
    {
        "flash.logged_out",
        "flash.email_verified",
        "flash.session_ended",
        "flash.language_changed",
        "flash.password_changed",
        "flash.mfa_expired",
        "flash.mfa_removed",
        "flash.password_reset",
        "flash.session_ended_other",
        "flash.contact_saved",
        "flash.contact_email_pending",
        "flash.reading_saved",
        "flash.reading_replaced",
        "flash.reading_flagged",
        "flash.account_blocked",
        "flash.account_unblocked",
        "flash.reading_reviewed",
        "flash.terms_published",
        "flash.announcement_sent",
        "flash.maintenance_saved",
        "flash.complaint_filed",
        "flash.complaint_answered",
        "flash.complaint_info_requested",
        "flash.complaint_settled",
        "flash.complaint_message_hidden",
    }
)
PAGE_HEADERS = {"cache-control": "no-store"}
# The customer's menu: (path, catalog key); a page joins it when its service's API exists.
NAV_ITEMS: list[tuple[str, str]] = [
    ("/", "nav.home"),
    ("/meters", "nav.readings"),
    ("/consumption", "nav.consumption"),
    ("/invoices", "nav.invoices"),
    ("/settlement", "nav.settlement"),
    ("/contracts", "nav.contracts"),
    ("/complaints", "nav.complaints"),
    ("/inbox", "nav.inbox"),
    ("/me", "nav.me"),
]
# The staff console's menu; admins also get ADMIN_NAV_ITEMS.
STAFF_NAV_ITEMS: list[tuple[str, str]] = [
    ("/staff", "nav.staff_customers"),
    ("/staff/complaints", "nav.staff_complaints"),
    ("/staff/readings/flagged", "nav.staff_flagged"),
    ("/staff/terms", "nav.staff_terms"),
    ("/staff/announcements", "nav.staff_announcements"),
]
ADMIN_NAV_ITEMS: list[tuple[str, str]] = [("/staff/maintenance", "nav.staff_maintenance")]


@dataclass(frozen=True)
class Visitor:
    """A logged-in customer: the session cookie and who it belongs to."""

    token: str
    session: auth.SessionInfo

    @property
    def csrf(self) -> str:
        return csrf_token_for(self.token)


class LoginRequired(NotAuthorizedException):
    """A page for logged-in customers was asked for without a (valid) session."""


async def visitor_of(request: Request[Any, Any, Any], rpc: Rpc) -> Visitor | None:
    """The customer behind the session cookie, resolved as the API resolves it (auth, through the
    gateway's session cache that a logout or a block empties at once)."""
    try:
        session = await current_session(request, rpc)
    except NotAuthorizedException:
        return None
    except RpcProblem as exc:
        if exc.problem.status in (401, 403, 404):
            return None
        raise
    token = request.cookies.get(SESSION_COOKIE, "")
    return Visitor(token=token, session=session) if session.kind == "customer" else None


async def customer(request: Request[Any, Any, Any], rpc: Rpc) -> Visitor:
    """The logged-in customer, or the login page (then back here) when there is none."""
    found = await visitor_of(request, rpc)
    if found is None:
        raise LoginRequired()
    return found


def lang_of(request: Request[Any, Any, Any]) -> Lang:
    return language_of(request.cookies)


def client_address(request: Request[Any, Any, Any]) -> str:
    """The visitor's address as auth records it (sessions, audit, captcha limits)."""
    return (request.client.host if request.client else "")[:64]


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    title: str,
    visitor: Visitor | None = None,
    staff: Any = None,
    form: FormState | None = None,
    status: int = 200,
    settings: Settings | None = None,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    """A page: the template with the language, CSRF token, flash notice and form state.

    ``staff`` is a staff member on a console page (``staff.StaffVisitor``). Anonymous pages with a form get the double-submit cookie here, so every
    form has a token without each handler thinking about it; ``settings`` is needed for that.
    """
    lang = lang_of(request)
    out_cookies = list(cookies or [])
    if visitor is not None:
        csrf = visitor.csrf
    elif staff is not None:
        csrf = staff.csrf
    else:
        csrf = anonymous_token(request)
        if settings is not None:
            out_cookies.append(anonymous_cookie(settings, csrf))
    flash_key = request.cookies.get(FLASH_COOKIE, "")
    response = Template(
        template_name=template,
        context={
            "lang": lang,
            "title": title,
            "visitor": visitor,
            "staff": staff,
            "csrf": csrf,
            "form": form or FormState(),
            "flash": translate(flash_key, lang) if flash_key in FLASH_KEYS else "",
            "path": request.url.path,
            "nav_items": _nav_items(staff),
            "current_nav": current_nav(request.url.path, _nav_items(staff)),
            "query": request.url.query,
            **context,
        },
        status_code=status,
        media_type="text/html; charset=utf-8",
        cookies=out_cookies,
        headers=PAGE_HEADERS,
    )
    if flash_key:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


# Pages that belong under another menu item (the reading history under the meters).
NAV_ALIASES = {"/meters": ("/readings",)}


def current_nav(path: str, items: list[tuple[str, str]]) -> str | None:
    """The menu item of ``path``: the same path, a path below it, or one of its aliases."""
    for href, _ in items:
        if path == href or path.startswith(tuple(NAV_ALIASES.get(href, ()))):
            return href
    for href, _ in sorted(items, key=lambda item: -len(item[0])):
        if href not in ("/", "/staff") and path.startswith(href + "/"):
            return href
    return None


def _nav_items(staff: Any) -> list[tuple[str, str]]:
    if staff is None:
        return NAV_ITEMS
    return STAFF_NAV_ITEMS + (ADMIN_NAV_ITEMS if staff.is_admin else [])


def redirect(to: str, *, flash: str | None = None, cookies: list[Cookie] | None = None) -> Redirect:
    """Post/redirect/get: 303 to ``to``, optionally with a notice for the next page to show once."""
    out = list(cookies or [])
    if flash is not None:
        assert flash in FLASH_KEYS, flash
        out.append(Cookie(key=FLASH_COOKIE, value=flash, httponly=True, samesite="lax", path="/"))
    return Redirect(path=to, status_code=303, cookies=out, headers=PAGE_HEADERS)
