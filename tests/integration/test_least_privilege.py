"""Least privilege (docs/security.md): each process's database role and broker user, made by
``ibok provision``, reach only what that process owns; the running system uses them."""

from __future__ import annotations

import os
import uuid

import aio_pika
import aiormq
import asyncpg
import pytest

from contracts import topology
from runtime.settings import Settings
from tests.support.infra import Infra, create_database, drop_database, unique
from tools import provision
from tools.ops import migrate_all
from tools.system import System


def dsn_of(infra: Infra, process: str) -> str:
    return infra.logins[process][f"IBOK_{process.upper()}_POSTGRES_DSN"]


def url_of(infra: Infra, process: str) -> str:
    return infra.logins[process][f"IBOK_{process.replace('-', '_').upper()}_AMQP_URL"]


# --- PostgreSQL -------------------------------------------------------------------------------


async def test_notify_role_cannot_read_auth_tables(system: System, infra: Infra) -> None:
    conn = await asyncpg.connect(dsn_of(infra, "notify"))
    try:
        assert await conn.fetchval("SELECT current_schema()") == "notify"
        assert await conn.fetchval("SELECT count(*) >= 0 FROM inbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.fetch("SELECT password_hash FROM auth.accounts")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE auth.stolen (x int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE SCHEMA elsewhere")
    finally:
        await conn.close()


async def test_every_service_role_owns_its_schema_only_and_none_is_superuser(
    system: System, infra: Infra
) -> None:
    admin = await asyncpg.connect(infra.postgres_dsn)
    try:
        for service in topology.SERVICES:
            role = provision.role_name(infra.database, service)
            row = await admin.fetchrow(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolconfig FROM pg_roles"
                " WHERE rolname = $1",
                role,
            )
            assert row is not None
            assert not (row["rolsuper"] or row["rolcreaterole"] or row["rolcreatedb"])
            # search_path lives on the role, not on each connection (a pooler may sit between).
            assert row["rolconfig"] == [f"search_path={service}"]
            owned = await admin.fetch(
                "SELECT DISTINCT n.nspname FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relowner = $1::regrole"
                " AND n.nspname <> 'pg_toast'",
                role,
            )
            assert [r["nspname"] for r in owned] == [service]
            others = [s for s in topology.SERVICES if s != service]
            for other in others:
                assert not await admin.fetchval(
                    "SELECT has_schema_privilege($1, $2, 'USAGE')", role, other
                )
        # The running services connect as their roles, with no search_path of their own.
        sessions = await admin.fetch(
            "SELECT DISTINCT usename, application_name FROM pg_stat_activity"
            " WHERE datname = $1 AND application_name LIKE 'ibok-%'",
            infra.database,
        )
        seen = {(r["usename"], r["application_name"]) for r in sessions}
        for service in topology.SERVICES:
            assert (provision.role_name(infra.database, service), f"ibok-{service}") in seen
    finally:
        await admin.close()


async def test_provision_takes_over_a_database_migrated_before_it_and_runs_again(
    infra: Infra,
) -> None:
    """An installation migrated by the administrative role: provisioning hands every object to
    the service's role, the migration role migrates as the owner, and a second run changes
    nothing."""
    database = unique("ibok_prov")
    await create_database(infra.postgres_base, database)
    admin = Settings(postgres_dsn=f"{infra.postgres_base}/{database}", amqp_url=infra.amqp_url)
    try:
        await migrate_all(admin.postgres_dsn)
        secret = os.urandom(16)
        for _ in range(2):
            env = await provision.provision(admin, secret, broker=False)
        conn = await asyncpg.connect(admin.postgres_dsn)
        try:
            for service in topology.SERVICES:
                owners = await conn.fetch(
                    "SELECT DISTINCT c.relowner::regrole::text AS owner FROM pg_class c"
                    " WHERE c.relnamespace = $1::regnamespace",
                    service,
                )
                assert [r["owner"] for r in owners] == [f"{database}_{service}"]
        finally:
            await conn.close()
        # The migration role (not a superuser) finds nothing left to do.
        applied = await migrate_all(env["migrate"]["IBOK_MIGRATE_POSTGRES_DSN"])
        assert all(versions == [] for versions in applied.values())
        auth = await asyncpg.connect(env["auth"]["IBOK_AUTH_POSTGRES_DSN"])
        try:
            assert await auth.fetchval("SELECT count(*) FROM accounts") == 0
        finally:
            await auth.close()
    finally:
        await drop_database(infra.postgres_base, database)
        await provision.remove_roles(f"{infra.postgres_base}/postgres", database)


# --- RabbitMQ ---------------------------------------------------------------------------------


async def _publish(url: str, exchange: str, routing_key: str = "x") -> None:
    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(aio_pika.Message(b"{}", message_id=str(uuid.uuid4())), routing_key)
    finally:
        await connection.close()


async def _ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    """Consuming is what is checked; the test takes no message (they go back unacknowledged)."""


async def _consume(url: str, queue: str) -> None:
    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=False)
        tag = await source.consume(_ignore, no_ack=False)
        await source.cancel(tag)
    finally:
        await connection.close()


async def test_notify_broker_user_cannot_publish_to_billing_in(
    system: System, infra: Infra
) -> None:
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match="ACCESS_REFUSED"):
        await _publish(url_of(infra, "notify"), topology.BILLING_IN_EXCHANGE)
    # Nor read another service's queue, nor remove a shared exchange.
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _consume(url_of(infra, "notify"), topology.events_queue("auth"))
    connection = await aio_pika.connect(url_of(infra, "notify"), timeout=10)
    try:
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await channel.exchange_delete(topology.EVENTS_EXCHANGE)
    finally:
        await connection.close()


async def test_billing_system_user_publishes_to_billing_in_and_reads_its_queue_only(
    system: System, infra: Infra
) -> None:
    billing_system = url_of(infra, "billing-system")
    # An unknown schema: billing and readings dead-letter it, nothing else happens.
    await _publish(billing_system, topology.BILLING_IN_EXCHANGE, "least-privilege.probe.v1")
    await _consume(billing_system, topology.BILLING_SYSTEM_QUEUE)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _publish(billing_system, topology.EVENTS_EXCHANGE)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _publish(billing_system, topology.IBOK_OUT_EXCHANGE)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _consume(billing_system, topology.billing_in_queue("billing"))


def test_the_system_runs_on_its_own_users(system: System, infra: Infra) -> None:
    listed = provision_users_connected(infra)
    for process in ("gateway", *topology.SERVICES):
        assert provision.broker_user(infra.vhost, process) in listed


def provision_users_connected(infra: Infra) -> set[str]:
    import subprocess

    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "user", "vhost"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return {
        line.split("\t")[0]
        for line in out.splitlines()
        if line.endswith(f"\t{infra.vhost}") and "\t" in line
    }
