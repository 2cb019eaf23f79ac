"""TLS everywhere (docs/security.md): the whole system on a PostgreSQL cluster and a RabbitMQ
node of the test's own that speak TLS only, with certificates from a CA the test makes, its
roles and users made by ``ibok provision`` (the broker's through its management API); notify's
mail over STARTTLS and implicit TLS to aiosmtpd. Every connection verifies the server's
certificate and name; one from another CA is refused."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from runtime import tls
from runtime.settings import Settings
from services.notify.mailer import SmtpConnection
from tests.conftest import system_env
from tests.support.infra import Infra, free_port
from tests.support.mail import MailSink
from tests.support.tls_servers import (
    CaFiles,
    TlsPostgres,
    TlsRabbit,
    make_ca,
    tls_postgres,
    tls_rabbit,
)
from tools import provision
from tools.system import System

DATABASE = "ibok_tls"


@dataclass
class TlsWorld:
    ca: CaFiles
    other_ca: CaFiles
    postgres: TlsPostgres
    rabbit: TlsRabbit
    system: System
    logins: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def cas() -> Iterator[tuple[CaFiles, CaFiles]]:
    made = [Path(tempfile.mkdtemp(prefix="ibok-ca-")) for _ in range(2)]
    try:
        yield make_ca(made[0]), make_ca(made[1], name="Another CA")
    finally:
        for directory in made:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def world(
    cas: tuple[CaFiles, CaFiles], mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsWorld]:
    ca, other_ca = cas
    with tls_postgres(ca) as postgres, tls_rabbit(ca) as rabbit:
        infra = Infra(postgres.base_dsn, rabbit.base_url, DATABASE, "/")
        ca_files = {"IBOK_POSTGRES_CA_FILE": str(ca.ca_file), "IBOK_AMQP_CA_FILE": str(ca.ca_file)}
        # The broker's users come through its management API here (as in deploy/), through
        # rabbitmqctl in the rest of the suite.
        admin = Settings(
            postgres_dsn=infra.postgres_dsn,
            amqp_url=infra.amqp_url,
            postgres_ca_file=str(ca.ca_file),
            amqp_ca_file=str(ca.ca_file),
            amqp_management_url=rabbit.management_url,
        )
        logins = asyncio.run(provision.provision(admin, os.urandom(16)))
        system = System(
            system_env(infra, mail_sink, **ca_files),
            log_dir=tmp_path_factory.mktemp("tls-logs"),
            service_env=logins,
        )
        system.start_all()
        try:
            system.wait_ready(timeout=90)
            yield TlsWorld(ca, other_ca, postgres, rabbit, system, logins)
        finally:
            system.stop_all()


async def test_every_database_connection_is_tls_as_its_own_role(world: TlsWorld) -> None:
    dsn = tls.postgres_dsn(f"{world.postgres.base_dsn}/{DATABASE}", str(world.ca.ca_file))
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT a.usename, a.application_name, s.ssl, s.version FROM pg_stat_activity a"
            " JOIN pg_stat_ssl s USING (pid)"
            " WHERE a.datname = $1 AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
            DATABASE,
        )
    finally:
        await conn.close()
    assert rows and all(row["ssl"] for row in rows), rows
    users = {row["usename"] for row in rows}
    assert users >= {f"{DATABASE}_{s}" for s in ("auth", "readings", "billing", "notify")}
    assert "postgres" not in users


async def test_every_broker_connection_is_tls_as_its_own_user(world: TlsWorld) -> None:
    listed = world.rabbit.ctl("list_connections", "--no-table-headers", "user", "ssl")
    rows = [line.split("\t") for line in listed.splitlines() if line]
    assert rows and all(ssl_on == "true" for _, ssl_on in rows), rows
    assert {user for user, _ in rows} >= {
        f"ibok-{p}" for p in ("gateway", "auth", "readings", "billing", "notify")
    }
    # Made through the management API, with the permissions of tools.provision.
    listed = world.rabbit.ctl("list_user_permissions", "ibok-notify")
    assert provision.broker_permissions("notify").configure in listed


def test_a_request_crosses_gateway_broker_service_and_database_over_tls(world: TlsWorld) -> None:
    answer = httpx.get(f"{world.system.url('gateway')}/api/v1/auth/captcha", timeout=15)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"]


async def test_a_server_certificate_from_another_ca_is_refused(world: TlsWorld) -> None:
    other = str(world.other_ca.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncpg.connect(tls.postgres_dsn(f"{world.postgres.base_dsn}/{DATABASE}", other))
    with pytest.raises(aio_pika.exceptions.AMQPConnectionError) as refused:
        await aio_pika.connect(tls.amqp_url(f"{world.rabbit.base_url}/", other), timeout=10)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    # And the database takes no connection without TLS at all.
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await asyncpg.connect(f"{world.postgres.base_dsn}/{DATABASE}?sslmode=disable")


# --- mail -------------------------------------------------------------------------------------


class Recording:
    def __init__(self) -> None:
        self.sessions: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # The TLS version of the connection the message came over (None: plain).
        secured = server.transport.get_extra_info("ssl_object")
        self.sessions.append(secured.version() if secured is not None else None)
        return "250 OK"


def _server_context(ca: CaFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ca.cert_file, ca.key_file)
    return context


MESSAGE = b"From: ibok@example.org\r\nTo: a@example.org\r\nSubject: t\r\n\r\nbody\r\n"


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
async def test_mail_goes_over_tls_and_verifies_the_server(
    cas: tuple[CaFiles, CaFiles], mode: str
) -> None:
    ca, other_ca = cas
    handler = Recording()
    port = free_port()
    tls_kwargs: dict[str, Any] = (
        {"tls_context": _server_context(ca), "require_starttls": True}
        if mode == "starttls"
        else {"ssl_context": _server_context(ca)}
    )
    server = Controller(handler, hostname="127.0.0.1", port=port, **tls_kwargs)
    server.start()
    try:
        settings = Settings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_tls=mode, smtp_ca_file=str(ca.ca_file)
        )
        sender = SmtpConnection(settings)
        await sender.send("ibok@example.org", "a@example.org", MESSAGE)
        sender.close()
        assert handler.sessions in (["TLSv1.3"], ["TLSv1.2"])
        refused = SmtpConnection(
            settings.model_copy(update={"smtp_ca_file": str(other_ca.ca_file)})
        )
        with pytest.raises(Exception) as failed:
            await refused.send("ibok@example.org", "a@example.org", MESSAGE)
        assert "CERTIFICATE_VERIFY_FAILED" in repr(failed.value) + repr(failed.value.__cause__)
        assert len(handler.sessions) == 1
    finally:
        server.stop()


def test_smtp_tls_setting_takes_the_old_boolean_too() -> None:
    assert Settings(smtp_tls="true").smtp_tls == "starttls"
    assert Settings(smtp_tls="false").smtp_tls == "off"
    assert Settings(smtp_tls="implicit").smtp_tls == "implicit"
    with pytest.raises(ValueError):
        Settings(smtp_tls="sometimes")


def test_ca_files_put_verification_into_every_connection_string() -> None:
    settings = Settings(
        postgres_dsn="postgresql://postgres@db:5432/ibok",
        auth_postgres_dsn="postgresql://a:b@db:5432/ibok?sslmode=require",
        amqp_url="amqps://guest:guest@mq:5671/",
        notify_amqp_url="amqp://n:p@mq:5672/",
        postgres_ca_file="/ca.pem",
        amqp_ca_file="/ca.pem",
    )
    assert settings.postgres_dsn_of("readings").endswith(
        "?sslmode=verify-full&sslrootcert=%2Fca.pem"
    )
    # A DSN's own choice wins (here weaker, but the operator's to make).
    assert settings.postgres_dsn_of("auth").endswith("sslmode=require&sslrootcert=%2Fca.pem")
    assert settings.amqp_url_of("gateway").endswith("/?cafile=%2Fca.pem")
    assert settings.amqp_url_of("notify") == "amqp://n:p@mq:5672/"
