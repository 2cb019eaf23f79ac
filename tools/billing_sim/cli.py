"""``ibok-billing-sim``: publish a data set to IBOK as the billing system would, or read what IBOK sends."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import aio_pika

from contracts import topology
from contracts.base import Envelope
from runtime.broker_topology import ensure_exchange
from runtime.settings import get_settings
from tools.billing_sim.dataset import build_dataset


async def publish(
    url: str, messages: list[Envelope], *, window: int = 500, retry_for: float = 0.0
) -> int:
    """Publish persistently with publisher confirms, ``window`` messages in flight at a time.

    With ``retry_for`` the publisher rides out a broker outage of up to that many seconds: what
    was not confirmed is published again, with its message id, once the connection is back (at
    least once, as the billing system sends; IBOK takes a message id once).
    """
    loop = asyncio.get_running_loop()
    connection = await aio_pika.connect_robust(url, reconnect_interval=0.5)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await ensure_exchange(channel, topology.BILLING_IN_EXCHANGE)

        async def one(m: Envelope) -> None:
            await exchange.publish(
                aio_pika.Message(
                    m.to_wire(),
                    content_type="application/json",
                    message_id=str(m.message_id),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=m.SCHEMA,
                timeout=30,
            )

        for start in range(0, len(messages), window):
            pending = messages[start : start + window]
            deadline = loop.time() + retry_for
            while pending:
                outcomes = await asyncio.gather(*map(one, pending), return_exceptions=True)
                failed = [(m, o) for m, o in zip(pending, outcomes, strict=True) if o is not None]
                if failed and loop.time() >= deadline:
                    raise failed[0][1]
                if failed:
                    await asyncio.sleep(0.5)
                pending = [m for m, _ in failed]
    return len(messages)


async def consume(url: str, limit: int | None, idle_timeout: float | None) -> int:
    """Print IBOK's outgoing messages as JSON lines, acknowledging each after printing."""
    connection = await aio_pika.connect_robust(url)
    count = 0
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(topology.BILLING_SYSTEM_QUEUE, ensure=True)
        async with queue.iterator(timeout=idle_timeout) as messages:
            try:
                async for message in messages:
                    async with message.process():
                        print(
                            json.dumps(
                                {
                                    "routing_key": message.routing_key,
                                    "body": json.loads(message.body),
                                },
                                ensure_ascii=False,
                            ),
                            flush=True,
                        )
                        count += 1
                    if limit and count >= limit:
                        break
            except TimeoutError:
                pass
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ibok-billing-sim", description=__doc__)
    parser.add_argument("--amqp-url", default=None, help="default: IBOK_AMQP_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="publish a deterministic data set to billing.in")
    pub.add_argument("--customers", type=int, default=50)
    pub.add_argument("--seed", type=int, default=1)
    pub.add_argument(
        "--months", type=int, default=24, help="months of invoices, payments and control readings"
    )
    ident = sub.add_parser(
        "identities", help="print customers' numbers and identity numbers (test data)"
    )
    ident.add_argument("--customers", type=int, default=50)
    ident.add_argument("--seed", type=int, default=1)
    con = sub.add_parser("consume", help="print what IBOK sends to the billing system")
    con.add_argument("--limit", type=int, default=None)
    con.add_argument(
        "--idle-timeout", type=float, default=None, help="stop after this many idle seconds"
    )
    args = parser.parse_args(argv)
    url = args.amqp_url or get_settings().amqp_url

    if args.command == "publish":
        dataset = build_dataset(args.customers, args.seed, months=args.months)
        count = asyncio.run(publish(url, list(dataset.messages())))
        print(f"published {count} messages for {args.customers} customers", file=sys.stderr)
    elif args.command == "identities":
        for c in build_dataset(args.customers, args.seed).customers:
            print(
                json.dumps(
                    {
                        "customer_number": c.number,
                        "kind": c.kind,
                        "name": c.name,
                        "identity_kind": c.identity_kind,
                        "identity_number": c.identity_number,
                        "contracts": [
                            {"number": k.contract_number, "status": k.status} for k in c.contracts
                        ],
                    },
                    ensure_ascii=False,
                )
            )
    else:
        count = asyncio.run(consume(url, args.limit, args.idle_timeout))
        print(f"consumed {count} messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
