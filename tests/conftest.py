"""Fixtures: a real PostgreSQL, RabbitMQ and SMTP server, and the five services as processes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from contracts.billing_system import SyncCompleted
from runtime.settings import Settings
from tests.support.clients import gateway_client
from tests.support.infra import (
    Infra,
    create_database,
    drop_database,
    free_port,
    servers,
    unique,
    vhost,
)
from tests.support.mail import MailSink
from tests.support.mfa import staff_login, staff_login_sync
from tools import provision
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset, SimCustomer, build_dataset
from tools.system import System


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """A database and vhost of the run's own, with a role and a broker user per process
    (``ibok provision``), which the ``system`` processes use: least privilege, as deployed."""
    with servers() as (pg_base, amqp_base, can_make_vhosts):
        database = unique("ibok_test")
        asyncio.run(create_database(pg_base, database))
        try:
            if can_make_vhosts:
                with (
                    vhost(unique("ibok-test")) as name,
                    provisioned(Infra(pg_base, amqp_base, database, name), broker=True) as made,
                ):
                    yield made
            else:
                with provisioned(Infra(pg_base, amqp_base, database, "/"), broker=False) as made:
                    yield made
        finally:
            asyncio.run(drop_database(pg_base, database))
            asyncio.run(provision.remove_roles(f"{pg_base}/postgres", database))


@contextmanager
def provisioned(infra: Infra, *, broker: bool) -> Iterator[Infra]:
    admin = Settings(postgres_dsn=infra.postgres_dsn, amqp_url=infra.amqp_url)
    infra.logins = asyncio.run(provision.provision(admin, os.urandom(16), broker=broker))
    try:
        yield infra
    finally:
        if broker:
            provision.remove_broker_users(infra.vhost)


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink(free_port()).start()
    yield sink
    sink.stop()


CAPTCHA_TEST_SEED = "ibok-tests-captcha-seed"


def system_env(infra: Infra, mail_sink: MailSink, **overrides: str) -> dict[str, str]:
    env = {
        "IBOK_POSTGRES_DSN": infra.postgres_dsn,
        "IBOK_AMQP_URL": infra.amqp_url,
        "IBOK_SMTP_HOST": "127.0.0.1",
        "IBOK_SMTP_PORT": str(mail_sink.port),
        "IBOK_COOKIE_SECURE": "false",
        "IBOK_LOG_LEVEL": "INFO",
        "IBOK_RPC_TIMEOUT": "5",
        # Fast argon2 parameters keep the suite quick; the production defaults are in settings.
        "IBOK_ARGON2_MEMORY_KIB": "8192",
        "IBOK_ARGON2_TIME_COST": "1",
        # The tests stand where a proxy would (127.0.0.1): they give each simulated client its
        # own address with X-Forwarded-For. test_edge_hardening.py runs a gateway without it.
        "IBOK_TRUSTED_PROXIES": "127.0.0.1",
        # Every test request comes from 127.0.0.1; the rate-limit tests run their own gateway.
        "IBOK_RATE_LIMIT_SENSITIVE_PER_MINUTE": "100000",
        "IBOK_RATE_LIMIT_EXPENSIVE_PER_MINUTE": "100000",
        "IBOK_RATE_LIMIT_GENERAL_PER_MINUTE": "1000000",
        "IBOK_REGISTRATIONS_PER_CUSTOMER_PER_HOUR": "1000",
        # The suite's gateway asks auth on every request, so tests that move the session clock
        # in the database see the effect at once; second_gateway caches (test_session_cache.py).
        "IBOK_SESSION_CACHE_SECONDS": "0",
        # Lets tests solve captchas (auth refuses it with Secure cookies): see solve_captcha.
        "IBOK_CAPTCHA_TEST_SEED": CAPTCHA_TEST_SEED,
    }
    for service in ("gateway", "auth", "readings", "billing", "notify"):
        env[f"IBOK_{service.upper()}_PORT"] = str(free_port())
    env["IBOK_GATEWAY_METRICS_PORT"] = str(free_port())
    env["IBOK_PUBLIC_URL"] = f"http://127.0.0.1:{env['IBOK_GATEWAY_PORT']}"
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def system(
    infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    running = System(
        system_env(infra, mail_sink),
        log_dir=tmp_path_factory.mktemp("logs"),
        service_env=infra.logins,
    )
    running.start_all()
    try:
        running.wait_ready(timeout=60)
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def gateway(system: System) -> str:
    return system.url("gateway")


@pytest.fixture(scope="session")
def gateway_metrics(system: System) -> str:
    """The gateway's /metrics, on its own port (IBOK_GATEWAY_METRICS_PORT)."""
    return system.metrics_url("gateway")


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return build_dataset(40, seed=7)


