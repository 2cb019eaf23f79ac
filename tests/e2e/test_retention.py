"""R14 through the running system: a customer five full calendar years past their last contract
is erased or anonymised in every service, once; a dry run changes nothing; a customer not yet
due is untouched; billing's scheduled job does it too, with several billing processes.

Customers of these tests: KR00001-KR00003 and KR00010-KR00029, made here as the billing system
would send them (contract numbers, premises and meters do not repeat the customer number, so
the number found anywhere after erasure is a real leftover)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from contracts import billing
from contracts.billing_system import (
    Address,
    ContractUpserted,
    MeterUpserted,
    Premises,
    SyncCompleted,
)
from runtime.retention import ANONYMOUS_PREFIX
from runtime.rpc_client import RpcClient, RpcProblem
from tests.conftest import log_text, system_env
from tests.support.billing import eventually, send
from tests.support.clients import gateway_client
from tests.support.customers import PASSWORD, logged_in_client
from tests.support.infra import Infra
from tests.support.mail import MailSink
from tests.support.readings import TODAY
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset, SimCustomer, add_history, pesel
from tools.system import System

SCHEMAS = ("auth", "billing", "readings", "notify")
# Tables that hold no customer data (the outbox is emptied a day after publishing, tested in
# test_auth_housekeeping.py; the inbox holds message ids).
NOT_SCANNED = {"outbox", "inbox", "schema_migrations"}


def _customer(i: int, ends: list[date | None], *, history: bool = False) -> SimCustomer:
    """``KR{i:05d}`` with one contract per entry of ``ends`` (None: current), a main meter at
    the first premises and, with ``history``, six months of invoices, payments and readings."""
    number = f"KR{i:05d}"
    rng = random.Random(number)
    address = Address(street=f"ul. Retencyjna {i}", postal_code="45-100", city="Krapkowice")
    customer = SimCustomer(number, "person", f"Klient Retencji {i}", "pesel", pesel(rng), address)
    for n, end in enumerate(ends, start=1):
        customer.contracts.append(
            ContractUpserted(
                contract_number=f"UR/{i:05d}/{n}",
                customer_number=number,
                premises=Premises(premises_id=f"PR{i:05d}-{n}", address=address),
                start_date=date(2012, 1, 1) if end else date(2016, 1, 1),
                end_date=end,
                status="ended" if end else "active",
                billing_period_months=1,
                revision=1,
            )
        )
    if history:
        customer.meters.append(
            MeterUpserted(
                serial=f"WR{i:05d}",
                premises_id=f"PR{i:05d}-1",
                customer_number=number,
                diameter_mm=20,
                installed_on=TODAY - timedelta(days=1990),
                # Within 90 days: readings reminds the customer (an inbox message in notify).
                legalization_expires=TODAY + timedelta(days=40),
                is_main=True,
                revision=1,
            )
        )
        # The history generator pairs each contract with a meter: the current one only.
        older = customer.contracts[1:]
        customer.contracts = customer.contracts[:1]
        add_history(customer, 7000 + i, today=TODAY, months=6, seed=1414)
        customer.contracts += older
    return customer


def _ended(contract: ContractUpserted, on: date) -> ContractUpserted:
    """The billing system's next revision of the contract (a new message): it ended ``on``."""
    return contract.model_copy(
        update={
            "message_id": uuid.uuid4(),
            "end_date": on,
            "status": "ended",
            "revision": contract.revision + 1,
        }
    )


async def _publish(infra: Infra, customers: list[SimCustomer]) -> None:
    messages = [
        m
        for m in Dataset(customers, datetime.now(UTC)).messages(digest_iterations=1_000)
        if not isinstance(m, SyncCompleted)
    ]
    await publish(infra.amqp_url, messages)


def ibok(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.ops", *args],
        capture_output=True,
        text=True,
        env=system.env,
        timeout=120,
    )


