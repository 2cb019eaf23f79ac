"""The restore drill (docs/reliability.md, Backups and restore drill), on a cluster of its own.

A cluster archiving its WAL through pgBackRest (``tools.backup.ARCHIVE_SETTINGS``) with IBOK's
schemas in it; a base backup; a writer committing a row every 50 ms; a moment T marked; an
operator's mistake (a DELETE) after it; then the cluster lost for good (killed, its data
directory deleted). ``ibok restore`` brings back the end of the archived WAL (what a total loss
costs: the recovery point) and then T itself (the mistake undone), each timed until the cluster
takes writes again (the recovery time). The figures are printed for docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from runtime import tls
from runtime.settings import Settings
from tests.support.infra import Infra
from tests.support.tls_servers import CaFiles, TlsPostgres, make_ca
from tools import backup
from tools.ops import migrate_all

WRITE_EVERY = 0.05  # the writer's pace: a steady trickle of commits, as a working day makes


def _owned_by_postgres(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


@pytest.fixture
def drill_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="ibok-drill-"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _pgbackrest_settings(base: Path, cluster: TlsPostgres) -> Settings:
    repo = _owned_by_postgres(base / "repo")
    logs = _owned_by_postgres(base / "log")
    locks = _owned_by_postgres(base / "lock")
    config = base / "pgbackrest.conf"
    config.write_text(
        "[global]\n"
        f"repo1-path={repo}\n"
        "repo1-retention-full=2\n"
        "start-fast=y\n"
        "compress-type=lz4\n"
        f"log-path={logs}\nlock-path={locks}\n"
        "log-level-console=warn\n"
        "[ibok]\n"
        f"pg1-path={cluster.data}\n"
        f"pg1-port={cluster.port}\n"
        f"pg1-socket-path={cluster.base}\n"
        "pg1-user=postgres\n"
    )
    os.chmod(config, 0o644)
    runner = "runuser -u postgres -- pgbackrest" if os.geteuid() == 0 else "pgbackrest"
    return Settings(
        backup_pgbackrest=runner,
        backup_config=str(config),
        backup_stanza="ibok",
        backup_dir=str(base / "broker"),
    )


class Writer:
    """Commits a row every ``WRITE_EVERY`` seconds; remembers the last one committed. ``hold``
    pauses it between two commits (so a moment can be marked with nothing in flight)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.last: tuple[int, datetime] | None = None
        self.running = asyncio.Event()
        self.running.set()
        self.paused = asyncio.Event()
        self.stopped = False
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while not self.stopped:
                if not self.running.is_set():
                    self.paused.set()
                    await self.running.wait()
                    self.paused.clear()
                row = await conn.fetchrow(
                    "INSERT INTO restore_drill DEFAULT VALUES RETURNING id, written_at"
                )
                assert row is not None
                self.last = (row["id"], row["written_at"])
                await asyncio.sleep(WRITE_EVERY)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if not self.stopped:
                raise
        finally:
            conn.terminate()

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def written(self, count: int) -> None:
        while self.last is None or self.last[0] < count:
            assert self.task is not None and not self.task.done(), "the writer stopped"
            await asyncio.sleep(0.05)

    async def hold(self) -> None:
        self.running.clear()
        await self.paused.wait()

    def release(self) -> None:
        self.running.set()


async def _archived_after(dsn: str, moment: datetime, timeout: float) -> None:
    """Wait until the archiver has stored a WAL segment finished after ``moment``."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            last = await conn.fetchval("SELECT last_archived_time FROM pg_stat_archiver")
            if last is not None and last > moment:
                return
            assert time.monotonic() < deadline, f"nothing archived after {moment}"
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def _writable(dsn: str, timeout: float = 300) -> None:
    """Wait until the restored cluster has replayed to its target and takes writes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
        except (OSError, asyncpg.PostgresError):
            conn = None
        if conn is not None:
            try:
                if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                    return
            finally:
                await conn.close()
        assert time.monotonic() < deadline, "the restored cluster did not open"
        await asyncio.sleep(0.2)


def _lose(cluster: TlsPostgres) -> None:
    """The cluster gone for good: the postmaster killed, its data directory deleted."""
    assert cluster.process is not None
    os.killpg(cluster.process.pid, signal.SIGKILL)
    cluster.process.wait(timeout=30)
    cluster.process = None
    shutil.rmtree(cluster.data)
    _owned_by_postgres(cluster.data)
    os.chmod(cluster.data, 0o700)


