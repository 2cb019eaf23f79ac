"""The broker topology of IBOK as data: every exchange, queue, argument and binding, and who owns it.

Derived from the contracts, so a new event, consumer or operation changes the topology here and
nowhere else; ``runtime.broker_topology`` declares it (``ibok migrate`` and every service at
start) and checks a running vhost against it.

- Request/reply: the gateway (or a service) publishes to the default exchange with the
  routing key ``ibok.<service>.rpc.<operation>.v<n>``, which is also the queue's name (durable,
  classic; requests carry a TTL and are never persistent); the reply goes to RabbitMQ's direct
  reply-to pseudo-queue of the caller.
- Events: the topic exchange ``ibok.events``; routing key ``<service>.<event>.v<n>``; each
  consuming service owns one quorum queue ``ibok.<consumer>.events`` bound to the keys it needs
  (``EVENT_CONSUMERS``). Every gateway process follows a few events through an exclusive queue
  of its own (``GATEWAY_FOLLOWS``): signals that only matter to the processes running now.
- The billing system: it publishes to the topic exchange ``billing.in`` with the message's
  schema as routing key; each IBOK service that owns some of that data has its own queue
  ``ibok.<service>.billing-in``. IBOK publishes to the topic exchange ``ibok.out``; the billing
  system reads the quorum queue ``billing-system.from-ibok`` bound to it with ``#``.
- Dead letters: the fanout exchange ``ibok.dead-letter`` and its queue ``ibok.dead-letters``;
  a message that fails validation or keeps failing ends there with its reason.
- Unrouted: every IBOK exchange has the alternate exchange ``ibok.unrouted`` (fanout), whose
  queue ``ibok.unrouted`` keeps whatever no binding took, for the operator (``ibok unrouted``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from contracts import auth, billing, billing_system, maintenance, readings, retention
from contracts.base import Envelope
from contracts.rpc import Operation
from contracts.rpc import rpc_queue as rpc_queue  # named here with the other names

EVENTS_EXCHANGE = "ibok.events"
BILLING_IN_EXCHANGE = "billing.in"
IBOK_OUT_EXCHANGE = "ibok.out"
BILLING_SYSTEM_QUEUE = "billing-system.from-ibok"
DEAD_LETTER_EXCHANGE = "ibok.dead-letter"
DEAD_LETTER_QUEUE = "ibok.dead-letters"
UNROUTED_EXCHANGE = "ibok.unrouted"
UNROUTED_QUEUE = "ibok.unrouted"

# How many times a consumer tries a message before it dead-letters it with the error as its
# reason. Counted by the consumer itself in the ``ATTEMPTS_HEADER`` of the copy it publishes
# again, not by the broker: RabbitMQ 4.3 no longer counts ``basic.nack(requeue=true)``.
DELIVERY_LIMIT = 5
ATTEMPTS_HEADER = "x-ibok-attempts"
# The broker's own limit on a work queue, a backstop for deliveries the consumer never settled
# (a process that dies on a message, a channel handed back): RabbitMQ 3.x also counts requeues
# and hand-backs here, so it is well above DELIVERY_LIMIT.
BROKER_DELIVERY_LIMIT = 50
# The end queues (dead letters, unrouted) are read with get and requeue by the operator's CLI,
# which RabbitMQ 3.x counts as deliveries; their limit is set explicitly (since 4.0 an unset
# limit means 20) and so high that it is never reached. -1 ("no limit" on 4.x) is not used:
# RabbitMQ 3.10 takes it as a limit of 0 and drops the message at its first return (measured).
END_QUEUE_DELIVERY_LIMIT = 1_000_000

SERVICES = ("auth", "readings", "billing", "notify")
ExchangeKind = Literal["topic", "fanout", "direct"]
QueueKind = Literal["quorum", "classic"]


def events_queue(consumer: str) -> str:
    return f"ibok.{consumer}.events"


def billing_in_queue(consumer: str) -> str:
    return f"ibok.{consumer}.billing-in"


def event_key(service: str, event: str, version: int = 1) -> str:
    return f"{service}.{event}.v{version}"


# --- who consumes what --------------------------------------------------------------------------

# Events on ``ibok.events`` and the services that consume each through their events queue.
EVENT_CONSUMERS: Mapping[str, tuple[type[Envelope], ...]] = {
    "auth": (retention.CustomerRetentionEnded,),
    "readings": (retention.CustomerRetentionEnded,),
    "notify": (
        auth.EmailVerificationRequested,
        auth.PasswordResetRequested,
        auth.EmailChangeRequested,
        auth.LoginCodeRequested,
        auth.RegistrationRepeated,
        auth.CustomerContactChanged,
        auth.AccountErased,
        retention.CustomerRetentionEnded,
        billing.ComplaintOutcome,
        billing.ComplaintInformationRequested,
        readings.LegalizationExpiring,
        readings.ReadingFlagged,
    ),
}
# Events every gateway process follows through an exclusive queue of its own: they drop what a
# process keeps in memory. With no gateway running they reach ``ibok.unrouted``.
GATEWAY_FOLLOWS: tuple[type[Envelope], ...] = (
    auth.SessionsEnded,
    maintenance.MaintenanceChanged,
    billing.BillingDataChanged,
)
# The billing system's messages on ``billing.in`` and the services that take each.
BILLING_IN_CONSUMERS: Mapping[str, tuple[type[Envelope], ...]] = {
    "billing": billing_system.BILLING_SERVICE_MESSAGES,
    "readings": billing_system.READINGS_SERVICE_MESSAGES,
}
# What IBOK sends the billing system on ``ibok.out`` (its queue takes every key).
TO_BILLING_SYSTEM: tuple[type[Envelope], ...] = (
    billing_system.ReadingSubmitted,
    billing_system.ContactDataChanged,
    billing_system.ComplaintFiled,
    billing_system.ComplaintSettled,
    readings.ReadingReviewed,
)
# Every message published to an IBOK exchange, by exchange: the relay and ``announce`` refuse
# anything else, and every one of them must have a destination (tests/unit/contracts).
PUBLISHED: Mapping[str, frozenset[str]] = {
    EVENTS_EXCHANGE: frozenset(
        m.SCHEMA for m in (*GATEWAY_FOLLOWS, *(m for ms in EVENT_CONSUMERS.values() for m in ms))
    ),
    IBOK_OUT_EXCHANGE: frozenset(m.SCHEMA for m in TO_BILLING_SYSTEM),
    BILLING_IN_EXCHANGE: frozenset(m.SCHEMA for ms in BILLING_IN_CONSUMERS.values() for m in ms),
}
CONTRACT_MODULES = (
    "contracts.auth",
    "contracts.billing",
    "contracts.billing_system",
    "contracts.maintenance",
    "contracts.notify",
    "contracts.readings",
    "contracts.retention",
)


def operations() -> list[Operation[Any, Any]]:
    """Every RPC operation the contracts define, in module order."""
    found: dict[str, Operation[Any, Any]] = {}
    for name in CONTRACT_MODULES:
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, Operation):
                found.setdefault(value.queue, value)
    return list(found.values())


# --- the declarations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    name: str
    kind: ExchangeKind
    # Where the broker sends what no binding takes; None only for the alternate exchange itself.
    alternate: str | None = UNROUTED_EXCHANGE

    @property
    def arguments(self) -> dict[str, Any]:
        return {"alternate-exchange": self.alternate} if self.alternate else {}


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str


@dataclass(frozen=True)
class Queue:
    name: str
    owner: str  # the service that consumes it ("billing-system" and "ops" are outside IBOK)
    kind: QueueKind
    arguments: Mapping[str, Any]
    bindings: tuple[Binding, ...] = ()
    durable: bool = True

    @property
    def dead_letters_to(self) -> str | None:
        value = self.arguments.get("x-dead-letter-exchange")
        return str(value) if value else None


def work_queue_arguments(*, delivery_limit: int = BROKER_DELIVERY_LIMIT) -> dict[str, Any]:
    """A quorum queue that dead-letters at least once (the message stays until ``ibok.dead-letters``
    has it) past its delivery limit; ``reject-publish`` is what at-least-once requires."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


