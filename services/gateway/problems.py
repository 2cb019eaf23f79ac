"""RFC 9457 problem details: every error the gateway answers, mapped once, in Polish or English."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from runtime.logs import get_logger
from runtime.rpc_client import RpcProblem, RpcTimeout, RpcUnavailable

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://ibok.example/problems/"


def prefers_english(request: Request[Any, Any, Any]) -> bool:
    """Polish unless the client's Accept-Language puts English first (q-values respected)."""
    header = request.headers.get("accept-language", "")
    best, best_q = "pl", -1.0
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        lang = tag.strip().lower()[:2]
        if lang in ("pl", "en") and q > best_q:
            best, best_q = lang, q
    return best == "en"


def problem(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str,
    detail_en: str = "",
    *,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": (detail_en or detail) if prefers_english(request) else detail,
    }
    if fields:
        body["fields"] = fields
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def from_rpc_problem(request: Request[Any, Any, Any], exc: RpcProblem) -> Response[dict[str, Any]]:
    p = exc.problem
    headers = {"Retry-After": "5"} if p.status == 503 else None
    return problem(
        request, p.status, p.code, p.detail, p.detail_en, fields=p.fields or None, headers=headers
    )


def from_rpc_timeout(request: Request[Any, Any, Any], exc: RpcTimeout) -> Response[dict[str, Any]]:
    log.warning("rpc.timeout", operation=str(exc))
    return problem(
        request,
        504,
        "upstream_timeout",
        "Usługa nie odpowiedziała na czas. Spróbuj ponownie.",
        "The service did not answer in time. Try again.",
    )


def from_rpc_unavailable(
    request: Request[Any, Any, Any], exc: RpcUnavailable
) -> Response[dict[str, Any]]:
    log.warning("rpc.unavailable", error=str(exc))
    return problem(
        request,
        503,
        "service_unavailable",
        "Usługa chwilowo niedostępna. Spróbuj ponownie za chwilę.",
        "The service is temporarily unavailable. Try again shortly.",
        headers={"Retry-After": "5"},
    )


def from_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    fields: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            fields[str(item.get("key") or item.get("source") or "body")] = str(
                item.get("message", "")
            )
    return problem(
        request,
        400,
        "invalid_request",
        "Nieprawidłowe dane żądania.",
        "Invalid request data.",
        fields=fields or None,
    )


_HTTP_CODES = {
    401: ("unauthenticated", "Zaloguj się, aby kontynuować.", "Log in to continue."),
    403: ("forbidden", "Brak uprawnień.", "Not allowed."),
    404: ("not_found", "Nie znaleziono.", "Not found."),
    405: ("method_not_allowed", "Niedozwolona metoda.", "Method not allowed."),
    413: ("request_too_large", "Żądanie jest za duże.", "Request too large."),
    429: (
        "too_many_requests",
        "Zbyt wiele żądań. Spróbuj później.",
        "Too many requests. Try later.",
    ),
}


def from_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code, pl, en = _HTTP_CODES.get(
        exc.status_code, ("http_error", str(exc.detail), str(exc.detail))
    )
    return problem(request, exc.status_code, code, pl, en, headers=exc.headers)


def from_contract_refusal(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """Input the gateway's own models let through but a service contract refuses (a stricter
    pattern), or text that cannot be encoded (lone surrogates): the client's data, so a 422."""
    fields: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        fields = {
            ".".join(map(str, e["loc"])) or "body": e["msg"] for e in exc.errors(include_url=False)
        }
    return problem(
        request,
        422,
        "invalid_request",
        "Nieprawidłowe dane żądania.",
        "Invalid request data.",
        fields=fields or None,
    )


def from_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("gateway.unhandled", error=type(exc).__name__)
    return problem(
        request, 500, "internal_error", "Wewnętrzny błąd serwera.", "Internal server error."
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RpcProblem: from_rpc_problem,
    RpcTimeout: from_rpc_timeout,
    RpcUnavailable: from_rpc_unavailable,
    ValidationException: from_validation,
    ValidationError: from_contract_refusal,
    PydanticSerializationError: from_contract_refusal,
    UnicodeEncodeError: from_contract_refusal,
    HTTPException: from_http,
    Exception: from_unexpected,
}
