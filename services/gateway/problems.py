"""RFC 9457 problem details: every error the gateway answers, mapped once."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from runtime.logs import get_logger
from runtime.rpc_client import RpcProblem, RpcTimeout, RpcUnavailable

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://ibok.example/problems/"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if fields:
        body["fields"] = fields
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def from_rpc_problem(_: Request[Any, Any, Any], exc: RpcProblem) -> Response[dict[str, Any]]:
    p = exc.problem
    # A service's internal failure is not the client's business beyond its code.
    return problem(p.status, p.code, p.detail, fields=p.fields or None)


def from_rpc_timeout(_: Request[Any, Any, Any], exc: RpcTimeout) -> Response[dict[str, Any]]:
    log.warning("rpc.timeout", operation=str(exc))
    return problem(504, "upstream_timeout", "Usługa nie odpowiedziała na czas. Spróbuj ponownie.")


def from_rpc_unavailable(
    _: Request[Any, Any, Any], exc: RpcUnavailable
) -> Response[dict[str, Any]]:
    log.warning("rpc.unavailable", error=str(exc))
    return problem(
        503,
        "service_unavailable",
        "Usługa chwilowo niedostępna. Spróbuj ponownie za chwilę.",
        headers={"Retry-After": "5"},
    )


def from_validation(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    fields: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            fields[str(item.get("key") or item.get("source") or "body")] = str(
                item.get("message", "")
            )
    return problem(400, "invalid_request", "Nieprawidłowe dane żądania.", fields=fields or None)


def from_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code = {
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "request_too_large",
        429: "too_many_requests",
    }.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, str(exc.detail), headers=exc.headers)


def from_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("gateway.unhandled", error=type(exc).__name__)
    return problem(500, "internal_error", "Wewnętrzny błąd serwera.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RpcProblem: from_rpc_problem,
    RpcTimeout: from_rpc_timeout,
    RpcUnavailable: from_rpc_unavailable,
    ValidationException: from_validation,
    HTTPException: from_http,
    Exception: from_unexpected,
}
