"""A test CA, and a PostgreSQL cluster and a RabbitMQ node of a test's own that speak TLS only.

The machine's servers are shared (other runs, a demo) and speak plain TCP, so the TLS tests
start their own from the installed binaries, as the servers' system users (PostgreSQL refuses
to run as root; ``rabbitmqctl -n`` reaches a node through the Erlang cookie in
/var/lib/rabbitmq), on free ports, every file in a temporary directory removed afterwards.
tests/support/own_servers.py (the fault tests') starts such servers the same way, in plain TCP;
the two differ only in the TLS configuration here.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.infra import free_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_HOME = "/var/lib/rabbitmq"


def _as_user(user: str, *command: str, env: dict[str, str] | None = None) -> list[str]:
    settings = [f"{k}={v}" for k, v in (env or {}).items()]
    if os.geteuid() != 0:
        return ["env", *settings, *command]
    return ["runuser", "-u", user, "--", "env", *settings, *command]


def _give(path: Path, user: str, mode: int) -> None:
    os.chmod(path, mode)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(0.1)


# --- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaFiles:
    """A CA and one server certificate it signed for ``localhost`` and ``127.0.0.1``."""

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path

    def key_for(self, user: str) -> Path:
        """A copy of the server key only ``user`` may read (servers insist)."""
        copy = self.directory / f"server-{user}.key"
        shutil.copyfile(self.key_file, copy)
        _give(copy, user, 0o600)
        return copy


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd, timeout=60)


def make_ca(directory: Path, name: str = "IBOK test CA") -> CaFiles:
    """A fresh CA (EC P-256) and a server certificate, made with openssl, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    for public in ("ca.pem", "server.pem"):
        os.chmod(directory / public, 0o644)
    return CaFiles(
        directory, directory / "ca.pem", directory / "server.pem", directory / "server.key"
    )


# --- PostgreSQL -------------------------------------------------------------------------------


def pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql")
    return versions[0].parent


# TCP only with TLS; the superuser without a password (the test is the administrator), every
# other role with its SCRAM password (``ibok provision`` sets them).
PG_HBA = """\
local     all all                  trust
hostssl   all postgres 127.0.0.1/32 trust
hostssl   all all      127.0.0.1/32 scram-sha-256
host      all all      0.0.0.0/0    reject
"""


class TlsPostgres:
    """A cluster made with ``initdb`` that accepts TCP connections over TLS only."""

    def __init__(self, ca: CaFiles) -> None:
        self.bin = pg_bin()
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="ibok-pg-tls-"))
        _give(self.base, "postgres", 0o700)
        self.data = self.base / "data"
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            _as_user(
                "postgres", str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                "-U", "postgres", "-E", "UTF8", "--no-sync",
            ),
            check=True, capture_output=True, timeout=120, cwd=self.base,
        )  # fmt: skip
        (self.data / "pg_hba.conf").write_text(PG_HBA)
        self.options = {
            "listen_addresses": "127.0.0.1",
            "ssl": "on",
            "ssl_cert_file": str(ca.cert_file),
            "ssl_key_file": str(ca.key_for("postgres")),
            "ssl_ca_file": str(ca.ca_file),
            "password_encryption": "scram-sha-256",
            "max_connections": "100",
            "fsync": "off",
        }

    @property
    def base_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        log = open(self.base / "server.log", "ab")
        options = [arg for k, v in self.options.items() for arg in ("-c", f"{k}={v}")]
        self.process = subprocess.Popen(
            _as_user(
                "postgres", str(self.bin / "postgres"), "-D", str(self.data),
                "-p", str(self.port), "-k", str(self.base), *options,
            ),
            stdout=log, stderr=subprocess.STDOUT, cwd=self.base, start_new_session=True,
        )  # fmt: skip
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

        _wait(accepting, timeout, f"PostgreSQL on {self.port}")
        if process.poll() is not None:
            tail = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"postgres exited with {process.returncode}: {tail}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # fast shutdown
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


# --- RabbitMQ ---------------------------------------------------------------------------------


class TlsRabbit:
    """A node ``ibok-tls-<random>@localhost`` with a TLS listener only (no plain AMQP port) and
    the management API on ``management_port`` (plain HTTP, this host only)."""

    def __init__(self, ca: CaFiles) -> None:
        self.node = f"ibok-tls-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.management_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="ibok-rabbit-tls-"))
        _give(self.base, "rabbitmq", 0o755)
        self.process: subprocess.Popen[bytes] | None = None
        conf = self.base / "rabbitmq.conf"
        # The machine's /etc/rabbitmq pins the plain listener to 5672: this file replaces it.
        conf.write_text(
            "listeners.tcp = none\n"
            f"listeners.ssl.default = 127.0.0.1:{self.port}\n"
            f"ssl_options.cacertfile = {ca.ca_file}\n"
            f"ssl_options.certfile = {ca.cert_file}\n"
            f"ssl_options.keyfile = {ca.key_for('rabbitmq')}\n"
            "ssl_options.verify = verify_none\n"
            "ssl_options.fail_if_no_peer_cert = false\n"
            "disk_free_limit.absolute = 50MB\n"
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n"
        )
        (self.base / "rabbitmq-env.conf").write_text("")
        (self.base / "enabled_plugins").write_text("[rabbitmq_management].\n")
        self.env = {
            "HOME": RABBITMQ_HOME,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbit.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    @property
    def base_url(self) -> str:
        return f"amqps://guest:guest@127.0.0.1:{self.port}"

    def ctl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            _as_user(
                "rabbitmq", str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.node, *args,
                env={"HOME": RABBITMQ_HOME},
            ),
            check=True, capture_output=True, text=True, timeout=timeout, cwd=RABBITMQ_HOME,
        )  # fmt: skip
        return done.stdout

    @property
    def management_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_port}"

    def start(self, timeout: float = 90) -> None:
        log = open(self.base / "server.out", "ab")
        self.process = subprocess.Popen(
            _as_user("rabbitmq", str(RABBITMQ_BIN / "rabbitmq-server"), env=self.env),
            stdout=log, stderr=subprocess.STDOUT, cwd=RABBITMQ_HOME, start_new_session=True,
        )  # fmt: skip
        log.close()
        process = self.process
        _wait(
            lambda: process.poll() is not None or _answers(self.port),
            timeout,
            f"RabbitMQ {self.node} on {self.port}",
        )
        if process.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited with {process.returncode}: {self.base}")
        self.ctl("await_startup", "--timeout", str(int(timeout)), timeout=timeout + 10)
        _wait(lambda: _answers(self.management_port), timeout, "RabbitMQ's management API")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.ctl("stop", timeout=60)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def tls_postgres(ca: CaFiles) -> Iterator[TlsPostgres]:
    cluster = TlsPostgres(ca)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@contextmanager
def tls_rabbit(ca: CaFiles) -> Iterator[TlsRabbit]:
    node = TlsRabbit(ca)
    try:
        node.start()
        yield node
    finally:
        node.remove()
