"""R14 in every service: the key that replaces a customer number on rows kept after erasure,
and the one log line each service writes for an erasure."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from runtime.logs import get_logger

log = get_logger(__name__)

# A customer number never contains ':' (contracts.billing_system.CustomerNumber), so a row under
# this prefix can never be reached as any customer's again.
ANONYMOUS_PREFIX = "anonymous:"


def anonymous_key() -> str:
    """A new random key for one erased customer's kept rows in one service.

    Random and stored nowhere with the customer number: the rows stay together (an anonymous
    customer's invoices with their payments, a meter's readings) but lead to nobody.
    """
    return f"{ANONYMOUS_PREFIX}{uuid.uuid4().hex}"


def log_erased(customer_number: str, counts: Mapping[str, int], **context: str) -> None:
    """``retention.erased``: rows erased or anonymised per table; counts only, no personal data."""
    log.info(
        "retention.erased",
        customer_number=customer_number,
        counts=dict(counts),
        rows=sum(counts.values()),
        **context,
    )
