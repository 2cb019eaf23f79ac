"""The declared topology: every event has a destination, every queue what RabbitMQ 4 needs."""

from __future__ import annotations

import pytest

from contracts import topology
from contracts.topology import TOPOLOGY, topic_matches


def test_every_event_schema_has_a_destination() -> None:
    assert topology.schemas_without_destination() == []


def test_every_schema_is_published_on_some_exchange() -> None:
    carried = set().union(*topology.PUBLISHED.values())
    assert set(topology.event_schemas()) <= carried


def test_an_event_nobody_consumes_is_found() -> None:
    assert "auth.account-activated.v1" not in topology.event_schemas()
    assert list(topology.destinations(topology.EVENTS_EXCHANGE, "nobody.listens.v1")) == []
    assert list(topology.destinations(topology.EVENTS_EXCHANGE, "auth.sessions-ended.v1")) == [
        "gateway"
    ]
    assert list(topology.destinations(topology.IBOK_OUT_EXCHANGE, "anything.v1")) == [
        topology.BILLING_SYSTEM_QUEUE
    ]


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("#", "a.b.c", True),
        ("#", "", True),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("*.b.#", "a.b", True),
        ("a.b.v1", "a.b.v1", True),
        ("a.b.v1", "a.b.v2", False),
    ],
)
def test_topic_matching_follows_amqp(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


def test_every_quorum_queue_limits_deliveries_and_dead_letters_at_least_once() -> None:
    for queue in TOPOLOGY.queues:
        if queue.kind != "quorum":
            continue
        assert isinstance(queue.arguments["x-delivery-limit"], int), queue.name
        assert queue.arguments["x-delivery-limit"] > 0, queue.name  # -1 drops on 3.x
        assert queue.arguments["x-overflow"] == "reject-publish", queue.name
        if queue.name == topology.DEAD_LETTER_QUEUE:
            assert "x-dead-letter-exchange" not in queue.arguments
            assert queue.arguments["x-delivery-limit"] == topology.END_QUEUE_DELIVERY_LIMIT
        else:
            assert queue.dead_letters_to == topology.DEAD_LETTER_EXCHANGE, queue.name
            assert queue.arguments["x-dead-letter-strategy"] == "at-least-once", queue.name


def test_every_queue_is_durable_and_rpc_queues_are_classic() -> None:
    rpc = {operation.queue for operation in topology.operations()}
    assert len(rpc) > 40
    for queue in TOPOLOGY.queues:
        assert queue.durable, queue.name
        assert queue.arguments["x-queue-type"] == queue.kind
        assert (queue.kind == "classic") == (queue.name in rpc), queue.name


def test_every_exchange_but_the_alternate_one_has_it() -> None:
    for exchange in TOPOLOGY.exchanges:
        if exchange.name == topology.UNROUTED_EXCHANGE:
            assert exchange.alternate is None
        else:
            assert exchange.arguments == {"alternate-exchange": topology.UNROUTED_EXCHANGE}
    unrouted = TOPOLOGY.queue(topology.UNROUTED_QUEUE)
    assert unrouted.bindings == (topology.Binding(topology.UNROUTED_EXCHANGE, ""),)


def test_consumers_own_their_queues() -> None:
    assert {q.owner for q in TOPOLOGY.queues} == {*topology.SERVICES, "ops", "billing-system"}
    notify = TOPOLOGY.queue(topology.events_queue("notify"))
    assert notify.owner == "notify"
    assert {b.routing_key for b in notify.bindings} == {
        m.SCHEMA for m in topology.EVENT_CONSUMERS["notify"]
    }
    assert [q.name for q in TOPOLOGY.owned_by("billing") if q.kind == "quorum"] == [
        topology.billing_in_queue("billing")
    ]