def _reported(run: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    return {line["customer_number"]: line for line in lines}


async def _rows(db: asyncpg.Connection, numbers: list[str]) -> dict[str, list[str]]:
    """Every row of every service's table that names one of ``numbers`` or one of their
    accounts, as text: a snapshot to compare."""
    accounts = [
        str(r["id"])
        for r in await db.fetch(
            "SELECT id FROM auth.accounts WHERE customer_number = ANY($1::text[])", numbers
        )
    ]
    needles = numbers + accounts
    found: dict[str, list[str]] = {}
    for schema, table in await _tables(db):
        rows = await db.fetch(
            f"SELECT t::text AS row FROM {schema}.{table} t"
            " WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) n WHERE strpos(t::text, n) > 0)"
            " ORDER BY 1",
            needles,
        )
        if rows:
            found[f"{schema}.{table}"] = [r["row"] for r in rows]
    return found


async def _tables(db: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'"
        " ORDER BY 1, 2",
        list(SCHEMAS),
    )
    return [(r[0], r[1]) for r in rows if r[1] not in NOT_SCANNED]


async def _tables_holding(db: asyncpg.Connection, text: str) -> dict[str, int]:
    """Which tables (of every service) still hold ``text`` anywhere in a row, and how many rows."""
    found = {}
    for schema, table in await _tables(db):
        count = await db.fetchval(
            f"SELECT count(*) FROM {schema}.{table} t WHERE strpos(t::text, $1) > 0", text
        )
        if count:
            found[f"{schema}.{table}"] = count
    return found


async def _changes_naming(db: asyncpg.Connection, number: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM billing.outbox WHERE routing_key = 'billing.data-changed.v1'"
        " AND convert_from(body, 'UTF8')::jsonb->'customer_numbers' ? $1",
        number,
    )
    return count


def _erasure_logs(system: System, service: str, number: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log_text(system, service).splitlines() if line[:1] == "{"]
    return [
        line
        for line in lines
        if line.get("event") == "retention.erased" and line.get("customer_number") == number
    ]


async def test_a_customer_past_retention_is_erased_in_every_service_once_and_no_one_else(
    system: System, gateway: str, mail_sink: MailSink, infra: Infra, db: asyncpg.Connection
) -> None:
    # KR00001: contracts ended 2019-03-31 and (after registering) 2020-06-30: due since
    # 2026-01-01. KR00002: ends 2021-01-01, due only from 2027-01-01. KR00003: a contract
    # ended 2020-06-30 and a current one: never due while it lasts.
    gone = _customer(1, [None, date(2019, 3, 31)], history=True)
    kept = _customer(2, [None])
    current = _customer(3, [date(2020, 6, 30), None])
    numbers = [gone.number, kept.number, current.number]
    await _publish(infra, [gone, kept, current])
    await eventually(
        lambda: db.fetchval(
            "SELECT (SELECT count(*) FROM billing.contracts WHERE contract_number LIKE 'UR/0000%')"
            " + (SELECT count(*) FROM readings.meters WHERE serial = 'WR00001')"
        ),
        lambda count: count == 6,
    )

    # While their contracts last: accounts, contact data, a reading, a complaint, a failed login.
    client = await logged_in_client(gateway, mail_sink, gone, "retention.gone")
    other = await logged_in_client(gateway, mail_sink, kept, "retention.kept")
    try:
        me = (await client.get("/api/v1/me")).json()
        contact = {"email": me["email"], "phone": "+48 600 700 801", "marketing_consent": True}
        assert (await client.put("/api/v1/me/contact", json=contact)).status_code == 200
        (meter,) = (await client.get("/api/v1/meters")).json()["items"]
        last = Decimal(meter["last_reading"]["value"]) if meter["last_reading"] else Decimal(0)
        reading = await client.post(
            "/api/v1/readings", json={"serial": "WR00001", "value": str(last + Decimal("1.5"))}
        )
        assert reading.status_code == 201, reading.text
        complaint = await client.post(
            "/api/v1/complaints",
            json={
                "subject": "Skarga retencyjna KR1",
                "description": "Opis skargi retencyjnej klienta pierwszego",
                "expected_resolution": "Wyjasnienie retencyjne",
            },
        )
        assert complaint.status_code == 201, complaint.text
        async with gateway_client(gateway) as stranger:
            wrong = await stranger.post(
                "/api/v1/auth/login", json={"login": "retention.gone", "password": "Zle12345"}
            )
            assert wrong.status_code == 401
        await eventually(
            lambda: db.fetchval(
                "SELECT count(*) FROM notify.inbox_messages WHERE customer_number = $1",
                gone.number,
            ),
            lambda count: count >= 1,
        )
        identity_digest = await db.fetchval(
            "SELECT identity_checks->0->>'digest' FROM billing.customers WHERE customer_number = $1",
            gone.number,
        )
        invoices = await db.fetchval(
            "SELECT count(*) FROM billing.invoices WHERE customer_number = $1", gone.number
        )
        readings = await db.fetchval(
            "SELECT count(*) FROM readings.readings WHERE customer_number = $1", gone.number
        )
        emails = await db.fetch(
            "SELECT id FROM notify.emails WHERE customer_number = $1 OR account_id = $2::uuid",
            gone.number,
            me["account_id"],
        )
        assert invoices >= 5 and readings >= 2 and emails

        # Then their contracts end (the billing system sends the next revision).
        await send(
            infra.amqp_url,
            _ended(gone.contracts[0], date(2020, 6, 30)),
            _ended(kept.contracts[0], date(2021, 1, 1)),
        )
        await eventually(
            lambda: db.fetchval(
                "SELECT (SELECT count(*) FROM billing.contracts"
                "         WHERE customer_number = ANY($1::text[]) AND end_date IS NOT NULL)"
                " + (SELECT count(*) FROM readings.contracts"
                "     WHERE customer_number = ANY($1::text[]) AND end_date IS NOT NULL)",
                numbers,
            ),
            lambda count: count == 8,
        )
        before = await _rows(db, numbers)
        untouched = [kept.number, current.number]
        before_untouched = await _rows(db, untouched)

        # A dry run lists who is due and changes nothing; another day shows who is due then.
        due_now = _reported(ibok(system, "retention", "--dry-run"))
        assert gone.number in due_now and kept.number not in due_now
        assert current.number not in due_now
        assert due_now[gone.number] == {
            "customer_number": gone.number,
            "last_contract_ended_on": "2020-06-30",
            "kept_until": "2025-12-31",
            "erased_before": False,
        }
        due_later = _reported(ibok(system, "retention", "--dry-run", "--today", "2027-01-01"))
        assert {gone.number, kept.number} <= due_later.keys()
        assert current.number not in due_later
        future = ibok(system, "retention", "--today", (TODAY + timedelta(days=1)).isoformat())
        assert future.returncode == 2 and "future" in future.stderr
        assert await _rows(db, numbers) == before

        # The real run.
        changes = await _changes_naming(db, gone.number)
        erased = _reported(ibok(system, "retention"))
        # The gateways hear that the customer's money views changed (they drop what they keep).
        assert await _changes_naming(db, gone.number) == changes + 1
        assert gone.number in erased and {kept.number, current.number}.isdisjoint(erased)

        async def every_service_done() -> bool:
            return (
                len(_erasure_logs(system, "auth", gone.number)) == 1
                and len(_erasure_logs(system, "readings", gone.number)) == 1
                # Billing's event, then auth's account-erased.
                and len(_erasure_logs(system, "notify", gone.number)) == 2
            )

        await eventually(every_service_done, lambda done: done, timeout=30)

        # Nothing of theirs is left anywhere but their number in billing's customer row.
        assert await _tables_holding(db, gone.number) == {"billing.customers": 1}
        for text in (
            gone.name,
            "retention.gone",
            "+48 600 700 801",
            gone.address.street,
            "Skarga retencyjna",
            "Opis skargi retencyjnej",
            identity_digest,
        ):
            assert await _tables_holding(db, text) == {}, text
        # The account id stays only in the audit trail and notify's list of erased accounts;
        # the emails stay, blank and owned by nobody.
        held = await _tables_holding(db, me["account_id"])
        assert held.keys() == {"auth.audit_trail", "notify.erased_accounts"}, held
        blank = await db.fetch(
            "SELECT DISTINCT (recipient, subject, body_text, body_html)::text AS row"
            " FROM notify.emails WHERE id = ANY($1::uuid[])",
            [r["id"] for r in emails],
        )
        assert [r["row"] for r in blank] == ['(erased,"","","")']
        row = await db.fetchrow(
            "SELECT name, address::text, identity_checks::text, erased_at FROM billing.customers"
            " WHERE customer_number = $1",
            gone.number,
        )
        assert tuple(row)[:3] == ("", "{}", "[]") and row["erased_at"] is not None

        # The account is gone: the open session ends, the login fails (and that failed attempt
        # at an unknown login is counted, as any other).
        async with gateway_client(gateway) as stranger:
            login = await stranger.post(
                "/api/v1/auth/login", json={"login": "retention.gone", "password": PASSWORD}
            )
            assert login.status_code == 401, login.text
        assert (await client.get("/api/v1/me")).status_code == 401

        # Staff find nothing of them on the billing side either.
        rpc = RpcClient(infra.amqp_url, timeout=5)
        await rpc.start()
        try:
            with pytest.raises(RpcProblem) as missing:
                await rpc.call(
                    billing.CUSTOMER_OVERVIEW, billing.CustomerScope(customer_number=gone.number)
                )
            assert missing.value.problem.status == 404
            found = await rpc.call(
                billing.SEARCH_CUSTOMERS, billing.CustomerSearch(q=gone.number[:5])
            )
            listed = {c.customer_number for c in found.items}
            assert kept.number in listed and gone.number not in listed
        finally:
            await rpc.stop()

        # What the utility keeps stays, under one anonymous key per service.
        kept_invoices = await db.fetch(
            "SELECT DISTINCT customer_number FROM billing.invoices WHERE number LIKE '%/007001/%'"
        )
        assert len(kept_invoices) == 1
        key = kept_invoices[0]["customer_number"]
        assert key.startswith(ANONYMOUS_PREFIX)
        assert (
            await db.fetchval(
                "SELECT count(*) FROM billing.invoices WHERE customer_number = $1", key
            )
            == invoices
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM billing.payments WHERE customer_number = $1", key
            )
            >= 1
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM billing.complaints WHERE customer_number = $1", key
            )
            == 1
        )
        readings_key = await db.fetchval(
            "SELECT customer_number FROM readings.meters WHERE serial = 'WR00001'"
        )
        assert readings_key.startswith(ANONYMOUS_PREFIX) and readings_key != key
        assert (
            await db.fetchval(
                "SELECT count(*) FROM readings.readings WHERE customer_number = $1", readings_key
            )
            == readings
        )

        # The audit trail keeps that it happened, without the personal data.
        audit = await db.fetch(
            "SELECT action, actor_kind, client_address, detail::text FROM auth.audit_trail"
            " WHERE account_id = $1::uuid ORDER BY id",
            me["account_id"],
        )
        assert audit[-1]["action"] == "retention_erased" and audit[-1]["actor_kind"] == "system"
        assert {"registered", "login", "contact_changed"} <= {r["action"] for r in audit}
        assert all(r["client_address"] == "" for r in audit)

        # Counts per table in every service's log, no personal data.
        billing_line = _erasure_logs(system, "billing", gone.number)
        assert len(billing_line) == 1
        assert billing_line[0]["counts"]["invoices"] == invoices
        assert billing_line[0]["counts"]["contracts"] == 2
        auth_line = _erasure_logs(system, "auth", gone.number)[0]
        assert auth_line["counts"]["accounts"] == 1 and auth_line["counts"]["sessions"] >= 1
        assert _erasure_logs(system, "readings", gone.number)[0]["counts"]["readings"] == readings
        notify_counts = [line["counts"] for line in _erasure_logs(system, "notify", gone.number)]
        assert notify_counts[0]["inbox_messages"] >= 1 and notify_counts[0]["recipients"] == 1
        for service in ("billing", "auth", "readings", "notify"):
            text = log_text(system, service)
            assert gone.name not in text and "+48 600 700 801" not in text

        # The others are untouched, and a second run changes nothing more.
        assert await _rows(db, untouched) == before_untouched
        assert (await other.get("/api/v1/me")).status_code == 200
        settled = await _rows(db, [gone.number, key, readings_key])
        again = _reported(ibok(system, "retention"))
        assert gone.number not in again
        await asyncio.sleep(1.0)
        assert await _rows(db, [gone.number, key, readings_key]) == settled
        assert len(_erasure_logs(system, "billing", gone.number)) == 1
        assert (
            await db.fetchval(
                "SELECT count(*) FROM billing.outbox WHERE routing_key = $1"
                " AND strpos(convert_from(body, 'UTF8'), $2) > 0",
                "billing.customer-retention-ended.v1",
                gone.number,
            )
            == 1
        )
    finally:
        await client.aclose()
        await other.aclose()


