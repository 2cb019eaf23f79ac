"""Bodies shared by every area: the base class, pages of a list, health answers."""

from __future__ import annotations

import types
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

T = TypeVar("T")


def _exact_kind(annotation: Any) -> type | None:
    """``bool`` or ``int`` when the field is one of them (or optional), else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = kinds[0] if len(kinds) == 1 else None
    return annotation if annotation in (bool, int) else None


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _exact_json_types(cls, value: Any, info: ValidationInfo) -> Any:
        """A body's booleans and integers are taken as they are: ``0`` is not ``false`` and
        ``"5"`` or ``true`` is not ``5`` (pydantic's lax mode would convert them)."""
        if value is None or info.field_name is None:
            return value
        kind = _exact_kind(cls.model_fields[info.field_name].annotation)
        if kind is bool and not isinstance(value, bool):
            raise ValueError("must be true or false")
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("must be an integer")
        return value


class Page(BaseModel, Generic[T]):
    """One page of a list. Ask for the next one with ``?cursor=<next_cursor>``; null means the end.

    Every list of the API pages the same way: ``limit`` (1-100, default 20) and ``cursor``.
    """

    items: list[T]
    next_cursor: str | None = None


class Health(Schema):
    status: str
    checks: dict[str, bool] = Field(default_factory=dict)
