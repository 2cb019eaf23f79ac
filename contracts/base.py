"""Base classes shared by every contract: plain data, no behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """A message body. Unknown fields are refused so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Envelope(Contract):
    """An event or an integration message: it carries its identity, time and schema.

    Subclasses set ``SCHEMA`` (``<name>.v<version>``); the ``schema`` field on the wire
    must equal it, which lets a consumer refuse a message of another version.
    """

    SCHEMA: ClassVar[str] = ""

    message_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    schema_name: str = Field(default="", alias="schema")

    def model_post_init(self, context: Any, /) -> None:
        if not self.schema_name:
            object.__setattr__(self, "schema_name", self.SCHEMA)
        elif self.schema_name != self.SCHEMA:
            raise ValueError(f"schema {self.schema_name!r} is not {self.SCHEMA!r}")

    def to_wire(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Problem(Contract):
    """A refusal or failure as a service answers it; the gateway maps it to RFC 9457."""

    code: str
    status: int = 400
    detail: str = ""  # Polish, the default language of IBOK
    detail_en: str = ""
    fields: dict[str, str] = Field(default_factory=dict)


# The header that marks a reply as a Problem rather than the operation's result.
PROBLEM_HEADER = "x-ibok-problem"
# The header that carries one request's correlation id through every hop.
CORRELATION_HEADER = "x-correlation-id"
