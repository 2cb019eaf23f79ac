"""A message type of the tests' own, for exercising consumers without a service behind them."""

from __future__ import annotations

from typing import ClassVar

from contracts.base import Envelope


class Probe(Envelope):
    SCHEMA: ClassVar[str] = "probe.recorded.v1"

    n: int
