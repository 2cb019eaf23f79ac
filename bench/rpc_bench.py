"""RPC round trip through the runtime's RpcServer and RpcClient alone, on a vhost of its own.

No service and no database behind it: the handler answers at once, so the figures are the
broker's and the two runtimes' share of every request (what the request queue's kind changes).
``python -m bench.rpc_bench [--calls 2000] [--smoke]``: sequential calls, then 32 concurrent
callers. It prints only (its table in docs/performance.md was written by hand).
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry

from bench.common import arguments, machine_load, parse, sandbox
from contracts.maintenance import GET_MAINTENANCE, MaintenanceState, MaintenanceStateQuery
from runtime.rpc_client import RpcClient
from runtime.rpc_server import RpcServer


async def answer(_: MaintenanceStateQuery) -> MaintenanceState:
    return MaintenanceState(on=False)


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[max(int(len(values) * q) - 1, 0)] * 1000


async def measure(url: str, calls: int) -> str:
    server = RpcServer(url, service="auth", prefetch=64, registry=CollectorRegistry())
    server.answer(GET_MAINTENANCE, answer)
    await server.start()
    client = RpcClient(url, timeout=5)
    await client.start()
    try:
        for _ in range(min(200, calls)):  # warm up
            await client.call(GET_MAINTENANCE, MaintenanceStateQuery())
        sequential = []
        for _ in range(calls):
            started = time.perf_counter()
            await client.call(GET_MAINTENANCE, MaintenanceStateQuery())
            sequential.append(time.perf_counter() - started)
        concurrent: list[float] = []

        async def caller(n: int) -> None:
            for _ in range(n):
                started = time.perf_counter()
                await client.call(GET_MAINTENANCE, MaintenanceStateQuery())
                concurrent.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(caller(calls // 32) for _ in range(32)))
        rate = len(concurrent) / (time.perf_counter() - began)
    finally:
        await client.stop()
        await server.stop()
    return (
        f"sequential p50 {quantile(sequential, 0.5):.2f} ms, p99 {quantile(sequential, 0.99):.2f}"
        f" ms; 32 concurrent {rate:.0f}/s, p50 {quantile(concurrent, 0.5):.1f} ms,"
        f" p99 {quantile(concurrent, 0.99):.1f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parse(parser, argv, calls=64)
    with sandbox() as infra:
        print(f"### RPC round trip (bench/rpc_bench.py), {args.calls} calls; {machine_load()}")
        print(asyncio.run(measure(infra.amqp_url, args.calls)))


if __name__ == "__main__":
    main()
