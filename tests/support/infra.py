"""Real PostgreSQL and RabbitMQ for the tests, isolated from each other run and from a demo.

Order of preference: URLs given in IBOK_TEST_POSTGRES_DSN / IBOK_TEST_AMQP_URL; else the local
servers when they answer (a fresh database and a fresh vhost per run); else testcontainers when
Docker is available; else a clear failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import asyncpg
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    return (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )


@dataclass
class Infra:
    postgres_base: str  # DSN without the database name
    amqp_base: str  # URL without the vhost
    database: str
    vhost: str
    # Each process's own database role and broker user (``ibok provision``), when made.
    logins: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def postgres_dsn(self) -> str:
        return f"{self.postgres_base}/{self.database}"

    @property
    def amqp_url(self) -> str:
        from urllib.parse import quote

        return f"{self.amqp_base}/{quote(self.vhost, safe='')}"


async def create_database(base: str, name: str) -> None:
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(base: str, name: str) -> None:
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def vhost(name: str) -> Iterator[str]:
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield name
    finally:
        rabbitmqctl("delete_vhost", name)


@contextmanager
def servers() -> Iterator[tuple[str, str, bool]]:
    """(postgres base DSN, amqp base URL, whether vhosts can be made with rabbitmqctl)."""
    pg = os.environ.get("IBOK_TEST_POSTGRES_DSN")
    amqp = os.environ.get("IBOK_TEST_AMQP_URL")
    if pg and amqp:
        yield pg.rstrip("/"), amqp.rstrip("/"), shutil.which("rabbitmqctl") is not None
        return
    if _answers("127.0.0.1", 5432) and _answers("127.0.0.1", 5672):
        if shutil.which("rabbitmqctl") is None:
            pytest.exit(
                "RabbitMQ answers locally but rabbitmqctl is missing: set IBOK_TEST_AMQP_URL", 2
            )
        yield "postgresql://postgres@127.0.0.1:5432", "amqp://guest:guest@127.0.0.1:5672", True
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with (
            PostgresContainer("postgres:15", driver=None) as postgres,
            RabbitMqContainer("rabbitmq:3.13") as rabbit,
        ):
            url = postgres.get_connection_url().rsplit("/", 1)[0]
            host, port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(5672)
            yield url, f"amqp://guest:guest@{host}:{port}", False
        return
    pytest.exit(
        "No PostgreSQL and RabbitMQ for the tests: start the local servers "
        "(pg_ctlcluster ... start; rabbitmq-server -detached), set IBOK_TEST_POSTGRES_DSN and "
        "IBOK_TEST_AMQP_URL, or make Docker available for testcontainers.",
        2,
    )


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
