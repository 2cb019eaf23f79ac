"""Every answer an API route can give, declared once in the OpenAPI document.

A route's own success answer is declared where the route is. Its refusals come from layers
the route does not see (the edge, the session, the services behind it), so they are declared
here, by rule, for every route under ``/api``: each as ``application/problem+json`` with the
body ``services.gateway.problems.problem`` writes. The session cookies are declared as the
security schemes ``customerSession`` and ``staffSession``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import Empty
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.problems import PROBLEM_JSON
from services.gateway.protection import CUSTOMER_COOKIE, STAFF_COOKIE, UNSAFE_METHODS


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable ``code``."""

    model_config = ConfigDict(title="Problem")

    type: str
    title: str
    status: int
    code: str
    detail: str
    fields: dict[str, str] | None = Field(default=None, description="what is wrong, per field")
    captcha_required: bool | None = Field(
        default=None, description="login only: the next attempt must carry a solved captcha (R4)"
    )


SECURITY_SCHEMES = Components(
    security_schemes={
        "customerSession": SecurityScheme(
            type="apiKey",
            name=CUSTOMER_COOKIE,
            security_scheme_in="cookie",
            description="Set by POST /api/v1/auth/login; state changes also need X-CSRF-Token.",
        ),
        "staffSession": SecurityScheme(
            type="apiKey",
            name=STAFF_COOKIE,
            security_scheme_in="cookie",
            description="Set by POST /api/v1/staff/auth/login; state changes also need X-CSRF-Token.",
        ),
    }
)

# The staff login's two steps: before any staff session, so no session scheme and no 401 for one.
STAFF_PRE_SESSION = ("/api/v1/staff/auth/login", "/api/v1/staff/auth/mfa")

_WHY = {
    400: "Malformed input: a parameter or body that does not fit its format, or control characters.",
    401: "No session, or it ended.",
    403: "Not allowed: the role, a missing or foreign CSRF token, or a cross-site request.",
    404: "No such thing among the caller's own.",
    409: "In conflict with the current state.",
    413: "The body is too large.",
    415: "The body is not application/json.",
    422: "Well-formed, but refused by a rule of the service.",
    429: "Too many requests; Retry-After says when to try again.",
    503: "Maintenance, or a service is unavailable; Retry-After says when to try again.",
    504: "A service did not answer in time.",
}


def _problem(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_JSON,
        description=_WHY[status],
        generate_examples=False,
    )


def answers_of(handler: HTTPRouteHandler, path: str) -> set[int]:
    """The refusals ``handler`` at ``path`` can answer besides its own success."""
    params = set(handler.parsed_fn_signature.parameters)
    staff = path.startswith("/api/v1/staff/")
    unsafe = bool(handler.http_methods & UNSAFE_METHODS)
    statuses = {400, 429, 503, 504}
    if "session" in params or (staff and not path.startswith(STAFF_PRE_SESSION)):
        statuses |= {401, 403}
    if unsafe:
        # Cross-site and CSRF refusals; credentials checked by a service (login, password).
        statuses |= {401, 403, 404, 409, 422}
    if "data" in params:
        statuses |= {413, 415}
    if "{" in path or params - {"request", "session", "staff", "settings", "data"}:
        statuses |= {404, 422}
    return statuses


def declare_answers(app: Litestar) -> None:
    """Add the refusals and the session scheme to every API route's OpenAPI operation, then
    build the document and make its request schemas as strict as the gateway is."""
    _declare_on_handlers(app)
    _bind_options_handlers(app)
    plugin = app.plugins.get(OpenAPIPlugin)
    doc = plugin.provide_openapi_schema()
    _tighten(doc)
    _refuse_control_characters(doc)
    _other_content_types(app, doc)


