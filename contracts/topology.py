"""The one naming scheme for exchanges, queues and routing keys.

- Request/reply: the gateway (or a service) publishes to the default exchange with the
  routing key ``ibok.<service>.rpc.<operation>.v<n>``, which is also the queue's name; the
  reply goes to RabbitMQ's direct reply-to pseudo-queue of the caller.
- Events: the topic exchange ``ibok.events``; routing key ``<service>.<event>.v<n>``; each
  consuming service owns one durable queue ``ibok.<consumer>.events`` bound to the keys it needs.
- The billing system: it publishes to the topic exchange ``billing.in`` with the message's
  schema as routing key; each IBOK service that owns some of that data has its own queue
  ``ibok.<service>.billing-in``. IBOK publishes to the topic exchange ``ibok.out``; the billing
  system reads the durable queue ``billing-system.from-ibok`` bound to it with ``#``.
- Dead letters: the fanout exchange ``ibok.dead-letter`` and its queue ``ibok.dead-letters``;
  a message that fails validation or exceeds the delivery limit ends there with its reason.
"""

from __future__ import annotations

EVENTS_EXCHANGE = "ibok.events"
BILLING_IN_EXCHANGE = "billing.in"
IBOK_OUT_EXCHANGE = "ibok.out"
BILLING_SYSTEM_QUEUE = "billing-system.from-ibok"
DEAD_LETTER_EXCHANGE = "ibok.dead-letter"
DEAD_LETTER_QUEUE = "ibok.dead-letters"
# How many times a message may be delivered to a consumer before it is dead-lettered.
DELIVERY_LIMIT = 5

SERVICES = ("auth", "readings", "billing", "notify")


def rpc_queue(service: str, operation: str, version: int = 1) -> str:
    return f"ibok.{service}.rpc.{operation}.v{version}"


def events_queue(consumer: str) -> str:
    return f"ibok.{consumer}.events"


def billing_in_queue(consumer: str) -> str:
    return f"ibok.{consumer}.billing-in"


def event_key(service: str, event: str, version: int = 1) -> str:
    return f"{service}.{event}.v{version}"