@pytest.fixture(scope="session")
def billing_data(system: System, infra: Infra, dataset: Dataset) -> Dataset:
    """The simulator's data set, published to the running system and ingested by billing."""

    async def load() -> None:
        await publish(infra.amqp_url, list(dataset.messages(digest_iterations=2_000)))
        conn = await asyncpg.connect(infra.postgres_dsn)
        try:
            for _ in range(200):
                synced = await conn.fetchval("SELECT count(*) FROM billing.sync_state")
                if synced:
                    return
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
        raise AssertionError("billing did not ingest the data set")

    asyncio.run(load())
    return dataset


@pytest.fixture
async def db(infra: Infra) -> asyncpg.Connection:
    conn = await asyncpg.connect(infra.postgres_dsn)
    yield conn
    await conn.close()


def log_text(system: System, service: str) -> str:
    assert system.log_dir is not None
    return Path(system.log_dir / f"{service}.log").read_text()


# --- accounts and security (auth) --------------------------------------------------------------

STAFF_PASSWORD = "Personel2026x"


def solve_captcha_answer(captcha_id: str) -> str:
    """The answer a person would read from the picture: derived from the tests' seed (R4)."""
    import uuid

    from services.auth.domain import new_captcha_answer

    return new_captcha_answer(uuid.UUID(captcha_id), CAPTCHA_TEST_SEED)


async def solve_captcha(client: httpx.AsyncClient, **headers: str) -> dict[str, str]:
    """A fresh challenge and its answer, as the login body's ``captcha_id`` and ``captcha_answer``."""
    answer = await client.get("/api/v1/auth/captcha", headers=headers)
    assert answer.status_code == 200, answer.text
    captcha_id = answer.json()["id"]
    return {"captcha_id": captcha_id, "captcha_answer": solve_captcha_answer(captcha_id)}


@pytest.fixture(scope="session")
def staff_logins(system: System, infra: Infra, gateway: str) -> dict[str, tuple[str, str]]:
    """An admin made with ``ibok create-admin`` and a ``care`` user the admin created:
    {"admin": (login, password), "care": (login, password)}."""
    import subprocess
    import sys

    # As auth's own role, as an operator with least privilege would.
    env = {**system.env, "IBOK_POSTGRES_DSN": infra.postgres_dsn, **infra.logins.get("auth", {})}
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.ops",
            "create-admin",
            "--login",
            "admin.one",
            "--name",
            "Admin One",
            "--password-stdin",
        ],
        input=f"{STAFF_PASSWORD}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=gateway, timeout=15) as client:
        # The first login enrols the second factor (tests/support/mfa.py keeps the key).
        login = staff_login_sync(client, "admin.one", STAFF_PASSWORD)
        assert login.status_code == 200, login.text
        client.headers["X-CSRF-Token"] = login.headers["x-csrf-token"]
        care = client.post(
            "/api/v1/staff/staff-users",
            json={
                "login": "care.one",
                "name": "Care One",
                "role": "care",
                "password": STAFF_PASSWORD,
            },
        )
        assert care.status_code == 201, care.text
        client.post("/api/v1/staff/auth/logout")
        enrolled = staff_login_sync(client, "care.one", STAFF_PASSWORD)
        assert enrolled.status_code == 200, enrolled.text
        client.post("/api/v1/staff/auth/logout")
    return {"admin": ("admin.one", STAFF_PASSWORD), "care": ("care.one", STAFF_PASSWORD)}