# The last stop: nothing to dead-letter to, a limit never reached, publishers refused rather
# than old letters dropped should a length limit ever be set by policy.
DEAD_LETTER_ARGUMENTS: Mapping[str, Any] = {
    "x-queue-type": "quorum",
    "x-delivery-limit": END_QUEUE_DELIVERY_LIMIT,
    "x-overflow": "reject-publish",
}
# Requests expire with their caller's timeout and are not persistent: a classic queue, durable
# (RabbitMQ 4.3 refuses transient non-exclusive queues), shared by every process of the service.
RPC_ARGUMENTS: Mapping[str, Any] = {"x-queue-type": "classic"}


@dataclass(frozen=True)
class Topology:
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    _by_name: dict[str, Queue] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({q.name: q for q in self.queues})

    def queue(self, name: str) -> Queue:
        return self._by_name[name]

    def owned_by(self, service: str) -> tuple[Queue, ...]:
        return tuple(q for q in self.queues if q.owner == service)

    def exchange(self, name: str) -> Exchange:
        return next(e for e in self.exchanges if e.name == name)


def _bound(exchange: str, models: tuple[type[Envelope], ...]) -> tuple[Binding, ...]:
    return tuple(Binding(exchange, m.SCHEMA) for m in dict.fromkeys(models))


