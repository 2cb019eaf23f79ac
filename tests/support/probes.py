"""A message type of the tests' own, for exercising consumers without a service behind them."""

from __future__ import annotations

from typing import ClassVar

from contracts.base import Envelope
from contracts.topology import EVENTS_EXCHANGE, Binding, Queue, work_queue_arguments
from runtime.broker_topology import declare


class Probe(Envelope):
    SCHEMA: ClassVar[str] = "probe.recorded.v1"

    n: int


def probe_queue(name: str) -> Queue:
    """A test's own quorum queue on ``ibok.events`` for probes, declared as a service's would be."""
    return Queue(
        name,
        "test",
        "quorum",
        work_queue_arguments(),
        (Binding(EVENTS_EXCHANGE, Probe.SCHEMA),),
    )


async def declare_probe_queue(url: str, name: str) -> None:
    """The whole topology and the probe queue ``name``."""
    await declare(url, "test", extra=[probe_queue(name)])
