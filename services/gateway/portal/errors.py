"""What a page shows when something goes wrong: readable HTML, never a JSON problem or a trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Template

from runtime.logs import get_logger
from runtime.rpc_client import RpcProblem, RpcTimeout, RpcUnavailable
from services.gateway.portal.i18n import translate
from services.gateway.portal.pages import lang_of, redirect, render

log = get_logger(__name__)

API_PREFIXES = ("/api/", "/schema", "/health", "/metrics")


def is_page_path(path: str) -> bool:
    """Everything that is not the JSON API, its documents or the operations endpoints is a page."""
    return not path.startswith(API_PREFIXES)


def error_page(
    request: Request[Any, Any, Any], status: int, message: str | None = None
) -> Template:
    lang = lang_of(request)
    heading = {
        400: "error.400",
        403: "error.403",
        404: "error.404",
        405: "error.405",
        413: "error.413",
        429: "error.429",
        503: "error.503",
        504: "error.503",
    }.get(status, "error.500")
    return render(
        request,
        "error.html",
        title=translate(heading, lang),
        status=status,
        heading=translate(heading, lang),
        message=message or translate(heading + ".text", lang),
    )


def login_required(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    del exc
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = "/staff/login" if request.url.path.startswith("/staff") else "/login"
    if request.method != "GET":
        return redirect(login)
    return redirect(f"{login}?next={quote(target, safe='/')}")


def from_problem(request: Request[Any, Any, Any], exc: RpcProblem) -> Response[Any]:
    problem = exc.problem
    if problem.status == 401:
        return login_required(request, NotAuthorizedException())
    message = (problem.detail_en or problem.detail) if lang_of(request) == "en" else problem.detail
    return error_page(request, problem.status if 400 <= problem.status < 600 else 500, message)


def from_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("portal.service_unavailable", error=type(exc).__name__)
    page = error_page(request, 503)
    page.headers["retry-after"] = "5"
    return page


def from_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    del exc
    return error_page(request, 400)


def from_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    page = error_page(request, exc.status_code)
    for name, value in (exc.headers or {}).items():
        page.headers[name] = value
    return page


def from_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("portal.unhandled", error=type(exc).__name__, path=request.url.path)
    return error_page(request, 500)


PAGE_EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotAuthorizedException: login_required,
    RpcProblem: from_problem,
    RpcTimeout: from_unavailable,
    RpcUnavailable: from_unavailable,
    ValidationException: from_validation,
    HTTPException: from_http,
    Exception: from_unexpected,
}


def page_or_problem(
    api_handler: Callable[[Request[Any, Any, Any], HTTPException], Response[Any]],
) -> Callable[[Request[Any, Any, Any], HTTPException], Response[Any]]:
    """For paths no route matched (404, 405): an HTML page where a person browses, else the API's problem."""

    def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        if is_page_path(request.url.path):
            return from_http(request, exc)
        return api_handler(request, exc)

    return handler
