"""Bodies shared by every area: the base class, pages of a list, health answers."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list. Ask for the next one with ``?cursor=<next_cursor>``; null means the end.

    Every list of the API pages the same way: ``limit`` (1-100, default 20) and ``cursor``.
    """

    items: list[T]
    next_cursor: str | None = None


class Health(Schema):
    status: str
    checks: dict[str, bool] = Field(default_factory=dict)
