"""What is left in a vhost's queues: for tests that must end with every queue drained."""

from __future__ import annotations

import asyncio
import subprocess
import time

import aio_pika

from tests.support.infra import Infra


def _list_queues(vhost: str, *columns: str, node: str | None = None) -> list[list[str]]:
    """``rabbitmqctl list_queues`` of ``vhost``: the queue's name and ``columns``, one list a
    queue; of the machine's node, or of ``node`` (a test's own, tests/support/own_servers.py)."""
    at = ["-n", node] if node else []
    listed = subprocess.run(
        ["rabbitmqctl", "-q", *at, "list_queues", "-p", vhost, "name", *columns],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.splitlines()
    return [line.split("\t") for line in listed]


def queue_messages(vhost: str, node: str | None = None) -> dict[str, int]:
    """Messages in every non-exclusive queue of ``vhost``, ready and unacknowledged together
    (a message being handled is not done). Exclusive queues are reply-to and test taps."""
    return {
        fields[0]: int(fields[1])
        for fields in _list_queues(vhost, "messages", "exclusive", node=node)
        if len(fields) == 3 and fields[1].isdigit() and fields[2] != "true"
    }


def queue_states(vhost: str, node: str | None = None) -> dict[str, tuple[int, int, int]]:
    """(ready, unacknowledged, consumers) of every queue of ``vhost``: what a stuck test shows."""
    columns = ("messages_ready", "messages_unacknowledged", "consumers")
    return {
        name: (int(figures[0]), int(figures[1]), int(figures[2]))
        for name, *figures in _list_queues(vhost, *columns, node=node)
        if len(figures) == 3 and all(f.isdigit() for f in figures)
    }


async def ready_count(infra: Infra, queue: str) -> int:
    """Messages ready in ``queue``, as a passive declare reports them."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def wait_drained(
    infra: Infra, timeout: float = 60, node: str | None = None
) -> dict[str, int]:
    """Wait until every queue of the vhost is empty; the depths found (all zero).

    ``ibok.unrouted`` is left out: the gateway's signals (sessions ended, maintenance, billing
    data changed) land there by design while no gateway queue is bound (no gateway running, or
    its exclusive queue gone with a broker restart); tests/integration/test_outbox_relay.py
    checks what reaches it."""
    deadline = time.monotonic() + timeout
    while True:
        depths = await asyncio.to_thread(queue_messages, infra.vhost, node)
        depths.pop("ibok.unrouted", None)
        if not any(depths.values()):
            return depths
        if time.monotonic() > deadline:
            raise AssertionError(f"queues not drained within {timeout} s: {depths}")
        await asyncio.sleep(0.5)
