"""Declaring ``contracts.topology`` on a RabbitMQ vhost, upgrading an older one, and checking one.

``declare`` is what every service (and the gateway) runs at start, before it publishes or
consumes: it declares the whole topology, idempotently, so no message depends on which service
started first. A service whose broker user may not configure the other services' queues (a
deployment with a user per service) falls back to declaring only its own queues and bindings and
checking passively that everything else exists: ``ibok migrate`` declares the rest.

A queue or exchange declared earlier with other arguments (the vhost of an older release) makes
RabbitMQ refuse the declaration (PRECONDITION_FAILED). A service then stops with a message
naming ``ibok migrate``, which ``upgrade`` runs: an exchange is deleted and declared again (it
holds no messages; the declaration binds again), and a queue is moved aside through a holding
queue with publisher confirms, declared anew and filled again, so no message is lost.

``check`` lists what a vhost really holds (``rabbitmqctl``) and names everything that RabbitMQ
4.3 would refuse or that breaks the topology's promises.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from contracts import topology
from contracts.topology import TOPOLOGY, Exchange, Queue, Topology
from runtime.logs import get_logger

log = get_logger(__name__)

_KINDS = {
    "topic": aio_pika.ExchangeType.TOPIC,
    "fanout": aio_pika.ExchangeType.FANOUT,
    "direct": aio_pika.ExchangeType.DIRECT,
}


class TopologyMismatch(RuntimeError):
    """The vhost holds a queue or exchange of the topology with other arguments."""


async def declare_exchange(channel: AbstractChannel, exchange: Exchange) -> AbstractExchange:
    return await channel.declare_exchange(
        exchange.name, _KINDS[exchange.kind], durable=True, arguments=exchange.arguments
    )


async def ensure_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The topology's exchange ``name``, declared as the topology says (for publishers)."""
    return await declare_exchange(channel, TOPOLOGY.exchange(name))


async def declare_queue(channel: AbstractChannel, queue: Queue, *, bind: bool = True) -> None:
    declared = await channel.declare_queue(
        queue.name, durable=queue.durable, arguments=dict(queue.arguments)
    )
    if bind:
        for binding in queue.bindings:
            await declared.bind(binding.exchange, routing_key=binding.routing_key)


async def declare_all(channel: AbstractChannel, part: Topology = TOPOLOGY) -> None:
    for exchange in part.exchanges:
        await declare_exchange(channel, exchange)
    for queue in part.queues:
        await declare_queue(channel, queue)


def _mismatch(exc: BaseException) -> TopologyMismatch:
    return TopologyMismatch(
        f"the broker holds part of the topology with other arguments ({exc}); "
        "run `ibok migrate` to upgrade the vhost"
    )


async def declare(url: str, service: str, extra: Iterable[Queue] = ()) -> str:
    """Declare the topology for ``service`` at its start: "all", or "own" when the broker lets
    this user configure only its own queues (the rest is then checked to exist). ``extra``
    queues are declared too (a test's own consumers)."""
    connection = await aio_pika.connect(
        url, client_properties={"connection_name": f"ibok-{service}-declare"}
    )
    async with connection:
        try:
            channel = await connection.channel()
            await declare_all(channel)
            for queue in extra:
                await declare_queue(channel, queue)
            return "all"
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise _mismatch(exc) from exc
        except aiormq.exceptions.ChannelAccessRefused as exc:
            log.info("topology.declare_own_part", service=service, refused=str(exc)[:200])
        channel = await connection.channel()
        try:
            for exchange in TOPOLOGY.exchanges:
                await channel.declare_exchange(exchange.name, passive=True)
            for queue in TOPOLOGY.owned_by(service):
                await declare_queue(channel, queue)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise _mismatch(exc) from exc
        except aiormq.exceptions.ChannelNotFoundEntity as exc:
            raise RuntimeError(f"the topology is not declared ({exc}): run `ibok migrate`") from exc
        return "own"


# --- upgrading an older vhost -------------------------------------------------------------------


