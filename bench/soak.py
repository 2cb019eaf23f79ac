"""Soak: N minutes of mixed traffic under random real faults, then an exactly-once check.

    python -m bench.soak --minutes 30          # the report of docs/reliability.md ("Soak")
    python -m bench.soak --smoke               # about 20 s of traffic, one fault (a test runs it)

The system runs on servers of its own (tests/support/own_servers.py): a RabbitMQ node, reached
by the services through a TCP proxy with a 2 s heartbeat, and a PostgreSQL cluster. Traffic,
each kind in its own loop until the time is up: registrations (register, confirm by email),
logins, customer readings through the gateway (a customer of 20 meters at a time, 4 clients),
complaints (with an Idempotency-Key, sent again until answered), billing imports (invoices
published by the billing system's publisher, which publishes again what was not confirmed) and
one terms fan-out halfway. Faults, one at a time at random intervals, each kind in turn in a
shuffled order: the broker node stopped and started, the postmaster SIGKILLed and started
again (crash recovery), the broker connection silent without closing (half-open) for 10 s.

Then, with the traffic stopped: every outbox row published, every queue empty, the billing
system's queue taken, and what the clients were told compared with what is stored and emitted:
every accepted reading stored and emitted once; every confirmed invoice applied once by billing
and settled once by readings; every registration answered 201 (or 409 after an unclear answer)
one account with one verification email; every complaint answered 201 stored once; every terms
fan-out done, one inbox message per recipient; nothing parked, nothing dead-lettered. The exit
status is 0 only if all of it holds; the report says what was found.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
from aiormq.exceptions import AMQPError

from bench.common import system_env
from contracts import notify, topology
from contracts.base import Envelope
from contracts.billing_system import ContractUpserted, CustomerUpserted, MeterUpserted
from runtime.clock import business_today
from runtime.rpc_client import RpcClient, RpcProblem, RpcTimeout, RpcUnavailable
from tests.support.bulk import copied_invoices
from tests.support.customers import PASSWORD, registration
from tests.support.infra import Infra, create_database, free_port
from tests.support.mail import MailSink, link_token
from tests.support.own_servers import OwnPostgres, OwnRabbit, running_system
from tests.support.queues import queue_messages
from tests.support.readings import TODAY, extra_customer, meter_for
from tests.support.readings_burst import (
    Burst,
    burst_days,
    check_readings_once,
    session_headers,
    submit_readings,
    take_billing_system_queue,
)
from tests.support.tcp_proxy import TcpProxy
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset, SimCustomer
from tools.system import SERVICE_ORDER, System

HEARTBEAT = 2
FAULTS = ("broker-restart", "postgres-kill", "half-open")
READINGS_METERS = 20
READINGS_DAYS = 20
READINGS_CLIENTS = 4
IMPORT_BATCH = 500
SCHEMAS = ("auth", "billing", "readings", "notify")


@dataclass
class Servers:
    rabbit: OwnRabbit
    postgres: OwnPostgres
    proxy: TcpProxy
    mail: MailSink
    infra: Infra  # the services' database; the broker directly (not through the proxy)
    system: System


@dataclass
class Ledger:
    """What the clients were told, kind by kind, and the faults with their figures."""

    faults: list[dict[str, Any]] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    registered: dict[str, str] = field(default_factory=dict)  # customer number -> email
    unclear_registrations: set[str] = field(default_factory=set)
    complaints: dict[str, str] = field(default_factory=dict)  # idempotency key -> complaint id
    invoices: list[Any] = field(default_factory=list)  # confirmed by the broker
    bursts: list[tuple[str, Burst]] = field(default_factory=list)
    terms_jobs: list[str] = field(default_factory=list)


@contextmanager
def servers(log_dir: Path) -> Iterator[Servers]:
    """Own RabbitMQ node and PostgreSQL cluster, a proxy, a mail sink and the five services."""
    with ExitStack() as stack:
        rabbit = OwnRabbit()
        stack.callback(rabbit.remove)
        postgres = OwnPostgres()
        stack.callback(postgres.remove)
        rabbit.start()
        postgres.start()
        proxy = TcpProxy("127.0.0.1", rabbit.port, free_port()).start()
        stack.callback(proxy.stop)
        mail = MailSink(free_port()).start()
        stack.callback(mail.stop)
        infra = Infra(postgres.base_dsn, rabbit.base_url, "ibok_soak", "/")
        asyncio.run(create_database(postgres.base_dsn, infra.database))
        env = system_env(
            infra,
            IBOK_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{proxy.port}/{quote('/', safe='')}"
            f"?heartbeat={HEARTBEAT}",
            IBOK_SMTP_HOST="127.0.0.1",
            IBOK_SMTP_PORT=str(mail.port),
            IBOK_RPC_TIMEOUT="5",
            IBOK_SESSION_CACHE_SECONDS="5",
            IBOK_LOG_LEVEL="INFO",
            IBOK_ARGON2_MEMORY_KIB="8192",
            IBOK_ARGON2_TIME_COST="1",
        )
        system = stack.enter_context(running_system(env, log_dir))
        yield Servers(rabbit, postgres, proxy, mail, infra, system)


# --- faults ----------------------------------------------------------------------------------


def inject(kind: str, s: Servers) -> dict[str, Any]:
    """One fault, then wait until every service is ready again; its figures."""
    started = time.monotonic()
    figures: dict[str, Any] = {"fault": kind}
    if kind == "broker-restart":
        figures["stopping_s"], figures["starting_s"] = s.rabbit.restart()
    elif kind == "postgres-kill":
        figures["backends"], _ = s.postgres.kill()
        time.sleep(3)
        figures["recovery_s"] = s.postgres.start()
    else:
        s.proxy.stall()
        time.sleep(10)
        s.proxy.resume()
    back = time.monotonic()
    s.system.wait_ready(SERVICE_ORDER, timeout=120)
    figures["ready_after_s"] = time.monotonic() - back
    figures["total_s"] = time.monotonic() - started
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}


async def faults(s: Servers, ledger: Ledger, until: float, rng: random.Random, gap: float) -> None:
    order: list[str] = []
    started = time.monotonic()
    while True:
        await asyncio.sleep(rng.uniform(gap * 0.5, gap * 1.5))
        if time.monotonic() > until - 5 and ledger.faults:
            return
        if not order:
            order = rng.sample(FAULTS, len(FAULTS))
        kind = order.pop()
        at = time.monotonic() - started
        figures = await asyncio.to_thread(inject, kind, s)
        ledger.faults.append({"at_s": round(at), **figures})
        print(f"  fault at {at:.0f} s: {figures}", flush=True)


# --- traffic ---------------------------------------------------------------------------------


async def until_answered(
    call: Callable[[], Awaitable[httpx.Response]],
    ledger: Ledger,
    kind: str,
    until: float,
) -> httpx.Response | None:
    """Send again (after 0.5 s) while the answer is 5xx or no answer; None if time ran out."""
    while time.monotonic() < until:
        try:
            answer = await call()
        except httpx.HTTPError:
            ledger.requests[f"{kind} failed"] += 1
        else:
            ledger.requests[f"{kind} {answer.status_code}"] += 1
            if answer.status_code < 500:
                return answer
        await asyncio.sleep(0.5)
    return None


async def log_in(gateway: str, login: str, ledger: Ledger, until: float) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=gateway, timeout=30)
    answer = await until_answered(
        lambda: client.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD}),
        ledger,
        "login",
        until,
    )
    if answer is None or answer.status_code != 200:
        await client.aclose()
        raise RuntimeError(f"login {login}: {answer.status_code if answer else 'no answer'}")
    client.headers["X-CSRF-Token"] = client.cookies["ibok_csrf"]
    return client


async def register(
    s: Servers, customer: SimCustomer, login: str, ledger: Ledger, until: float
) -> bool:
    """Register and confirm by email; True when the account is usable."""
    gateway = s.system.url("gateway")
    body = registration(customer, login)
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        unclear = False
        while time.monotonic() < until:
            try:
                answer = await client.post("/api/v1/auth/register", json=body)
                status = str(answer.status_code)
            except httpx.HTTPError:
                status = "failed"
            ledger.requests[f"register {status}"] += 1
            if status == "201" or (status == "409" and unclear):
                ledger.registered[customer.number] = body["email"]
                break
            if status not in ("failed", "503", "504"):
                raise RuntimeError(f"registration of {customer.number}: {status}")
            unclear = True
            ledger.unclear_registrations.add(customer.number)
            await asyncio.sleep(0.5)
        else:
            return False
        try:
            email = await asyncio.to_thread(s.mail.wait_for, body["email"], 120)
        except AssertionError:
            return False
        verified = await until_answered(
            lambda: client.post("/api/v1/auth/verify-email", json={"token": link_token(email)}),
            ledger,
            "verify",
            until,
        )
        return verified is not None and verified.status_code == 204


async def registrations(
    s: Servers, ledger: Ledger, until: float, customers: list[SimCustomer], pause: float
) -> None:
    for i, customer in enumerate(customers):
        if time.monotonic() > until:
            return
        if await register(s, customer, f"soak.reg{i}", ledger, until):
            client = await log_in(s.system.url("gateway"), f"soak.reg{i}", ledger, until)
            await client.aclose()
        await asyncio.sleep(pause)


async def logins(s: Servers, ledger: Ledger, until: float, logins_of: list[str]) -> None:
    while time.monotonic() < until:
        for login in logins_of:
            if time.monotonic() > until:
                return
            try:
                client = await log_in(s.system.url("gateway"), login, ledger, until)
            except RuntimeError:
                continue
            await client.aclose()
            await asyncio.sleep(0.5)


async def readings(s: Servers, ledger: Ledger, until: float, customers: list[SimCustomer]) -> None:
    """One customer after another, each with its meters read on every day by 4 clients."""
    for i, customer in enumerate(customers):
        if time.monotonic() > until:
            return
        client = await log_in(s.system.url("gateway"), f"soak.read{i}", ledger, until)
        session = session_headers(client)
        await client.aclose()
        burst = Burst()
        ledger.bursts.append((customer.number, burst))
        serials = [m.serial for m in customer.meters]
        await submit_readings(
            s.system.url("gateway"),
            session,
            serials,
            burst_days(READINGS_DAYS),
            READINGS_CLIENTS,
            burst,
        )


async def complaints(s: Servers, ledger: Ledger, until: float, login: str) -> None:
    client = await log_in(s.system.url("gateway"), login, ledger, until)
    try:
        n = 0
        while time.monotonic() < until:
            n += 1
            key = f"soak-{uuid.uuid4()}"
            body = {
                "subject": f"Reklamacja {n}",
                "description": "Zużycie jest wyższe niż zwykle.",
                "expected_resolution": "Korekta faktury",
            }
            current = client

            async def file(
                c: httpx.AsyncClient = current, b: dict[str, str] = body, k: str = key
            ) -> httpx.Response:
                return await c.post("/api/v1/complaints", json=b, headers={"Idempotency-Key": k})

            answer = await until_answered(file, ledger, "complaint", until)
            if answer is not None and answer.status_code == 201:
                ledger.complaints[key] = answer.json()["complaint_id"]
            elif answer is not None and answer.status_code == 401:
                await client.aclose()
                client = await log_in(s.system.url("gateway"), login, ledger, until)
            await asyncio.sleep(1)
    finally:
        await client.aclose()


async def imports(
    s: Servers, ledger: Ledger, until: float, contracts: list[tuple[str, str]], pause: float
) -> None:
    batch = 0
    while time.monotonic() < until:
        batch += 1
        invoices = copied_invoices(contracts, IMPORT_BATCH, f"FV/SK/{batch:04d}")
        # The publisher rides out a lost connection while publishing; one lost while it
        # opens its channel ends the call, so the batch is published again (same message ids).
        while True:
            try:
                await publish(s.infra.amqp_url, list(invoices), window=250, retry_for=180)
                break
            except (TimeoutError, AMQPError, ConnectionError, OSError) as error:
                ledger.requests[f"import {type(error).__name__}"] += 1
                await asyncio.sleep(1)
        ledger.invoices.extend(invoices)
        await asyncio.sleep(pause)


async def terms_fanout(s: Servers, ledger: Ledger, at: float, until: float) -> None:
    """Staff publish new terms halfway (asked again while the answer is a timeout or the
    broker is away: a request that timed out may have been done, so there may be two)."""
    await asyncio.sleep(at)
    rpc = RpcClient(s.infra.amqp_url, timeout=30, name="soak-staff")
    await rpc.start()
    try:
        while time.monotonic() < until + 60:
            try:
                published = await rpc.call(
                    notify.PUBLISH_TERMS,
                    notify.PublishTerms(
                        text="Regulamin IBOK, wersja z próby obciążeniowej.",
                        effective_on=business_today(),
                        published_by="soak",
                    ),
                )
            except (RpcTimeout, RpcUnavailable, RpcProblem) as error:
                # A problem other than 503 (notify's database away: nothing done) is a failure.
                if isinstance(error, RpcProblem) and error.problem.status != 503:
                    raise
                ledger.requests[f"terms {type(error).__name__}"] += 1
                await asyncio.sleep(1)
                continue
            ledger.terms_jobs.append(str(published.fanout_job_id))
            return
    finally:
        await rpc.stop()


# --- setup -----------------------------------------------------------------------------------


@dataclass
class Population:
    registering: list[SimCustomer]
    reading: list[SimCustomer]
    complaining: SimCustomer
    importing: list[SimCustomer]


def population(readings_rounds: int, registrations: int) -> Population:
    start = TODAY - timedelta(days=800)

    def customer(number: str) -> SimCustomer:
        return extra_customer(number, contract_start=start)

    reading = [customer(f"KS{i:05d}") for i in range(readings_rounds)]
    for c in reading:
        c.meters.extend(meter_for(c, f"S{c.number}M{m:03d}") for m in range(READINGS_METERS))
    return Population(
        registering=[customer(f"KG{i:05d}") for i in range(registrations)],
        reading=reading,
        complaining=customer("KC00001"),
        importing=[customer(f"KI{i:05d}") for i in range(10)],
    )


async def set_up(s: Servers, people: Population, ledger: Ledger) -> None:
    """Every customer's records published before the clock starts; readings customers and the
    complaining one registered (they only log in during the soak)."""
    everyone = [*people.registering, *people.reading, people.complaining, *people.importing]
    messages: list[Envelope] = [
        m
        for m in Dataset(everyone, as_of=datetime.now(UTC)).messages(digest_iterations=1_000)
        if isinstance(m, CustomerUpserted | ContractUpserted | MeterUpserted)
    ]
    await publish(s.infra.amqp_url, messages, window=500)
    db = await asyncpg.connect(s.infra.postgres_dsn)
    try:
        contracts = len(everyone)
        meters = sum(len(c.meters) for c in everyone)
        deadline = time.monotonic() + 300
        while not (
            await db.fetchval("SELECT count(*) FROM billing.contracts") >= contracts
            and await db.fetchval("SELECT count(*) FROM readings.contracts") >= contracts
            and await db.fetchval("SELECT count(*) FROM readings.meters") >= meters
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the customers were not taken in within 300 s")
            await asyncio.sleep(0.5)
    finally:
        await db.close()
    far = time.monotonic() + 600
    for i, c in enumerate(people.reading):
        await register(s, c, f"soak.read{i}", ledger, far)
    await register(s, people.complaining, "soak.complaints", ledger, far)


# --- the check -------------------------------------------------------------------------------


async def wait_for(
    db: asyncpg.Connection, sql: str, until: Callable[[Any], bool], timeout: float
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await db.fetchval(sql)
        if until(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.5)


async def check(s: Servers, ledger: Ledger) -> tuple[list[str], list[str]]:
    """(findings, problems): figures of what is stored against what was accepted."""
    found: list[str] = []
    problems: list[str] = []
    db = await asyncpg.connect(s.infra.postgres_dsn)
    try:
        for schema in SCHEMAS:
            left = await wait_for(
                db,
                f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL",
                lambda n: n == 0,
                180,
            )
            total = await db.fetchval(f"SELECT count(*) FROM {schema}.outbox")
            inbox = await db.fetchval(f"SELECT count(*) FROM {schema}.inbox")
            found.append(f"{schema}: outbox {total} rows, {left} unpublished; inbox {inbox}")
            if left:
                problems.append(f"{schema}: {left} outbox rows unpublished")

        # Invoices: every confirmed one applied once by billing, settled once by readings.
        numbers = [m.number for m in ledger.invoices]
        ids = [m.message_id for m in ledger.invoices]
        billing = await wait_for(
            db,
            "SELECT count(*) FROM billing.invoices WHERE number LIKE 'FV/SK/%'",
            lambda n: n >= len(numbers),
            180,
        )
        distinct = await db.fetchval(
            "SELECT count(DISTINCT number) FROM billing.invoices WHERE number = ANY($1)", numbers
        )
        settled = await wait_for(
            db,
            "SELECT count(*) FROM readings.settled_invoices WHERE invoice_number LIKE 'FV/SK/%'",
            lambda n: n >= len(numbers),
            180,
        )
        inbox = await db.fetchval(
            "SELECT count(*) FROM billing.inbox WHERE message_id = ANY($1::uuid[])", ids
        )
        found.append(
            f"invoices: {len(numbers)} confirmed to the publisher; billing {billing} rows,"
            f" {distinct} of the numbers, {inbox} message ids in its inbox; readings settled"
            f" {settled}"
        )
        if not billing == distinct == inbox == settled == len(numbers):
            problems.append("invoices not applied exactly once")

        # Readings: every accepted one stored once and emitted once.
        taken = await take_billing_system_queue(s.infra.amqp_url, idle=2.0)
        accepted = stored = emitted = again = failed = 0
        for number, burst in ledger.bursts:
            once = await check_readings_once(db, number, burst, taken)
            accepted += len(burst.accepted)
            failed += burst.failed
            stored += once.stored
            emitted += once.emitted
            again += once.deliveries - once.emitted
            problems.extend(f"readings of {number}: {p}" for p in once.problems)
        slowest = max((b.slowest for _, b in ledger.bursts), default=0.0)
        found.append(
            f"readings: {accepted} accepted, {failed} refused or failed, {stored} stored,"
            f" {emitted} emitted ({again} relayed again, same message id); slowest answer"
            f" {slowest:.2f} s; the billing system's queue held {len(taken)} messages"
        )

        # Registrations: one account each, one verification email each (one Message-ID).
        accounts = await db.fetch("SELECT customer_number, email FROM auth.accounts")
        by_number = Counter(r["customer_number"] for r in accounts)
        missing = [n for n in ledger.registered if by_number[n] != 1]
        emails = Counter(
            (str(m["To"]), str(m["Message-ID"])) for m in list(s.mail.handler.messages)
        )
        verification = Counter(to for to, _ in emails)
        once_mailed = sum(1 for e in ledger.registered.values() if verification[e] >= 1)
        found.append(
            f"registrations: {len(ledger.registered)} answered 201 (or 409 after an unclear"
            f" answer: {len(ledger.unclear_registrations)} unclear), {len(accounts)} accounts,"
            f" {once_mailed} with their verification email"
        )
        if missing:
            problems.append(f"registered without exactly one account: {missing[:5]}")
        unknown = set(by_number) - set(ledger.registered)
        if unknown:
            problems.append(f"accounts nobody was told about: {sorted(unknown)[:5]}")

        # Complaints: every 201 stored once.
        rows = await db.fetch("SELECT complaint_id::text AS id FROM billing.complaints")
        stored_ids = Counter(r["id"] for r in rows)
        lost = [k for k, cid in ledger.complaints.items() if stored_ids[cid] != 1]
        found.append(f"complaints: {len(ledger.complaints)} answered 201, {len(rows)} stored")
        if lost or len(rows) != len(ledger.complaints):
            problems.append(f"complaints: {len(lost)} not stored once, {len(rows)} rows")

        # Terms fan-outs: every job done, one inbox message per recipient and job.
        open_jobs = await wait_for(
            db,
            "SELECT count(*) FROM notify.fanout_jobs WHERE status <> 'done'",
            lambda n: n == 0,
            180,
        )
        jobs = await db.fetch(
            "SELECT id::text AS id, total, done FROM notify.fanout_jobs WHERE kind = 'terms'"
        )
        per_customer = await db.fetch(
            "SELECT customer_number, count(*) AS n FROM notify.inbox_messages"
            " WHERE kind = 'terms_changed' GROUP BY customer_number"
        )
        totals = sum(j["total"] for j in jobs)
        messages = sum(r["n"] for r in per_customer)
        found.append(
            f"terms fan-outs: {len(ledger.terms_jobs)} answered, {len(jobs)} jobs,"
            f" {open_jobs} not done, {totals} recipients in all, {messages} inbox messages"
        )
        if (
            open_jobs
            or messages != totals
            or any(j["done"] != j["total"] for j in jobs)
            or any(r["n"] > len(jobs) for r in per_customer)
            or not set(ledger.terms_jobs) <= {j["id"] for j in jobs}
        ):
            problems.append("terms fan-out not exactly once per recipient")
        states = await db.fetch("SELECT status, count(*) AS n FROM notify.emails GROUP BY status")
        found.append(f"emails by state: { ({r['status']: r['n'] for r in states}) }")

        parked = await db.fetchval("SELECT count(*) FROM billing.parked_messages")
        found.append(f"parked messages: {parked}")
        if parked:
            problems.append(f"{parked} parked messages")
    finally:
        await db.close()

    deadline = time.monotonic() + 120
    while any(depths := await asyncio.to_thread(queue_messages, "/", s.rabbit.node)):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    busy = {q: n for q, n in depths.items() if n}
    found.append(f"queues: {len(depths)}, not empty: {busy or 'none'}")
    if busy:
        problems.append(f"queues not drained: {busy}")
    dead = depths.get(topology.DEAD_LETTER_QUEUE, 0)
    if dead:
        problems.append(f"{dead} dead letters")
    return found, problems


# --- the run ---------------------------------------------------------------------------------


async def soak(s: Servers, seconds: float, seed: int, gap: float, smoke: bool) -> int:
    rng = random.Random(seed)
    ledger = Ledger()
    # More readings customers and registrations than the time needs, so neither runs out.
    rounds = 2 if smoke else max(4, int(seconds / 10))
    registering = 3 if smoke else max(10, int(seconds / 15))
    people = population(rounds, registering)
    started = time.monotonic()
    await set_up(s, people, ledger)
    print(f"set up in {time.monotonic() - started:.0f} s; traffic for {seconds:.0f} s", flush=True)
    begun = time.monotonic()
    until = begun + seconds
    contracts = [(c.number, c.contracts[0].contract_number) for c in people.importing]
    logins_of = [f"soak.read{i}" for i in range(len(people.reading))]
    # A traffic loop that fails ends alone and is reported; the others and the check go on.
    outcomes = await asyncio.gather(
        faults(s, ledger, until, rng, gap),
        registrations(s, ledger, until, people.registering, pause=1 if smoke else 10),
        logins(s, ledger, until, logins_of),
        readings(s, ledger, until, people.reading),
        complaints(s, ledger, until, "soak.complaints"),
        imports(s, ledger, until, contracts, pause=3 if smoke else 10),
        terms_fanout(s, ledger, seconds / 2, until),
        return_exceptions=True,
    )
    ran = time.monotonic() - begun
    found, problems = await check(s, ledger)
    loops = ("faults", "registrations", "logins", "readings", "complaints", "imports", "terms")
    for loop, outcome in zip(loops, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            problems.append(f"the {loop} loop ended with {type(outcome).__name__}: {outcome}")
    print(f"\n## Soak: {ran / 60:.1f} minutes of traffic, seed {seed}")
    print(f"faults ({len(ledger.faults)}):")
    for fault in ledger.faults:
        print(f"  {fault}")
    print(f"requests: {dict(sorted(ledger.requests.items()))}")
    for line in found:
        print(f"  {line}")
    for process in s.system.processes.values():
        if process.poll() is not None:
            problems.append(f"a service exited with {process.returncode}")
    if problems:
        print("exactly once: FAILED")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("exactly once: ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--smoke", action="store_true", help="about 20 s, one fault")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--fault-gap", type=float, default=90.0, help="mean seconds between faults")
    parser.add_argument("--logs", type=Path, help="directory for the services' logs")
    args = parser.parse_args(argv)
    seconds = 20.0 if args.smoke else args.minutes * 60
    gap = 10.0 if args.smoke else args.fault_gap
    logs = args.logs or Path(tempfile.mkdtemp(prefix="ibok-soak-"))
    print(f"logs in {logs}", flush=True)
    with servers(logs) as s:
        return asyncio.run(soak(s, seconds, args.seed, gap, args.smoke))


if __name__ == "__main__":
    sys.exit(main())