def build() -> Topology:
    exchanges = (
        Exchange(EVENTS_EXCHANGE, "topic"),
        Exchange(BILLING_IN_EXCHANGE, "topic"),
        Exchange(IBOK_OUT_EXCHANGE, "topic"),
        Exchange(DEAD_LETTER_EXCHANGE, "fanout"),
        Exchange(UNROUTED_EXCHANGE, "fanout", alternate=None),
    )
    queues = [
        Queue(
            DEAD_LETTER_QUEUE,
            "ops",
            "quorum",
            DEAD_LETTER_ARGUMENTS,
            (Binding(DEAD_LETTER_EXCHANGE, ""),),
        ),
        Queue(
            UNROUTED_QUEUE,
            "ops",
            "quorum",
            work_queue_arguments(delivery_limit=END_QUEUE_DELIVERY_LIMIT),
            (Binding(UNROUTED_EXCHANGE, ""),),
        ),
        Queue(
            BILLING_SYSTEM_QUEUE,
            "billing-system",
            "quorum",
            work_queue_arguments(),
            (Binding(IBOK_OUT_EXCHANGE, "#"),),
        ),
    ]
    for service, models in EVENT_CONSUMERS.items():
        queues.append(
            Queue(
                events_queue(service),
                service,
                "quorum",
                work_queue_arguments(),
                _bound(EVENTS_EXCHANGE, models),
            )
        )
    for service, models in BILLING_IN_CONSUMERS.items():
        queues.append(
            Queue(
                billing_in_queue(service),
                service,
                "quorum",
                work_queue_arguments(),
                _bound(BILLING_IN_EXCHANGE, models),
            )
        )
    for operation in operations():
        queues.append(Queue(operation.queue, operation.service, "classic", RPC_ARGUMENTS))
    return Topology(exchanges, tuple(queues))


TOPOLOGY = build()


# --- what a published message reaches -----------------------------------------------------------


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


def destinations(exchange: str, routing_key: str) -> Iterator[str]:
    """The queues (and ``gateway`` for what its processes follow) a message would reach."""
    for queue in TOPOLOGY.queues:
        for binding in queue.bindings:
            if binding.exchange != exchange:
                continue
            kind = TOPOLOGY.exchange(exchange).kind
            if kind == "fanout" or topic_matches(binding.routing_key, routing_key):
                yield queue.name
                break
    if exchange == EVENTS_EXCHANGE and routing_key in {m.SCHEMA for m in GATEWAY_FOLLOWS}:
        yield "gateway"


def event_schemas() -> dict[str, type[Envelope]]:
    """Every message schema the contracts define (every ``Envelope`` subclass with a schema)."""
    for name in CONTRACT_MODULES:
        importlib.import_module(name)
    found: dict[str, type[Envelope]] = {}
    pending = list(Envelope.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.SCHEMA and model.__module__.startswith("contracts."):
            found[model.SCHEMA] = model
    return found


def require_published(exchange: str, schema: str) -> None:
    """Refuse to emit a message the topology does not carry on ``exchange``: every emitted
    message must have a destination declared here first."""
    if schema not in PUBLISHED.get(exchange, ()):
        raise RuntimeError(
            f"{schema} is not published on {exchange} in contracts.topology:"
            " give it a destination there first"
        )


def schemas_without_destination() -> list[str]:
    """Schemas no exchange carries, or that reach no queue on an exchange that carries them."""
    problems = []
    carried = {schema for schemas in PUBLISHED.values() for schema in schemas}
    for schema in sorted(set(event_schemas()) - carried):
        problems.append(f"{schema}: published on no exchange of the topology")
    for exchange, schemas in PUBLISHED.items():
        for schema in sorted(schemas):
            if not any(destinations(exchange, schema)):
                problems.append(f"{schema} on {exchange}: no queue is bound for it")
    return problems
