"""``ibok``: the operations CLI: provisioning, migrations and the broker topology, the first
admin, dead letters, unrouted messages, parked outbox rows, retention, backups."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.util
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg

from contracts import topology
from contracts.retention import RUN_RETENTION, RetentionReport, RunRetention
from contracts.topology import SERVICES
from runtime import broker_topology, db
from runtime.errors import DomainError
from runtime.logs import configure_logging
from runtime.rpc_client import RpcClient, RpcError, RpcProblem
from runtime.settings import Settings, get_settings
from services.auth import domain as auth_domain
from services.auth import store
from services.auth.passwords import Passwords
from services.auth.staff import store as staff_store
from tools import backup, dead_letters, demo_totp, provision


def migrations_of(service: str) -> Path:
    spec = importlib.util.find_spec(f"services.{service}")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "migrations"


async def migrate_all(dsn: str, amqp_url: str | None = None) -> dict[str, list[str]]:
    """Every service's migrations and, given the broker, the whole topology (an older vhost's
    declarations upgraded: ``runtime.broker_topology.upgrade``)."""
    await db.ensure_database(dsn)
    applied = {s: await db.migrate(dsn, s, migrations_of(s)) for s in SERVICES}
    if amqp_url is not None:
        applied["broker"] = await broker_topology.upgrade(amqp_url)
    return applied


# --- outbox rows the relay parked ---------------------------------------------------------------


def _schema(service: str) -> str:
    if service not in SERVICES:  # it goes into SQL as a schema name
        raise ValueError(f"not a service: {service!r}")
    return service


async def parked_rows(dsn: str, services: Sequence[str]) -> list[dict[str, str]]:
    """Every parked outbox row of ``services``, oldest first, without its body."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = []
        for service in services:
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{service}.outbox"):
                continue  # that service has never started on this database
            for row in await conn.fetch(
                f"SELECT id, message_id, exchange, routing_key, attempts, last_error, created_at,"
                f" parked_at FROM {_schema(service)}.outbox"
                " WHERE parked_at IS NOT NULL ORDER BY id"
            ):
                rows.append({"service": service, **{str(k): str(v) for k, v in row.items()}})
        return rows
    finally:
        await conn.close()


async def release_rows(dsn: str, service: str, ids: Sequence[int] | None) -> int:
    """Give parked rows of ``service`` (all, or ``ids``) back to the relay, attempts reset."""
    conn = await asyncpg.connect(dsn)
    try:
        status = await conn.execute(
            f"UPDATE {_schema(service)}.outbox SET parked_at = NULL, attempts = 0,"
            " next_attempt_at = NULL WHERE parked_at IS NOT NULL"
            " AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))",
            list(ids) if ids else None,
        )
        return int(status.split()[-1])
    finally:
        await conn.close()


def vhost_of(amqp_url: str) -> str:
    return unquote(urlsplit(amqp_url).path[1:]) or "/"


