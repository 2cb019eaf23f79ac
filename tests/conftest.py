"""Fixtures: a real PostgreSQL, RabbitMQ and SMTP server, and the five services as processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

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
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import Dataset, build_dataset
from tools.system import System


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with servers() as (pg_base, amqp_base, can_make_vhosts):
        database = unique("ibok_test")
        asyncio.run(create_database(pg_base, database))
        try:
            if can_make_vhosts:
                with vhost(unique("ibok-test")) as name:
                    yield Infra(pg_base, amqp_base, database, name)
            else:
                yield Infra(pg_base, amqp_base, database, "/")
        finally:
            asyncio.run(drop_database(pg_base, database))


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink(free_port()).start()
    yield sink
    sink.stop()


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
    }
    for service in ("gateway", "auth", "readings", "billing", "notify"):
        env[f"IBOK_{service.upper()}_PORT"] = str(free_port())
    env["IBOK_PUBLIC_URL"] = f"http://127.0.0.1:{env['IBOK_GATEWAY_PORT']}"
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def system(
    infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    running = System(system_env(infra, mail_sink), log_dir=tmp_path_factory.mktemp("logs"))
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
def dataset() -> Dataset:
    return build_dataset(30, seed=7)


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