def _bind_options_handlers(app: Litestar) -> None:
    """``OPTIONS`` answers ``Allow`` with every method of its path.

    Litestar makes each path's OPTIONS handler for the route a router built, and keeps that
    handler when the application merges the routers' routes into its own; the handler then
    lists the methods of the first route it was made for (``Allow: GET, OPTIONS`` beside a
    POST). Pointing it at the application's route makes it list them all.
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if handler.http_methods != {"OPTIONS"} or handler.fn.__closure__ is None:
                continue
            for cell in handler.fn.__closure__:
                if hasattr(cell.cell_contents, "methods") and cell.cell_contents is not route:
                    cell.cell_contents = route


def _declare_on_handlers(app: Litestar) -> None:
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", ()):
            declared: dict[int, Any] = dict(handler.responses or {})
            for status in answers_of(handler, route.path):
                declared.setdefault(status, _problem(status))
            handler.responses = declared
            params = set(handler.parsed_fn_signature.parameters)
            if route.path.startswith("/api/v1/staff/") and not route.path.startswith(
                STAFF_PRE_SESSION
            ):
                handler.security = [{"staffSession": []}]
                handler._resolved_security = Empty
            elif "session" in params:
                handler.security = [{"customerSession": []}]
                handler._resolved_security = Empty


def _models(base: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for sub in base.__subclasses__():
        yield sub
        yield from _models(sub)


def _forbidding_models() -> dict[str, type[BaseModel]]:
    """Models that refuse unknown fields (every gateway body and contract), by name."""
    return {
        model.__name__: model
        for model in _models(BaseModel)
        if model.model_config.get("extra") == "forbid" and "[" not in model.__name__
    }


def _tighten(doc: dict[str, Any]) -> None:
    """Objects of models that refuse unknown fields say so, and their fields carry pydantic's
    own constraints (patterns, lengths), which Litestar's schema generation leaves out."""
    models = _forbidding_models()
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        model = models.get(name)
        if model is None or "properties" not in schema:
            continue
        schema["additionalProperties"] = False
        try:
            own = model.model_json_schema(mode="validation").get("properties", {})
        except Exception:  # noqa: S112 - a model pydantic cannot describe keeps Litestar's schema
            continue
        for field, target in schema["properties"].items():
            if field in own:
                _merge_constraints(target, own[field])


_CONSTRAINTS = ("pattern", "minLength", "maxLength", "minimum", "maximum")


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return list(schema.get("oneOf") or schema.get("anyOf") or [schema])


def _merge_constraints(target: dict[str, Any], source: dict[str, Any]) -> None:
    kinds = {branch.get("type") for branch in source.get("anyOf", [])} - {"null", None}
    if len(kinds) > 1 and "type" in target:
        # A field that takes several kinds (a number or a decimal string): pydantic's own word.
        del target["type"]
        target.pop("pattern", None)
        target["anyOf"] = source["anyOf"]
        return
    for branch in _branches(target):
        kind = branch.get("type")
        if kind is None:
            continue
        for candidate in _branches(source):
            if candidate.get("type") == kind:
                for key in _CONSTRAINTS:
                    if key in candidate and key not in branch:
                        branch[key] = candidate[key]
                break


# What the edge lets through (services/gateway/input_checks.py): no control character in a
# parameter; line breaks and tabs in body text.
PARAMETER_TEXT = "^[^\\x00-\\x1f\\x7f]*$"
BODY_TEXT = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"


def _refuse_control_characters(doc: dict[str, Any]) -> None:
    """Free-text strings of requests carry the pattern the edge enforces."""
    components = doc.get("components", {}).get("schemas", {})
    seen: set[int] = set()

    def walk(schema: Any, pattern: str) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            schema = components.get(schema["$ref"].rsplit("/", 1)[-1])
            if not isinstance(schema, dict):
                return
        if id(schema) in seen:
            return
        seen.add(id(schema))
        if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(
            schema
        ):
            schema["pattern"] = pattern
        children = [
            *schema.get("properties", {}).values(),
            *schema.get("oneOf", []),
            *schema.get("anyOf", []),
            *schema.get("allOf", []),
        ]
        if "items" in schema:
            children.append(schema["items"])
        for child in children:
            walk(child, pattern)

    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                walk(parameter.get("schema"), PARAMETER_TEXT)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                walk(media.get("schema"), BODY_TEXT)


def _other_content_types(app: Litestar, doc: dict[str, Any]) -> None:
    """A route that renders its resource in other formats as well (``opt={"also_answers":
    (...)}`` on its decorator) declares them beside its success answer's JSON."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            others = handler.opt.get("also_answers")
            if not others:
                continue
            for method in handler.http_methods:
                answer = doc["paths"][route.path_format][method.lower()]["responses"]
                content = answer[str(handler.status_code)].setdefault("content", {})
                for media in others:
                    content[media] = {"schema": {"type": "string", "format": "binary"}}