async def create_admin(settings: Settings, login: str, name: str, password: str) -> uuid.UUID:
    """The first admin (and any later one): an ``admin`` staff user, recorded in the audit trail."""
    auth_domain.check_staff_password_policy(password)
    dsn = settings.postgres_dsn_of("auth")
    await db.ensure_database(dsn)
    await db.migrate(dsn, "auth", migrations_of("auth"))
    password_hash = await Passwords(settings).hash(password)
    staff_id = uuid.uuid4()
    pool = await db.create_pool(dsn, "auth", min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await staff_store.insert_staff_user(
                conn,
                staff_id=staff_id,
                login=login,
                login_key=auth_domain.login_key(login),
                name=name,
                role="admin",
                password_hash=password_hash,
                created_by=None,
            )
            await store.audit(
                conn,
                "staff_created",
                actor_kind="system",
                staff_id=staff_id,
                detail=auth_domain.audit_detail(login=login, role="admin", via="ibok create-admin"),
            )
    finally:
        await pool.close()
    return staff_id


async def ensure_admin(settings: Settings, login: str, name: str, password: str) -> bool:
    """Create the admin unless the login exists (``make run``'s demo staff login); True if created."""
    try:
        await create_admin(settings, login, name, password)
    except asyncpg.UniqueViolationError:
        return False
    return True


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (12-128 characters, a letter and a digit): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("the passwords differ")
    return first


# A real run erases in batches and may first wait for a scheduled one to finish.
RETENTION_TIMEOUT = 600.0


async def run_retention(url: str, request: RunRetention) -> RetentionReport:
    """Ask billing (any of its processes) to run retention (R14), or only to say who is due."""
    client = RpcClient(url, timeout=RETENTION_TIMEOUT, name="ibok-ops")
    await client.start()
    try:
        return await client.call(RUN_RETENTION, request)
    finally:
        await client.stop()


def retention_command(url: str, dry_run: bool, today: date | None) -> int:
    """One JSON line per customer (number and dates, nothing personal), then a summary."""
    try:
        report = asyncio.run(run_retention(url, RunRetention(dry_run=dry_run, today=today)))
    except RpcProblem as exc:
        print(exc.problem.detail_en, file=sys.stderr)
        return 2
    except RpcError as exc:
        print(f"billing did not answer: {type(exc).__name__}", file=sys.stderr)
        return 1
    for customer in report.customers:
        print(customer.model_dump_json())
    verb = "due for erasure" if report.dry_run else "erased"
    summary = f"{len(report.customers)} customer(s) {verb} on {report.today.isoformat()}"
    if report.counts:
        summary += "; billing rows: " + ", ".join(f"{k} {v}" for k, v in report.counts.items())
    print(summary, file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ibok", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply every service's pending migrations")
    prov = sub.add_parser(
        "provision",
        help="a database role and a broker user per process, each allowed only its own (again: "
        "changes nothing)",
    )
    prov.add_argument(
        "--secret-file",
        default="var/provision.secret",
        help="passwords not given in settings are derived from this file's secret (made if "
        "missing; default %(default)s)",
    )
    prov.add_argument(
        "--env-file",
        help="write each process's connection settings (IBOK_<PROCESS>_POSTGRES_DSN, "
        "IBOK_<PROCESS>_AMQP_URL) to this file, readable by its owner only",
    )
    dead = sub.add_parser("dead-letters", help="list, replay or discard dead-lettered messages")
    dead.add_argument("action", choices=["list", "replay", "discard"])
    dead.add_argument("--id", action="append", dest="ids", help="only this message id (repeatable)")
    unrouted = sub.add_parser(
        "unrouted", help="list, replay or discard messages no queue took (ibok.unrouted)"
    )
    unrouted.add_argument("action", choices=["list", "replay", "discard"])
    unrouted.add_argument(
        "--id", action="append", dest="ids", help="only this message id (repeatable)"
    )
    outbox = sub.add_parser(
        "outbox", help="list the outbox rows the relay parked, or release them to be tried again"
    )
    outbox.add_argument("action", choices=["list", "release"])
    outbox.add_argument("--service", choices=SERVICES, help="one service (release needs it)")
    outbox.add_argument("--id", action="append", type=int, dest="ids", help="only this row id")
    topo = sub.add_parser(
        "topology",
        help="check the broker's vhost against the topology (rabbitmqctl), or declare it",
    )
    topo.add_argument("action", choices=["check", "declare"])
    topo.add_argument("--vhost", help="the vhost to check (default: that of IBOK_AMQP_URL)")
    admin = sub.add_parser("create-admin", help="create a staff user with the admin role")
    admin.add_argument("--login", required=True, help="3-32 letters, digits, '.', '_' or '-'")
    admin.add_argument("--name", default="", help="display name (default: the login)")
    admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (else prompt twice)",
    )
    totp = sub.add_parser(
        "totp-code", help="the demo staff user's current second-factor code (make run only)"
    )
    totp.add_argument("--login", required=True)
    keep = sub.add_parser(
        "retention", help="erase personal data whose retention ended (R14), or list who is due"
    )
    keep.add_argument("--dry-run", action="store_true", help="only list who is due; change nothing")
    keep.add_argument(
        "--today",
        type=date.fromisoformat,
        help="apply the rule as on this day, YYYY-MM-DD (a real run refuses a future day)",
    )
    saving = sub.add_parser(
        "backup",
        help="a pgBackRest base backup of the database and the broker's definitions",
    )
    saving.add_argument("--type", choices=["full", "diff", "incr"], default="full")
    saving.add_argument(
        "--setup",
        action="store_true",
        help="first make the pgBackRest stanza and check that WAL archiving reaches it",
    )
    saving.add_argument("--no-broker", action="store_true", help="the database only")
    back = sub.add_parser(
        "restore",
        help="put the stopped database cluster back as it was at a moment (point in time)",
    )
    back.add_argument(
        "--to",
        type=datetime.fromisoformat,
        help="the moment, ISO 8601 with its offset (default: the end of the archived WAL)",
    )
    back.add_argument(
        "--broker-definitions",
        type=Path,
        help="also load this file from `ibok backup` into the broker",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "backup":
        if args.setup:
            backup.create_stanza(settings)
        report = backup.backup(settings, args.type, broker=not args.no_broker)
        print(f"{report.kind} backup in {report.seconds:.1f} s")
        if report.broker_definitions:
            print(f"broker definitions: {report.broker_definitions}")
        return 0
    if args.command == "restore":
        seconds = backup.restore(settings, args.to)
        print(f"restored in {seconds:.1f} s; start the cluster: it replays WAL to the target")
        if args.broker_definitions:
            backup.restore_broker(args.broker_definitions)
            print(f"broker definitions loaded from {args.broker_definitions}")
        return 0
    configure_logging("ops", settings.log_level)
    if args.command == "provision":
        return provision_command(settings, args.secret_file, args.env_file)
    if args.command == "migrate":
        applied = asyncio.run(migrate_all(settings.postgres_dsn_of("migrate"), settings.amqp_url))
        for service, versions in applied.items():
            print(f"{service}: {', '.join(versions) if versions else 'up to date'}")
    elif args.command == "create-admin":
        if not auth_domain.LOGIN_PATTERN.match(args.login):
            print("the login must be 3-32 letters, digits, '.', '_' or '-'", file=sys.stderr)
            return 2
        password = read_password(args.password_stdin)
        try:
            staff_id = asyncio.run(
                create_admin(settings, args.login, args.name or args.login, password)
            )
        except DomainError as exc:
            print(exc.detail_en, file=sys.stderr)
            return 2
        except asyncpg.UniqueViolationError:
            print(f"a staff user with the login {args.login!r} exists already", file=sys.stderr)
            return 1
        print(f"admin {args.login} created ({staff_id})")
    elif args.command == "totp-code":
        try:
            code, left = asyncio.run(demo_totp.current_code(settings, args.login))
        except demo_totp.NotForDeployment as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"{code}   (valid {left} s more; each code logs in once)")
    elif args.command == "retention":
        return retention_command(settings.amqp_url, args.dry_run, args.today)
    elif args.command in ("dead-letters", "unrouted"):
        queue = (
            topology.DEAD_LETTER_QUEUE
            if args.command == "dead-letters"
            else topology.UNROUTED_QUEUE
        )
        return parked_messages_command(
            settings.amqp_url, queue, args.action, set(args.ids) if args.ids else None
        )
    elif args.command == "outbox":
        return outbox_command(settings.postgres_dsn, args.action, args.service, args.ids)
    elif args.command == "topology":
        if args.action == "declare":
            for change in asyncio.run(broker_topology.upgrade(settings.amqp_url)):
                print(change)
            print("topology declared", file=sys.stderr)
            return 0
        problems = broker_topology.check(args.vhost or vhost_of(settings.amqp_url))
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1 if problems else 0
    return 0