async def _refused(connection: AbstractConnection, declaration: Any) -> bool:
    """Whether the broker refuses this declaration as inequivalent (on a channel of its own)."""
    channel = await connection.channel()
    try:
        await declaration(channel)
    except aiormq.exceptions.ChannelPreconditionFailed:
        return True
    await channel.close()
    return False


async def _move(channel: AbstractChannel, source: str, target: str) -> int:
    """Move every message of ``source`` to ``target`` (confirmed before acknowledged)."""
    queue = await channel.declare_queue(source, passive=True)
    moved = 0
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                headers=message.headers,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=target,
        )
        await message.ack()
        moved += 1
    return moved


async def _recreate_queue(connection: AbstractConnection, queue: Queue) -> int:
    """Declare ``queue`` anew with the topology's arguments, keeping its messages."""
    holding = f"{queue.name}.upgrading"
    channel = await connection.channel(publisher_confirms=True)
    await channel.declare_queue(holding, durable=True, arguments={"x-queue-type": "quorum"})
    kept = 0
    if await _exists(connection, queue.name):  # gone already when an upgrade was interrupted
        kept = await _drain_and_delete(channel, queue.name, holding)
    await declare_queue(channel, queue, bind=False)
    await _drain_and_delete(channel, holding, queue.name)
    await channel.close()
    return kept


async def _drain_and_delete(channel: AbstractChannel, source: str, target: str) -> int:
    """Move ``source``'s messages to ``target`` until it is found empty, then delete it (quorum
    queues do not take ``if-empty``; no exchange routes to it by then)."""
    moved = 0
    while True:
        moved += await _move(channel, source, target)
        queue = await channel.declare_queue(source, passive=True)
        if not queue.declaration_result.message_count:
            await channel.queue_delete(source)
            return moved


