"""``ibok``: the operations CLI (migrate the database; more commands arrive with their features)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from pathlib import Path

from contracts.topology import SERVICES
from runtime import db
from runtime.logs import configure_logging
from runtime.settings import get_settings


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
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging("ops", settings.log_level)
    if args.command == "migrate":
        applied = asyncio.run(migrate_all(settings.postgres_dsn))
        for service, versions in applied.items():
            print(f"{service}: {', '.join(versions) if versions else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