def provision_command(settings: Settings, secret_file: str, env_file: str | None) -> int:
    env = asyncio.run(provision.provision(settings, provision.read_secret(secret_file)))
    for process, values in env.items():
        users = ", ".join(provision.login_of(url)[0] for url in values.values())
        print(f"{process}: {users}")
    if env_file:
        descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            for values in env.values():
                out.writelines(f"{name}={value}\n" for name, value in values.items())
    return 0


def parked_messages_command(url: str, queue: str, action: str, ids: set[str] | None) -> int:
    """``ibok dead-letters`` and ``ibok unrouted``: the same work on two queues."""
    if action == "list":
        letters = asyncio.run(dead_letters.list_dead_letters(url, queue))
        for letter in letters:
            print(json.dumps(letter.summary(), ensure_ascii=False))
        print(f"{len(letters)} message(s) in {queue}", file=sys.stderr)
        return 0
    count = asyncio.run(
        dead_letters.settle_dead_letters(
            url, replay=action == "replay", message_ids=ids, queue=queue
        )
    )
    print(f"{action}ed {count} message(s)", file=sys.stderr)
    return 0


def outbox_command(dsn: str, action: str, service: str | None, ids: list[int] | None) -> int:
    if action == "list":
        rows = asyncio.run(parked_rows(dsn, [service] if service else SERVICES))
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        print(f"{len(rows)} parked row(s)", file=sys.stderr)
        return 0
    if service is None:
        print("release needs --service", file=sys.stderr)
        return 2
    count = asyncio.run(release_rows(dsn, service, ids))
    print(f"released {count} row(s) of {service}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