async def staff_client(gateway: str, login: str, password: str) -> httpx.AsyncClient:
    """A client logged in as staff (cookie ``ibok_staff_session``); the caller closes it."""
    client = gateway_client(gateway, timeout=15)
    answer = await staff_login(client, login, password)
    assert answer.status_code == 200, answer.text
    return client


@pytest.fixture(scope="session")
def auth_customers(system: System, infra: Infra) -> list[SimCustomer]:
    """Twenty more customers with an active contract (numbers KA00001...), for the auth tests
    (each test its own index); the first also has an ended contract (``contracts[1]``)."""
    import random
    from datetime import UTC, datetime, timedelta

    from contracts.billing_system import Address, ContractUpserted, Premises
    from tools.billing_sim.dataset import pesel

    rng = random.Random(303)
    today = datetime.now(UTC).date()
    customers: list[SimCustomer] = []
    for i in range(1, 21):
        number = f"KA{i:05d}"
        address = Address(street=f"ul. Bezpieczna {i}", postal_code="00-001", city="Warszawa")
        customer = SimCustomer(number, "person", f"Klient Auth {i}", "pesel", pesel(rng), address)
        premises = Premises(premises_id=f"PA{i:05d}", address=address)
        customer.contracts.append(
            ContractUpserted(
                contract_number=f"UA/{i:05d}/1",
                customer_number=number,
                premises=premises,
                start_date=today - timedelta(days=900),
                status="active",
                billing_period_months=1,
                revision=1,
            )
        )
        if i == 1:
            customer.contracts.append(
                ContractUpserted(
                    contract_number=f"UA/{i:05d}/0",
                    customer_number=number,
                    premises=premises,
                    start_date=today - timedelta(days=3000),
                    end_date=today - timedelta(days=901),
                    status="ended",
                    billing_period_months=1,
                    revision=1,
                )
            )
        customers.append(customer)
    messages = [
        m
        for m in Dataset(customers, datetime.now(UTC)).messages(digest_iterations=2_000)
        if not isinstance(m, SyncCompleted)
    ]

    async def load() -> None:
        await publish(infra.amqp_url, messages)
        conn = await asyncpg.connect(infra.postgres_dsn)
        try:
            for _ in range(200):
                loaded = await conn.fetchval(
                    "SELECT count(*) FROM billing.contracts WHERE contract_number LIKE 'UA/%'"
                )
                if loaded == 21:
                    return
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
        raise AssertionError("billing did not ingest the auth tests' customers")

    asyncio.run(load())
    return customers


@pytest.fixture
def second_gateway(
    system: System, infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """Another gateway process on the same broker, beside the suite's one."""
    with gateway_of_its_own(
        infra, mail_sink, tmp_path_factory.mktemp("gateway2"), IBOK_SESSION_CACHE_SECONDS="5"
    ) as other:
        yield other


@contextmanager
def gateway_of_its_own(
    infra: Infra, mail_sink: MailSink, log_dir: Path, **env: str
) -> Iterator[System]:
    """A gateway process with settings of its own (``env``) on the suite's broker and database."""
    other = System(system_env(infra, mail_sink, **env), log_dir=log_dir, service_env=infra.logins)
    other.start("gateway")
    try:
        other.wait_ready(("gateway",), timeout=30)
        yield other
    finally:
        other.stop_all()


@pytest.fixture
def own_vhost(infra: Infra) -> Iterator[Infra]:
    """A fresh RabbitMQ vhost (the shared database) for a test's own broker topology."""
    with vhost(unique("ibok-test-own")) as name:
        yield Infra(infra.postgres_base, infra.amqp_base, infra.database, name)


@pytest.fixture(scope="module")
def own_infra(infra: Infra) -> Iterator[Infra]:
    """A fresh database and vhost for one module's own service processes (another SMTP server,
    a process to kill), so they share no queue or table with ``system``."""
    database = unique("ibok_own")
    asyncio.run(create_database(infra.postgres_base, database))
    try:
        with vhost(unique("ibok-own")) as name:
            yield Infra(infra.postgres_base, infra.amqp_base, database, name)
    finally:
        asyncio.run(drop_database(infra.postgres_base, database))
