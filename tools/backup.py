"""``ibok backup`` and ``ibok restore``: PostgreSQL through pgBackRest (base backups and WAL
archiving, restore to a point in time), the broker's definitions through ``rabbitmqctl``.

pgBackRest does the work (docs/reliability.md, Backups and restore drill): the cluster archives
every WAL segment with ``archive_command`` (``ARCHIVE_SETTINGS``), ``ibok backup`` takes a base
backup (full, differential or incremental), ``ibok restore`` puts a stopped cluster back as it
was at a moment (or at the end of the archived WAL). Its configuration file names the
repository and the cluster (``IBOK_BACKUP_CONFIG``); pgBackRest runs as the cluster's owner
(``IBOK_BACKUP_PGBACKREST``, e.g. ``runuser -u postgres -- pgbackrest``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from runtime.settings import Settings
from tools.provision import rabbitmqctl

# The cluster's side of WAL archiving: every segment to the repository, a segment switch at
# least every 30 s while anything is written (the recovery point bound, with the archive
# command's own time), enough WAL for a base backup taken from a running cluster.
ARCHIVE_SETTINGS = {
    "wal_level": "replica",
    "archive_mode": "on",
    "archive_timeout": "30s",
}


def archive_command(settings: Settings) -> str:
    """The ``archive_command`` the cluster runs (as its owner) for each finished WAL segment."""
    return " ".join([*_pgbackrest_words(settings, as_owner=False), "archive-push", "%p"])


def _pgbackrest_words(settings: Settings, *, as_owner: bool = True) -> list[str]:
    command = shlex.split(settings.backup_pgbackrest) if as_owner else ["pgbackrest"]
    config = [f"--config={settings.backup_config}"] if settings.backup_config else []
    return [*command, *config, f"--stanza={settings.backup_stanza}"]


def pgbackrest(settings: Settings, *args: str, timeout: float = 3600) -> str:
    done = subprocess.run(  # noqa: S603 - the operator's pgBackRest, fixed arguments
        [*_pgbackrest_words(settings), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.stdout


def create_stanza(settings: Settings) -> None:
    """Make the repository ready for this cluster (once; again is harmless) and check that
    archiving reaches it."""
    pgbackrest(settings, "stanza-create")
    pgbackrest(settings, "check")


@dataclass(frozen=True)
class BackupReport:
    kind: str
    seconds: float
    broker_definitions: Path | None


def backup(settings: Settings, kind: str = "full", *, broker: bool = True) -> BackupReport:
    """A base backup of the cluster (``full``, ``diff`` or ``incr``), and the broker's
    definitions (exchanges, queues, bindings, users, permissions) beside it."""
    started = time.monotonic()
    pgbackrest(settings, "backup", f"--type={kind}")
    seconds = time.monotonic() - started
    return BackupReport(kind, seconds, export_broker(settings) if broker else None)


def export_broker(settings: Settings) -> Path:
    """``rabbitmqctl export_definitions`` into ``IBOK_BACKUP_DIR``, readable by its owner only
    (it holds the users' password hashes)."""
    definitions = rabbitmqctl("export_definitions", "-")
    json.loads(definitions)  # a broken export must not pass for a backup
    directory = Path(settings.backup_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"rabbitmq-definitions-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(definitions)
    return path


def restore(settings: Settings, to: datetime | None = None) -> float:
    """Put the (stopped) cluster back as it was at ``to``, or at the end of the archived WAL;
    the seconds pgBackRest took. Start the cluster afterwards: it replays WAL up to the
    target and then opens for writing (``--target-action=promote``)."""
    target = ["--type=default"]
    if to is not None:
        target = [
            "--type=time",
            f"--target={to.astimezone(UTC).isoformat(sep=' ')}",
            "--target-action=promote",
        ]
    started = time.monotonic()
    pgbackrest(settings, "restore", "--delta", *target)
    return time.monotonic() - started


def restore_broker(path: Path) -> None:
    """Load exported definitions into the broker (what exists is kept; the rest comes back)."""
    rabbitmqctl("import_definitions", stdin=path.read_text())
