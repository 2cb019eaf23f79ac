"""Domain errors with a stable code; the gateway turns them into RFC 9457 problem details."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal by the rules. ``code`` is stable; ``detail`` (Polish) and ``detail_en`` are for people."""

    status = 400

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        detail_en: str = "",
        status: int | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail or code
        self.detail_en = detail_en or self.detail
        self.fields = fields or {}
        if status is not None:
            self.status = status


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403
