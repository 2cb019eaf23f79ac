"""What the running system declares on its vhost, as RabbitMQ lists it, against what RabbitMQ 4.3
refuses and what the topology promises; and the upgrade of a vhost an older release declared."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import aio_pika

from contracts import topology
from runtime import broker_topology
from tests.support.infra import Infra, rabbitmqctl
from tools.system import System


def test_the_running_system_declares_nothing_rabbitmq_4_refuses(
    system: System, infra: Infra
) -> None:
    """Listed with rabbitmqctl after the suite's five services started: no classic queue that is
    neither durable nor exclusive, every quorum queue with its delivery limit and at-least-once
    dead-lettering, every IBOK exchange with the alternate exchange, every event schema routed
    to a queue (the gateway's signals to its processes' exclusive queues)."""
    queues, exchanges, bindings = broker_topology.list_vhost(infra.vhost)
    assert broker_topology.problems_in(queues, exchanges, bindings) == []
    assert topology.schemas_without_destination() == []
    names = {q["name"] for q in queues}
    assert {q.name for q in topology.TOPOLOGY.queues} <= names
    # The same check as the operator runs it (after `make run`, on the demo's vhost).
    checked = subprocess.run(
        [sys.executable, "-m", "tools.ops", "topology", "check", "--vhost", infra.vhost],
        env={**os.environ, "IBOK_AMQP_URL": infra.amqp_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (checked.returncode, checked.stdout) == (0, ""), checked.stderr
    assert "0 problem(s)" in checked.stderr


def test_the_check_names_what_rabbitmq_4_refuses(own_vhost: Infra) -> None:
    """Declarations as the release before this one made them, listed from a real vhost."""
    asyncio.run(declare_as_before(own_vhost.amqp_url, messages=0))
    problems = broker_topology.check(own_vhost.vhost)
    rpc = topology.operations()[0].queue
    assert f"queue {rpc}: classic, neither durable nor exclusive (4.3 refuses)" in problems
    assert f"queue {topology.DEAD_LETTER_QUEUE}: quorum without an explicit x-delivery-limit" in (
        problems
    )
    assert f"queue {topology.BILLING_SYSTEM_QUEUE}: dead-lettering not at-least-once" in problems
    assert f"exchange {topology.EVENTS_EXCHANGE}: no alternate exchange" in problems
    assert f"queue {topology.UNROUTED_QUEUE}: missing" in problems


def test_migrate_upgrades_an_older_vhost_keeping_its_messages(own_vhost: Infra) -> None:
    """The demo's vhost holds queues and exchanges declared with the older arguments, some with
    messages: `ibok migrate` declares them anew and keeps every message; the services then
    start on it (their declaration equals what is there)."""
    asyncio.run(declare_as_before(own_vhost.amqp_url, messages=3))
    changes = asyncio.run(broker_topology.upgrade(own_vhost.amqp_url))
    assert f"queue {topology.BILLING_SYSTEM_QUEUE}: declared again, 3 message(s) kept" in changes
    assert f"exchange {topology.EVENTS_EXCHANGE}: declared again" in changes
    problems = broker_topology.check(own_vhost.vhost)
    # No gateway runs here, so its signals have no queue yet; nothing else is wrong.
    assert [p for p in problems if "no destination in the vhost" not in p] == []
    assert sorted(p.split()[0] for p in problems) == sorted(
        m.SCHEMA for m in topology.GATEWAY_FOLLOWS
    )
    assert asyncio.run(messages_in(own_vhost.amqp_url, topology.BILLING_SYSTEM_QUEUE)) == 3
    # A second run finds nothing to change; a service's declaration is accepted.
    assert asyncio.run(broker_topology.upgrade(own_vhost.amqp_url)) == []
    assert asyncio.run(broker_topology.declare(own_vhost.amqp_url, "billing")) == "all"


async def declare_as_before(url: str, *, messages: int) -> None:
    """The topology as the release before this one declared it (runtime/messaging.py then):
    exchanges without arguments, quorum queues with a delivery limit of 5 and a dead-letter
    exchange only, the dead-letter queue with neither, RPC queues transient and shared."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        kinds = {"topic": aio_pika.ExchangeType.TOPIC, "fanout": aio_pika.ExchangeType.FANOUT}
        for exchange in topology.TOPOLOGY.exchanges:
            if exchange.name != topology.UNROUTED_EXCHANGE:
                await channel.declare_exchange(exchange.name, kinds[exchange.kind], durable=True)
        dead = await channel.declare_queue(
            topology.DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.bind(topology.DEAD_LETTER_EXCHANGE, routing_key="")
        old = {
            "x-queue-type": "quorum",
            "x-delivery-limit": 5,
            "x-dead-letter-exchange": topology.DEAD_LETTER_EXCHANGE,
        }
        for queue in topology.TOPOLOGY.queues:
            if queue.kind == "quorum" and queue.owner != "ops":
                declared = await channel.declare_queue(queue.name, durable=True, arguments=old)
                for binding in queue.bindings:
                    await declared.bind(binding.exchange, routing_key=binding.routing_key)
            elif queue.kind == "classic":
                await channel.declare_queue(queue.name, durable=False, auto_delete=False)
        out = await channel.get_exchange(topology.IBOK_OUT_EXCHANGE)
        for n in range(messages):
            await out.publish(
                aio_pika.Message(b"{}", message_id=f"m{n}", delivery_mode=2),
                routing_key="reading.submitted.v1",
            )


async def messages_in(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


def test_a_service_whose_user_may_configure_only_its_own_queues_still_starts(
    own_vhost: Infra,
) -> None:
    """With a broker user per service, billing may configure only ``ibok.billing.*``: once
    `ibok migrate` declared the topology, billing's declaration falls back to its own queues
    and passive checks instead of failing on the shared exchanges."""
    asyncio.run(broker_topology.upgrade(own_vhost.amqp_url))
    user = f"ibok-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_user", user, "billing-only")
    try:
        rabbitmqctl(
            "set_permissions", "-p", own_vhost.vhost, user, r"^ibok\.billing\..*", ".*", ".*"
        )
        url = own_vhost.amqp_url.replace("guest:guest@", f"{user}:billing-only@")
        assert asyncio.run(broker_topology.declare(url, "billing")) == "own"
    finally:
        rabbitmqctl("delete_user", user)
