"""``ibok``: the operations CLI: migrations, the first admin, dead letters, retention."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.util
import json
import sys
import uuid
from datetime import date
from pathlib import Path

import asyncpg

from contracts.retention import RUN_RETENTION, RetentionReport, RunRetention
from contracts.topology import SERVICES
from runtime import db
from runtime.errors import DomainError
from runtime.logs import configure_logging
from runtime.rpc_client import RpcClient, RpcError, RpcProblem
from runtime.settings import Settings, get_settings
from services.auth import domain as auth_domain
from services.auth import staff_store, store
from services.auth.passwords import Passwords
from tools import dead_letters, demo_totp


def migrations_of(service: str) -> Path:
    spec = importlib.util.find_spec(f"services.{service}")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "migrations"


async def migrate_all(dsn: str) -> dict[str, list[str]]:
    await db.ensure_database(dsn)
    return {s: await db.migrate(dsn, s, migrations_of(s)) for s in SERVICES}


async def create_admin(settings: Settings, login: str, name: str, password: str) -> uuid.UUID:
    """The first admin (and any later one): an ``admin`` staff user, recorded in the audit trail."""
    auth_domain.check_staff_password_policy(password)
    await db.ensure_database(settings.postgres_dsn)
    await db.migrate(settings.postgres_dsn, "auth", migrations_of("auth"))
    password_hash = await Passwords(settings).hash(password)
    staff_id = uuid.uuid4()
    pool = await db.create_pool(settings.postgres_dsn, "auth", min_size=1, max_size=1)
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
    dead = sub.add_parser("dead-letters", help="list, replay or discard dead-lettered messages")
    dead.add_argument("action", choices=["list", "replay", "discard"])
    dead.add_argument("--id", action="append", dest="ids", help="only this message id (repeatable)")
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
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging("ops", settings.log_level)
    if args.command == "migrate":
        applied = asyncio.run(migrate_all(settings.postgres_dsn))
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
    elif args.command == "dead-letters":
        return dead_letters_command(
            settings.amqp_url, args.action, set(args.ids) if args.ids else None
        )
    return 0


def dead_letters_command(url: str, action: str, ids: set[str] | None) -> int:
    if action == "list":
        letters = asyncio.run(dead_letters.list_dead_letters(url))
        for letter in letters:
            print(json.dumps(letter.summary(), ensure_ascii=False))
        print(f"{len(letters)} dead letter(s)", file=sys.stderr)
        return 0
    count = asyncio.run(
        dead_letters.settle_dead_letters(url, replay=action == "replay", message_ids=ids)
    )
    print(f"{action}ed {count} message(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
