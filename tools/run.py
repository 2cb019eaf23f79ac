"""``make run``: the whole of IBOK on this machine, with demo data and a local SMTP sink."""

from __future__ import annotations

import asyncio
import email
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx

from runtime.settings import get_settings
from tools.billing_sim.cli import publish
from tools.billing_sim.dataset import build_dataset
from tools.demo_totp import ensure_demo_totp
from tools.mail_sink import messages_in, start_sink
from tools.ops import ensure_admin, migrate_all
from tools.provision import provision, read_secret
from tools.system import System

VAR = Path("var")
DEMO_LOGIN = "demo"
DEMO_PASSWORD = "Woda2026"  # noqa: S105 - the published demo password
DEMO_EMAIL = "demo@ibok.example"
DEMO_STAFF_LOGIN = "admin"
DEMO_STAFF_PASSWORD = "AdminDemo2026"  # noqa: S105 - the published demo password
DEMO_CUSTOMERS = 50


async def billing_synced(dsn: str, timeout: float = 30) -> None:
    """Wait until billing has applied a data set (the simulator's batch ends with sync completed)."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while not await conn.fetchval("SELECT count(*) FROM billing.sync_state"):
            if time.monotonic() > deadline:
                raise RuntimeError("billing did not ingest the demo data set")
            await asyncio.sleep(0.3)
    finally:
        await conn.close()


async def check_servers(dsn: str, amqp_url: str) -> list[str]:
    problems = []
    try:
        conn = await asyncpg.connect(
            urlunsplit(urlsplit(dsn)._replace(path="/postgres")), timeout=3
        )
        await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        problems.append(
            f"PostgreSQL is not reachable at {dsn} ({type(exc).__name__}: {exc}).\n"
            "  Start it:  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
            "  or point IBOK_POSTGRES_DSN at a running server."
        )
    try:
        connection = await aio_pika.connect(amqp_url, timeout=3)
        await connection.close()
    except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
        problems.append(
            f"RabbitMQ is not reachable at {amqp_url} ({type(exc).__name__}).\n"
            "  Start it:  rabbitmq-server -detached\n"
            "  or point IBOK_AMQP_URL at a running broker."
        )
    return problems


def busy_ports(ports: dict[str, int]) -> list[str]:
    """Ports of ours another process already holds (an earlier run still up, say)."""
    busy = []
    for name, port in ports.items():
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(f"{name} port {port} is already in use")
    return busy


def ensure_demo_account(gateway: str, mail_dir: Path) -> None:
    """Register the first demo customer through the API and confirm the emailed link, as a person would."""
    customer = build_dataset(DEMO_CUSTOMERS).customers[0]
    body = {
        "customer_number": customer.number,
        "contract_number": customer.contracts[0].contract_number,
        "identity_kind": customer.identity_kind,
        "identity_number": customer.identity_number,
        "login": DEMO_LOGIN,
        "password": DEMO_PASSWORD,
        "email": DEMO_EMAIL,
    }
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=gateway, timeout=10) as client:
        answer = client.post("/api/v1/auth/register", json=body)
        code = answer.json().get("code") if answer.status_code >= 400 else None
        # An existing demo account (an earlier run) answers as data that match no contract do:
        # the data set is ingested by now (billing_synced), so the login below tells them apart.
        if answer.status_code != 201 and code not in ("login_taken", "registration_not_eligible"):
            raise RuntimeError(f"demo registration failed: {answer.status_code} {answer.text}")
        credentials = {"login": DEMO_LOGIN, "password": DEMO_PASSWORD}
        while time.monotonic() < deadline:
            login = client.post("/api/v1/auth/login", json=credentials)
            if login.json().get("code") in (
                "captcha_required",
                "account_blocked",
                "too_many_attempts",
            ):
                # Someone used the demo account by hand; it exists, which is all we need here.
                print(f"note: the demo login answers {login.json()['code']}", file=sys.stderr)
                return
            if login.status_code == 200:
                client.post(
                    "/api/v1/auth/logout", headers={"X-CSRF-Token": login.headers["x-csrf-token"]}
                )
                return
            if login.json().get("code") != "email_not_verified":
                raise RuntimeError(f"demo login failed: {login.status_code} {login.text}")
            for token in reversed(verification_tokens(mail_dir, DEMO_EMAIL)):
                client.post("/api/v1/auth/verify-email", json={"token": token})
            time.sleep(0.3)
        raise RuntimeError("the demo account could not be verified (no verification email arrived)")


def verification_tokens(mail_dir: Path, recipient: str) -> list[str]:
    tokens = []
    for message in messages_in(mail_dir):
        if message["To"] != recipient:
            continue
        for part in email.message_from_bytes(bytes(message)).walk():
            payload = part.get_payload(decode=True)
            if part.get_content_type() == "text/plain" and isinstance(payload, bytes):
                found = re.search(r"token=([\w-]+)", payload.decode())
                if found:
                    tokens.append(found.group(1))
    return tokens


def main() -> int:
    settings = get_settings()
    problems = asyncio.run(check_servers(settings.postgres_dsn, settings.amqp_url))
    if problems:
        print("IBOK cannot start:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    # Every process on a role and broker user of its own (docs/security.md); migrations run
    # as the migration role, the demo admin is made as auth's role.
    own = asyncio.run(provision(settings, read_secret(str(VAR / "provision.secret"))))
    settings = settings.model_copy(
        update={k.removeprefix("IBOK_").lower(): v for env in own.values() for k, v in env.items()}
    )
    asyncio.run(migrate_all(settings.postgres_dsn_of("migrate"), settings.amqp_url))
    busy = busy_ports(
        {s: settings.port_of(s) for s in ("gateway", "auth", "readings", "billing", "notify")}
        | {"gateway metrics": settings.gateway_metrics_port, "SMTP sink": settings.smtp_port}
    )
    if busy:
        print(
            "IBOK cannot start: " + "; ".join(busy) + " (is another make run still up?)",
            file=sys.stderr,
        )
        return 1
    asyncio.run(ensure_admin(settings, DEMO_STAFF_LOGIN, "Demo Administrator", DEMO_STAFF_PASSWORD))
    demo_secret = asyncio.run(ensure_demo_totp(settings, DEMO_STAFF_LOGIN))
    mail_dir = VAR / "mail"
    sink = start_sink(mail_dir, settings.smtp_host, settings.smtp_port)
    # Local http: the demo's cookie cannot be Secure unless the operator says otherwise.
    system = System(
        {"IBOK_COOKIE_SECURE": os.environ.get("IBOK_COOKIE_SECURE", "false")},
        log_dir=VAR / "log",
        service_env=own,
    )
    stop = False

    def request_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        system.start_all()
        system.wait_ready()
        asyncio.run(publish(settings.amqp_url, list(build_dataset(DEMO_CUSTOMERS).messages())))
        gateway = system.url("gateway")
        asyncio.run(billing_synced(settings.postgres_dsn))
        ensure_demo_account(gateway, mail_dir)
        print(
            f"\nIBOK is running.\n"
            f"  in a browser:   {gateway}/   (customer office; staff console at {gateway}/staff)\n"
            f"  API:            {gateway}/api/v1   (docs: {gateway}/schema)\n"
            f"  health:         {gateway}/health/ready and ports 8001-8004\n"
            f"  metrics:        http://127.0.0.1:{settings.gateway_metrics_port}/metrics (gateway),"
            f" /metrics on ports 8001-8004\n"
            f"  demo customer:  login {DEMO_LOGIN!r}, password {DEMO_PASSWORD!r}\n"
            f"  demo staff:     login {DEMO_STAFF_LOGIN!r} (admin), password {DEMO_STAFF_PASSWORD!r}"
            f" at /api/v1/staff/auth/login\n"
            + (
                f"                  second factor: `ibok totp-code --login {DEMO_STAFF_LOGIN}`"
                f" prints the current code, or add the key {demo_secret} to an authenticator"
                f" app\n"
                if demo_secret
                else "                  second factor: the authenticator app you enrolled\n"
            )
            + f"  mail sink:      smtp://{settings.smtp_host}:{settings.smtp_port}, messages in {mail_dir}/new\n"
            f"  logs:           {VAR / 'log'}/<service>.log\n"
            f"Ctrl-C stops everything.",
            flush=True,
        )
        while not stop:
            for name, process in system.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping IBOK ...", flush=True)
        system.stop_all()
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
