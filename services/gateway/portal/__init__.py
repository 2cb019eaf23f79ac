"""The web portal: server-rendered pages for customers and staff, served by the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, pass_context
from jinja2.runtime import Context
from litestar import Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from services.gateway.portal import formatting
from services.gateway.portal.account import AccountPages
from services.gateway.portal.billing import BillingPages
from services.gateway.portal.complaints import ComplaintPages
from services.gateway.portal.errors import PAGE_EXCEPTION_HANDLERS
from services.gateway.portal.home import HomePage
from services.gateway.portal.i18n import translate
from services.gateway.portal.messages import MessagePages
from services.gateway.portal.mfa_pages import MfaLoginPages, MfaSettingsPages
from services.gateway.portal.readings import ReadingPages
from services.gateway.portal.settings_pages import PasswordResetPages, SettingsPages
from services.gateway.portal.staff import StaffPages
from services.gateway.portal.staff_complaints import StaffComplaintPages
from services.gateway.portal.staff_content import StaffContentPages
from services.gateway.portal.staff_notices import StaffNoticePages

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _with_lang(function: Any) -> Any:
    """A formatting function as a jinja filter that writes in the page's language."""

    @pass_context
    def in_page_language(context: Context, value: Any) -> str:
        if value is None or value == "":
            return "—"
        return str(function(value, context["lang"]))

    return in_page_language


@pass_context
def _translate(context: Context, key: str, **values: Any) -> str:
    return translate(key, context["lang"], **values)


def configure_engine(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.undefined = StrictUndefined  # a misspelt variable fails the page test, not silently
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.globals["t"] = _translate
    env.filters.update(
        money=_with_lang(formatting.format_money),
        volume=_with_lang(formatting.format_volume),
        date=_with_lang(formatting.format_date),
        long_date=_with_lang(formatting.format_long_date),
        month=_with_lang(formatting.format_month),
        datetime=_with_lang(formatting.format_datetime),
        days=_with_lang(formatting.format_days),
        percent=_with_lang(formatting.format_percent),
        quantity=_with_lang(formatting.format_quantity),
        unit=_with_lang(formatting.format_unit),
    )


def portal_templates() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with autoescape on (Litestar's default for a directory): customer text is never HTML (R12)."""
    return TemplateConfig(
        directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=configure_engine
    )


def portal_router() -> Router:
    static = create_static_files_router(
        path="/static",
        directories=[STATIC],
        name="static",
        include_in_schema=False,
        cache_control=None,
    )
    return Router(
        path="/",
        route_handlers=[
            HomePage,
            AccountPages,
            PasswordResetPages,
            SettingsPages,
            MfaLoginPages,
            MfaSettingsPages,
            ReadingPages,
            BillingPages,
            MessagePages,
            ComplaintPages,
            StaffPages,
            StaffContentPages,
            StaffNoticePages,
            StaffComplaintPages,
            static,
        ],
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )
