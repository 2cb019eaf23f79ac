"""``ibok``: the operations CLI: migrations, dead letters."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
from pathlib import Path

from contracts.topology import SERVICES
from runtime import db
from runtime.logs import configure_logging
from runtime.settings import get_settings
from tools import dead_letters


def migrations_of(service: str) -> Path:
    spec = importlib.util.find_spec(f"services.{service}")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "migrations"


async def migrate_all(dsn: str) -> dict[str, list[str]]:
    await db.ensure_database(dsn)
    return {s: await db.migrate(dsn, s, migrations_of(s)) for s in SERVICES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ibok", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply every service's pending migrations")
    dead = sub.add_parser("dead-letters", help="list, replay or discard dead-lettered messages")
    dead.add_argument("action", choices=["list", "replay", "discard"])
    dead.add_argument("--id", action="append", dest="ids", help="only this message id (repeatable)")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging("ops", settings.log_level)
    if args.command == "migrate":
        applied = asyncio.run(migrate_all(settings.postgres_dsn))
        for service, versions in applied.items():
            print(f"{service}: {', '.join(versions) if versions else 'up to date'}")
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