@pytest.fixture
def two_more_billings(
    system: System, infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[System]]:
    """Two more billing processes beside the suite's, running retention every half second."""
    others = [
        System(
            system_env(infra, mail_sink, IBOK_RETENTION_INTERVAL_SECONDS="0.5"),
            log_dir=tmp_path_factory.mktemp(f"billing{n}"),
        )
        for n in (2, 3)
    ]
    try:
        for other in others:
            other.start("billing")
        for other in others:
            other.wait_ready(("billing",), timeout=30)
        yield others
    finally:
        for other in others:
            other.stop_all()


async def test_billings_schedule_erases_each_due_customer_once_with_several_processes(
    two_more_billings: list[System], infra: Infra, db: asyncpg.Connection
) -> None:
    due = [_customer(i, [date(2019, 12, 31)]) for i in range(10, 30)]
    not_yet = _customer(30, [date(TODAY.year - 5, 1, 1)])
    numbers = [c.number for c in due]
    # While another run holds the retention lock (here: the test), scheduled runs leave it be.
    lock = "SELECT pg_advisory_lock(hashtext('ibok.billing.retention'))"
    await db.execute(lock)
    try:
        await _publish(infra, [*due, not_yet])
        await eventually(
            lambda: db.fetchval(
                "SELECT count(*) FROM billing.customers WHERE customer_number = ANY($1::text[])",
                numbers,
            ),
            lambda count: count == len(due),
        )
        await asyncio.sleep(1.5)
        assert not await db.fetchval(
            "SELECT count(*) FROM billing.customers"
            " WHERE customer_number = ANY($1::text[]) AND erased_at IS NOT NULL",
            numbers,
        )
        for other in two_more_billings:
            assert '"retention.left_to_another_run"' in log_text(other, "billing")
    finally:
        await db.execute("SELECT pg_advisory_unlock(hashtext('ibok.billing.retention'))")

    erased = await eventually(
        lambda: db.fetchval(
            "SELECT count(*) FROM billing.customers"
            " WHERE customer_number = ANY($1::text[]) AND erased_at IS NOT NULL",
            numbers,
        ),
        lambda count: count == len(due),
        timeout=30,
    )
    assert erased == len(due)
    # One event per customer, however many processes ran the job at once.
    events = await db.fetch(
        "SELECT convert_from(body, 'UTF8')::jsonb->>'customer_number' AS number"
        " FROM billing.outbox WHERE routing_key = 'billing.customer-retention-ended.v1'"
        " AND convert_from(body, 'UTF8')::jsonb->>'customer_number' = ANY($1::text[])",
        [*numbers, not_yet.number],
    )
    assert sorted(r["number"] for r in events) == sorted(numbers)
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) FROM readings.inbox i JOIN billing.outbox o USING (message_id)"
            " WHERE o.routing_key = 'billing.customer-retention-ended.v1'"
            " AND convert_from(o.body, 'UTF8')::jsonb->>'customer_number' = ANY($1::text[])",
            numbers,
        ),
        lambda count: count == len(due),
    )
    assert (
        await db.fetchval(
            "SELECT name FROM billing.customers WHERE customer_number = $1", not_yet.number
        )
        == not_yet.name
    )
    runs = [
        json.loads(line)
        for other in two_more_billings
        for line in log_text(other, "billing").splitlines()
        if '"retention.run"' in line and '"schedule"' in line
    ]
    assert sum(run["customers"] for run in runs) == len(due)
