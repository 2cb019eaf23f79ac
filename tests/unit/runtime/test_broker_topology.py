"""The vhost check on listings as rabbitmqctl prints them, and the retry headers of a copy."""

from __future__ import annotations

from contracts import topology
from runtime import broker_topology
from runtime.messaging import attempts_of, copy_headers


def _args(**values: object) -> list[list[object]]:
    return [[key.replace("_", "-"), "longstr", value] for key, value in values.items()]


def test_the_check_names_each_thing_rabbitmq_4_refuses() -> None:
    problems = broker_topology.problems_in(
        [
            {"name": "ibok.x.rpc.op.v1", "type": "classic", "durable": False, "exclusive": False},
            {"name": "reply", "type": "classic", "durable": False, "exclusive": True},
            {"name": "ibok.x.events", "type": "quorum", "durable": True, "arguments": []},
        ],
        [
            {"name": "ibok.events", "type": "topic", "arguments": []},
            {"name": "amq.topic", "type": "topic", "arguments": []},
            {"name": "test.other", "type": "topic", "arguments": []},
        ],
        [],
    )
    assert (
        "queue ibok.x.rpc.op.v1: classic, neither durable nor exclusive (4.3 refuses)" in problems
    )
    assert not [p for p in problems if p.startswith("queue reply")]
    assert "queue ibok.x.events: quorum without an explicit x-delivery-limit" in problems
    assert "queue ibok.x.events: quorum without a dead-letter exchange" in problems
    assert "queue ibok.x.events: dead-lettering not at-least-once" in problems
    assert "exchange ibok.events: no alternate exchange" in problems
    assert not [p for p in problems if "amq.topic" in p or "test.other" in p]
    assert f"queue {topology.DEAD_LETTER_QUEUE}: missing" in problems
    assert "auth.sessions-ended.v1 on ibok.events: no destination in the vhost" in problems


def test_a_vhost_as_declared_has_no_problem() -> None:
    queues = [
        {
            "name": q.name,
            "type": q.kind,
            "durable": True,
            "exclusive": False,
            "arguments": _args(**{k.replace("-", "_"): v for k, v in q.arguments.items()}),
        }
        for q in topology.TOPOLOGY.queues
    ]
    exchanges = [
        {"name": e.name, "type": e.kind, "arguments": _args(alternate_exchange=e.alternate)}
        if e.alternate
        else {"name": e.name, "type": e.kind, "arguments": []}
        for e in topology.TOPOLOGY.exchanges
    ]
    bindings = [
        {"source_name": b.exchange, "destination_name": q.name, "routing_key": b.routing_key}
        for q in topology.TOPOLOGY.queues
        for b in q.bindings
    ] + [
        {
            "source_name": topology.EVENTS_EXCHANGE,
            "destination_name": "amq.gen-1",
            "routing_key": m.SCHEMA,
        }
        for m in topology.GATEWAY_FOLLOWS
    ]
    assert broker_topology.problems_in(queues, exchanges, bindings) == []


def test_a_retried_copy_counts_its_attempts_and_keeps_where_it_came_from() -> None:
    delivered = {"x-delivery-count": 3, "x-correlation-id": "c1"}
    first = copy_headers(delivered, "ibok.events", "auth.x.v1", **{topology.ATTEMPTS_HEADER: 1})
    assert first == {
        "x-correlation-id": "c1",
        "x-ibok-source-exchange": "ibok.events",
        "x-ibok-source-routing-key": "auth.x.v1",
        topology.ATTEMPTS_HEADER: 1,
    }
    # The copy comes back through the default exchange; its origin stays the first one.
    second = copy_headers(first, "", "ibok.notify.events", **{topology.ATTEMPTS_HEADER: 2})
    assert second["x-ibok-source-exchange"] == "ibok.events"
    assert second["x-ibok-source-routing-key"] == "auth.x.v1"
    assert attempts_of(second) == 2
    assert attempts_of(None) == 0
    assert attempts_of({topology.ATTEMPTS_HEADER: "x"}) == 0
