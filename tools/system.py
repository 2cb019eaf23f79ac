"""Start, watch and stop IBOK's five service processes (used by ``make run`` and the tests)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

SERVICE_ORDER = ("billing", "readings", "notify", "auth", "gateway")
DEFAULT_PORTS = {"gateway": 8000, "auth": 8001, "readings": 8002, "billing": 8003, "notify": 8004}
DEFAULT_METRICS_PORT = 8005  # the gateway's /metrics (IBOK_GATEWAY_METRICS_PORT)


def _end_with_parent() -> None:
    """Runs in the child before exec: on Linux, SIGTERM the service when its parent dies, so a
    killed runner or test session never leaves services holding ports."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class System:
    """The five processes, each ``python -m services.<name>``, with their environment.

    ``service_env`` adds settings one process alone gets (its own database role and broker
    user: ``ibok provision``), so no process holds another's credentials.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.env = {**os.environ, **env}
        self.service_env = {name: dict(values) for name, values in (service_env or {}).items()}
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    def port(self, service: str) -> int:
        return int(self.env.get(f"IBOK_{service.upper()}_PORT", DEFAULT_PORTS[service]))

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    def metrics_url(self, service: str) -> str:
        """Where ``service`` answers ``/metrics``: the gateway on a port of its own."""
        if service == "gateway":
            port = int(self.env.get("IBOK_GATEWAY_METRICS_PORT", DEFAULT_METRICS_PORT))
            return f"http://127.0.0.1:{port}/metrics"
        return f"{self.url(service)}/metrics"

    def start(self, service: str) -> None:
        out: IO[bytes] | int | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._logs[service] = out = open(self.log_dir / f"{service}.log", "ab")
        self.processes[service] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"services.{service}"],
            env={**self.env, **self.service_env.get(service, {})},
            preexec_fn=_end_with_parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def start_all(self) -> None:
        for service in SERVICE_ORDER:
            self.start(service)

    def ready(self, service: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url(service)}/health/ready", timeout=2) as r:  # noqa: S310
                return r.status == 200
        except OSError:
            return False

    def wait_ready(self, services: tuple[str, ...] = SERVICE_ORDER, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        pending = list(services)
        while pending:
            for service in list(pending):
                process = self.processes.get(service)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(
                        f"{service} exited with {process.returncode}{self._log_hint(service)}"
                    )
                if self.ready(service):
                    pending.remove(service)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
            if pending:
                time.sleep(0.2)

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[service]
        process.send_signal(sig)
        process.wait(timeout=15)

    def stop_all(self, timeout: float = 15) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    def _log_hint(self, service: str) -> str:
        if self.log_dir is None:
            return ""
        return f" (see {self.log_dir / (service + '.log')})"
