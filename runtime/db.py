"""The asyncpg pool of one service, confined to its schema, and its forward-only migrations."""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from runtime.logs import get_logger

log = get_logger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# Errors that mean "the database is not reachable right now", not "this request is wrong".
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
)


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


async def ensure_database(dsn: str) -> None:
    """Create the database named in the DSN when it does not exist yet (fresh machines)."""
    parts = urlsplit(dsn)
    name = _identifier(parts.path.lstrip("/") or "postgres")
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await admin.close()
        log.info("database.created", database=name)
    else:
        await conn.close()


async def _reset_if_needed(conn: asyncpg.Connection) -> None:
    """Return a connection to the pool without asyncpg's default reset round trip.

    Our code leaves no session state (no LISTEN, advisory locks or cursors outside a
    transaction; search_path comes with the role); only a transaction left open by a
    cancelled task needs undoing.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 5.0
) -> asyncpg.Pool:
    """A pool whose connections see only this service's schema by default (search_path).

    A service's own role (``ibok provision``) carries ``search_path`` itself, so connections
    set nothing per session and a transaction-mode pooler may sit in between. A role without
    it (the administrative one, before provisioning) gets the schema as a connection setting.
    """
    schema = _identifier(schema)
    settings = {"application_name": f"ibok-{schema}"}

    async def pool(server_settings: dict[str, str]) -> asyncpg.Pool:
        made = await asyncpg.create_pool(
            dsn,
            reset=_reset_if_needed,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            command_timeout=timeout * 2,
            max_inactive_connection_lifetime=60,
            server_settings=server_settings,
        )
        assert made is not None
        return made

    made = await pool(settings)
    role = await made.fetchrow("SELECT current_schema() AS schema, current_user AS name")
    assert role is not None
    if role["schema"] == schema:
        return made
    await made.close()
    log.warning("database.search_path_per_connection", role=role["name"], schema=schema)
    return await pool(settings | {"search_path": schema})


async def superuser(pool: asyncpg.Pool) -> bool:
    """Whether this pool's role is a superuser (a deployment should run without one)."""
    return bool(await pool.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


def _migration_files(directory: Path, prefix: str) -> list[tuple[str, Path]]:
    return [(f"{prefix}{path.name}", path) for path in sorted(directory.glob("*.sql"))]


async def migrate(dsn: str, schema: str, migrations: Path) -> list[str]:
    """Apply the runtime's and the service's pending migrations, once, under an advisory lock.

    Several processes of one service may start together; the lock makes one of them migrate
    and the others wait and then find nothing to do. Migrations run as the schema's owner
    (``SET ROLE``, when the connecting role is another one allowed to), so every object stays
    the owning service's (``ibok provision``: docs/security.md).
    """
    schema = _identifier(schema)
    files = _migration_files(RUNTIME_MIGRATIONS, "runtime/") + _migration_files(migrations, "")
    applied: list[str] = []
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        lock_key = zlib.crc32(f"ibok.migrate.{schema}".encode())
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            owner = await conn.fetchval(
                "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema
            )
            if owner is None:
                await conn.execute(f"CREATE SCHEMA {schema}")
            elif owner != await conn.fetchval("SELECT current_user::text"):
                await conn.execute(f"SET ROLE {_identifier(owner)}")
            await conn.execute(f"SET search_path TO {schema}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, path in files:
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", version
                    )
                applied.append(version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    finally:
        await conn.close()
    if applied:
        log.info("migrations.applied", schema=schema, versions=applied)
    return applied


async def execute_counted(
    db: asyncpg.Connection | asyncpg.Pool, statements: Mapping[str, tuple[str, Sequence[Any]]]
) -> dict[str, int]:
    """Run named statements (``name: (sql, args)``) in order; the rows each one touched."""
    counts: dict[str, int] = {}
    for name, (sql, args) in statements.items():
        status = await db.execute(sql, *args)
        counts[name] = int(status.split()[-1])
    return counts


async def database_ready(pool: asyncpg.Pool, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        return True
    except TRANSIENT_DB_ERRORS:
        pool.expire_connections()
        return False
    except asyncpg.PostgresError:
        return False