async def _restore_and_open(
    settings: Settings, cluster: TlsPostgres, dsn: str, to: datetime | None
) -> float:
    started = time.monotonic()
    await asyncio.to_thread(backup.restore, settings, to)
    await asyncio.to_thread(cluster.start, 300)
    await _writable(dsn)
    return time.monotonic() - started


async def test_restore_drill_point_in_time_and_total_loss(drill_dir: Path, infra: Infra) -> None:
    ca: CaFiles = make_ca(drill_dir / "ca")
    cluster = TlsPostgres(ca)
    settings = _pgbackrest_settings(drill_dir, cluster)
    cluster.options.update(backup.ARCHIVE_SETTINGS)
    cluster.options["archive_command"] = backup.archive_command(settings)
    cluster.start()
    dsn = tls.postgres_dsn(f"{cluster.base_dsn}/ibok", str(ca.ca_file))
    try:
        await migrate_all(dsn)
        conn = await asyncpg.connect(dsn)
        await conn.execute(
            "CREATE TABLE restore_drill (id bigserial PRIMARY KEY,"
            " written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        await conn.close()
        await asyncio.to_thread(backup.create_stanza, settings)
        report = await asyncio.to_thread(backup.backup, settings, "full", broker=False)

        writer = Writer(dsn)
        writer.start()
        await writer.written(100)
        await writer.hold()
        conn = await asyncpg.connect(dsn)
        target: datetime = await conn.fetchval("SELECT clock_timestamp()")
        before_target = await conn.fetchval("SELECT count(*) FROM restore_drill")
        writer.release()
        await writer.written(before_target + 100)
        mistake: datetime = await conn.fetchval(
            "WITH gone AS (DELETE FROM restore_drill WHERE id <= 50 RETURNING 1)"
            " SELECT clock_timestamp()"
        )
        await conn.close()
        # The WAL holding the mistake reaches the repository within archive_timeout.
        await _archived_after(dsn, mistake, timeout=120)
        assert writer.last is not None
        await writer.written(writer.last[0] + 100)
        writer.stopped = True
        _lose(cluster)
        assert writer.task is not None
        await writer.task
        last_id, last_written = writer.last

        # Total loss: everything up to the end of the archived WAL comes back.
        latest_seconds = await _restore_and_open(settings, cluster, dsn, None)
        conn = await asyncpg.connect(dsn)
        rows = await conn.fetch("SELECT id, written_at FROM restore_drill ORDER BY id")
        await conn.close()
        ids = [row["id"] for row in rows]
        assert ids == list(range(51, ids[-1] + 1)), "a gap in what came back"
        recovered_last = rows[-1]["written_at"]
        lost_seconds = (last_written - recovered_last).total_seconds()
        assert ids[-1] <= last_id
        assert lost_seconds <= 60, f"{lost_seconds:.1f} s of writes lost"

        # Point in time: T, before the mistake, exactly.
        cluster.stop()
        pitr_seconds = await _restore_and_open(settings, cluster, dsn, target)
        conn = await asyncpg.connect(dsn)
        restored = [r["id"] for r in await conn.fetch("SELECT id FROM restore_drill ORDER BY id")]
        migrated = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'schema_migrations'"
        )
        size = await conn.fetchval("SELECT pg_database_size('ibok')")
        await conn.close()
        assert restored == list(range(1, before_target + 1))
        assert migrated == 4  # IBOK's four schemas came back with it

        print(
            "\nrestore drill: "
            + json.dumps(
                {
                    "database_bytes": size,
                    "full_backup_seconds": round(report.seconds, 1),
                    "rows_written": last_id,
                    "rows_lost_total_loss": last_id - ids[-1],
                    "writes_lost_seconds": round(lost_seconds, 1),
                    "restore_latest_until_writable_seconds": round(latest_seconds, 1),
                    "restore_to_time_until_writable_seconds": round(pitr_seconds, 1),
                }
            )
        )
    finally:
        cluster.remove()


def test_the_broker_definitions_are_exported_readable_by_their_owner_only(
    drill_dir: Path, infra: Infra
) -> None:
    settings = Settings(backup_dir=str(drill_dir / "broker"))
    path = backup.export_broker(settings)
    definitions = json.loads(path.read_text())
    assert infra.vhost in {v["name"] for v in definitions["vhosts"]}
    assert {"users", "permissions", "exchanges", "queues", "bindings"} <= definitions.keys()
    assert path.stat().st_mode & 0o077 == 0
