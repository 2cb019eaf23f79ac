"""An RPC operation as data: who answers it, its queue, its request and its reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.base import Contract


def rpc_queue(service: str, operation: str, version: int = 1) -> str:
    """The request queue of an operation, also its routing key on the default exchange."""
    return f"ibok.{service}.rpc.{operation}.v{version}"


Req = TypeVar("Req", bound=Contract)
Rep = TypeVar("Rep", bound=Contract)


@dataclass(frozen=True)
class Operation(Generic[Req, Rep]):
    service: str
    name: str
    request: type[Req]
    reply: type[Rep]
    version: int = 1

    @property
    def queue(self) -> str:
        return rpc_queue(self.service, self.name, self.version)


class Empty(Contract):
    """A reply that carries nothing but success."""
