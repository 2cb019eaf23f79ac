"""A RabbitMQ node and a PostgreSQL cluster of a test's own, to stop, kill and start for real.

The machine's servers are shared by other test runs and a demo, so they are never stopped. These
are started from the same installed binaries, as their own system users (``rabbitmq`` and
``postgres``: the node must read the Erlang cookie in /var/lib/rabbitmq so that ``rabbitmqctl
-n`` reaches it, and PostgreSQL refuses to run as root), on free ports, with every file in a
temporary directory that ``remove()`` deletes. Their data survives a stop or a kill: a restarted
node has its durable queues and their messages, a restarted cluster does crash recovery.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.infra import _answers, free_port
from tools.system import SERVICE_ORDER, System

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_HOME = "/var/lib/rabbitmq"  # the cookie rabbitmqctl and the node share


def _as_user(user: str, *command: str, env: dict[str, str] | None = None) -> list[str]:
    """``command`` run as ``user`` (we may be root; a server refuses to run as root)."""
    settings = [f"{k}={v}" for k, v in (env or {}).items()]
    if os.geteuid() != 0:
        return ["env", *settings, *command]
    return ["runuser", "-u", user, "--", "env", *settings, *command]


def _owned_dir(prefix: str, user: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def wait_until(condition: object, timeout: float, what: str) -> float:
    """Poll ``condition()`` every 0.1 s; the seconds it took, or TimeoutError."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


class OwnRabbit:
    """A RabbitMQ node ``ibok-test-<random>@localhost`` with its own ports and data directory."""

    def __init__(self) -> None:
        self.name = f"ibok-test-{uuid.uuid4().hex[:8]}"
        self.node = f"{self.name}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = _owned_dir("ibok-rabbit-", "rabbitmq")
        self.process: subprocess.Popen[bytes] | None = None
        conf = self.base / "rabbitmq.conf"
        # The machine's /etc/rabbitmq pins the listener to 5672 and the node name: ours replace both.
        conf.write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "disk_free_limit.absolute = 50MB\n"
        )
        (self.base / "rabbitmq-env.conf").write_text("")
        (self.base / "enabled_plugins").write_text("[].\n")
        self.env = {
            "HOME": RABBITMQ_HOME,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbit.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    @property
    def url(self) -> str:
        """The broker's URL, default vhost ``/``."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def base_url(self) -> str:
        """The URL without the vhost, as tests.support.infra.Infra takes it."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> float:
        """Start the node (again, with the same data) and wait until AMQP answers (the listener
        opens last in the boot); the seconds it took."""
        started = time.monotonic()
        log = open(self.base / "server.out", "ab")
        self.process = subprocess.Popen(
            _as_user("rabbitmq", str(RABBITMQ_BIN / "rabbitmq-server"), env=self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=RABBITMQ_HOME,
            start_new_session=True,
        )
        log.close()
        process = self.process
        try:
            wait_until(
                lambda: process.poll() is not None or _answers("127.0.0.1", self.port),
                timeout,
                f"RabbitMQ {self.node} on {self.port}",
            )
            if process.poll() is not None:
                raise TimeoutError(f"rabbitmq-server exited with {process.returncode}")
        except TimeoutError as exc:
            raise RuntimeError(f"RabbitMQ {self.node} did not start: see {self.base}") from exc
        return time.monotonic() - started

    def stop(self, timeout: float = 60) -> float:
        """Stop the node as systemd or Docker does: SIGTERM to the Erlang VM, which shuts
        RabbitMQ down in order (``rabbitmqctl stop`` does the same, but its own VM takes seconds
        to boot on a loaded machine). The seconds until the node has exited."""
        started = time.monotonic()
        if self.process is None:
            return 0.0
        if self.process.poll() is None:
            try:
                os.kill(int((self.base / "rabbit.pid").read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        return time.monotonic() - started

    def restart(self) -> tuple[float, float]:
        """Stop and start with the same data directory: (seconds stopping, seconds starting)."""
        return self.stop(), self.start()

    def remove(self) -> None:
        try:
            self.stop(timeout=30)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql")
    return versions[0].parent


class OwnPostgres:
    """A PostgreSQL cluster made with ``initdb``, run with ``pg_ctl`` on a free port, trust auth."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        self.base = _owned_dir("ibok-pg-", "postgres")
        self.data = self.base / "data"
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            _as_user(
                "postgres",
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.base,
        )

    @property
    def base_dsn(self) -> str:
        """The DSN without the database name, as tests.support.infra.Infra takes it."""
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> float:
        """Start (after a kill: crash recovery) and wait until it takes connections; the seconds.

        The postmaster runs in the foreground under ``runuser``, our child, which reaps it when
        it is killed: a postmaster nobody reaps stays a zombie whose PID, still in
        ``postmaster.pid``, makes the next start refuse (this machine's PID 1 reaps late)."""
        started = time.monotonic()
        log = open(self.base / "server.log", "ab")
        self.process = subprocess.Popen(
            _as_user(
                "postgres",
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.base),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.base,
            start_new_session=True,
        )
        log.close()
        process = self.process

        def accepting() -> bool:
            return process.poll() is not None or (
                subprocess.run(
                    [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                    check=False,
                    timeout=10,
                ).returncode
                == 0
            )

        wait_until(accepting, timeout, f"PostgreSQL on {self.port}")
        if process.poll() is not None:
            tail = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"postgres exited with {process.returncode}: {tail}")
        return time.monotonic() - started

    def postmaster_pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        try:
            return int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _children(self, pid: int) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        return found

    def kill(self, timeout: float = 10) -> tuple[int, float]:
        """SIGKILL the postmaster, as the kernel's OOM killer would; its backends see it die and
        end (any left after ``timeout`` are SIGKILLed too). (backends, seconds until all gone)."""
        pid = self.postmaster_pid()
        if pid is None or self.process is None:
            raise RuntimeError("the cluster is not running")
        started = time.monotonic()
        children = self._children(pid)
        os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=timeout)
        self.process = None

        def gone(p: int) -> bool:
            return not Path(f"/proc/{p}").exists() or _zombie(p)

        try:
            wait_until(lambda: all(gone(p) for p in children), timeout, "backends ending")
        except TimeoutError:
            for child in children:
                if not gone(child):
                    os.kill(child, signal.SIGKILL)
            wait_until(lambda: all(gone(p) for p in children), timeout, "backends killed")
        return len(children), time.monotonic() - started

    def stop(self) -> None:
        if self.process is None:
            return
        pid = self.postmaster_pid()
        if self.process.poll() is None and pid is not None:
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown: nothing here needs a checkpoint
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@contextmanager
def own_rabbit() -> Iterator[OwnRabbit]:
    """A started node, stopped and deleted afterwards whatever happened."""
    node = OwnRabbit()
    try:
        node.start()
        yield node
    finally:
        node.remove()


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A started cluster, stopped and deleted afterwards whatever happened."""
    cluster = OwnPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@contextmanager
def running_system(
    env: dict[str, str], log_dir: Path, services: tuple[str, ...] = SERVICE_ORDER
) -> Iterator[System]:
    """IBOK's services (all five by default) started and ready, stopped afterwards whatever
    happened."""
    system = System(env, log_dir=log_dir)
    try:
        for service in services:
            system.start(service)
        system.wait_ready(services, timeout=90)
        yield system
    finally:
        system.stop_all()