async def _exists(connection: AbstractConnection, queue: str) -> bool:
    channel = await connection.channel()
    try:
        await channel.declare_queue(queue, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return False
    await channel.close()
    return True


async def upgrade(url: str) -> list[str]:
    """Declare the whole topology, first replacing what an older release declared otherwise;
    what was replaced (``ibok migrate``; run it while the services are stopped)."""
    changed: list[str] = []
    connection = await aio_pika.connect(url, client_properties={"connection_name": "ibok-migrate"})
    async with connection:
        # First where unroutable messages go: while an exchange is declared again its bindings
        # are gone, and what is published meanwhile waits in ibok.unrouted (`ibok unrouted`).
        unrouted = Topology(
            (TOPOLOGY.exchange(topology.UNROUTED_EXCHANGE),),
            (TOPOLOGY.queue(topology.UNROUTED_QUEUE),),
        )
        await declare_all(await connection.channel(), unrouted)
        for exchange in TOPOLOGY.exchanges:
            if await _refused(connection, lambda ch, e=exchange: declare_exchange(ch, e)):
                channel = await connection.channel()
                await channel.exchange_delete(exchange.name)
                await channel.close()
                changed.append(f"exchange {exchange.name}: declared again")
        for queue in TOPOLOGY.queues:
            if await _exists(connection, f"{queue.name}.upgrading"):
                # Left by an interrupted upgrade: declared anew, its messages go back.
                log.warning("topology.unfinished_upgrade", queue=queue.name)
                kept = await _recreate_queue(connection, queue)
                changed.append(f"queue {queue.name}: upgrade finished, {kept} message(s) kept")
            elif await _refused(connection, lambda ch, q=queue: declare_queue(ch, q, bind=False)):
                kept = await _recreate_queue(connection, queue)
                changed.append(f"queue {queue.name}: declared again, {kept} message(s) kept")
        await declare_all(await connection.channel())
    for line in changed:
        log.info("topology.upgraded", change=line)
    return changed


# --- checking a running vhost -------------------------------------------------------------------


def _rabbitmqctl(*args: str) -> list[dict[str, Any]]:
    listed = subprocess.run(  # noqa: S603 - the broker's own CLI, fixed arguments
        ["rabbitmqctl", "-q", *args, "--formatter", "json"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return list(json.loads(listed.stdout or "[]"))


def _arguments(value: Any) -> dict[str, Any]:
    """``rabbitmqctl``'s arguments (``[name, type, value]`` triples) as a dict."""
    if isinstance(value, dict):
        return value
    return {str(item[0]): item[-1] for item in value or [] if isinstance(item, list | tuple)}


def list_vhost(
    vhost: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(queues, exchanges, bindings) of ``vhost`` as the broker holds them."""
    queues = _rabbitmqctl(
        "list_queues",
        "-p",
        vhost,
        "name",
        "type",
        "durable",
        "exclusive",
        "auto_delete",
        "arguments",
    )
    exchanges = _rabbitmqctl("list_exchanges", "-p", vhost, "name", "type", "durable", "arguments")
    bindings = _rabbitmqctl(
        "list_bindings",
        "-p",
        vhost,
        "source_name",
        "destination_name",
        "destination_kind",
        "routing_key",
    )
    return queues, exchanges, bindings


def problems_in(
    queues: Iterable[dict[str, Any]],
    exchanges: Iterable[dict[str, Any]],
    bindings: Iterable[dict[str, Any]],
) -> list[str]:
    """What in a vhost's listing RabbitMQ 4.3 refuses or the topology does not allow."""
    problems: list[str] = []
    queues, exchanges, bindings = list(queues), list(exchanges), list(bindings)
    held = {q["name"]: q for q in queues}
    for q in queues:
        name, args = q["name"], _arguments(q.get("arguments"))
        kind = q.get("type") or args.get("x-queue-type") or "classic"
        if kind == "classic" and not q.get("durable") and not q.get("exclusive"):
            problems.append(f"queue {name}: classic, neither durable nor exclusive (4.3 refuses)")
        if kind == "quorum":
            if "x-delivery-limit" not in args:
                problems.append(f"queue {name}: quorum without an explicit x-delivery-limit")
            if name != topology.DEAD_LETTER_QUEUE:
                if not args.get("x-dead-letter-exchange"):
                    problems.append(f"queue {name}: quorum without a dead-letter exchange")
                if args.get("x-dead-letter-strategy") != "at-least-once":
                    problems.append(f"queue {name}: dead-lettering not at-least-once")
    for e in exchanges:
        name = e["name"]
        ours = name.startswith("ibok.") or name in {x.name for x in TOPOLOGY.exchanges}
        if not ours or name == topology.UNROUTED_EXCHANGE:
            continue
        if not _arguments(e.get("arguments")).get("alternate-exchange"):
            problems.append(f"exchange {name}: no alternate exchange")
    for expected in TOPOLOGY.queues:
        found = held.get(expected.name)
        if found is None:
            problems.append(f"queue {expected.name}: missing")
            continue
        args = _arguments(found.get("arguments"))
        for key, value in expected.arguments.items():
            if args.get(key) != value:
                problems.append(f"queue {expected.name}: {key} is {args.get(key)!r}, not {value!r}")
    routes: dict[str, list[tuple[str, str]]] = {}
    for b in bindings:
        routes.setdefault(b["source_name"], []).append((b["routing_key"], b["destination_name"]))
    fanout = {e["name"] for e in exchanges if e.get("type") == "fanout"}
    for exchange, schemas in topology.PUBLISHED.items():
        for schema in sorted(schemas):
            if not any(
                exchange in fanout or topology.topic_matches(key, schema)
                for key, _ in routes.get(exchange, [])
            ):
                problems.append(f"{schema} on {exchange}: no destination in the vhost")
    return problems


def check(vhost: str) -> list[str]:
    """The problems of a running vhost (none when it is as the topology wants it); the
    gateway's events have their destination only while a gateway runs."""
    return problems_in(*list_vhost(vhost)) + topology.schemas_without_destination()


async def unrouted_count(connection: AbstractConnection) -> int | None:
    """Messages waiting in ``ibok.unrouted`` (None when the queue cannot be seen)."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(topology.UNROUTED_QUEUE, passive=True)
        return int(queue.declaration_result.message_count or 0)
    except (TimeoutError, aiormq.exceptions.AMQPError):
        return None
    finally:
        if not channel.is_closed:
            await channel.close()
