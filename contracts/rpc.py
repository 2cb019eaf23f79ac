"""An RPC operation as data: who answers it, its queue, its request and its reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.base import Contract
from contracts.topology import rpc_queue

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
