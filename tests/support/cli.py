"""The operator's CLI (``ibok``, tools/ops.py) run as a process against a test's servers."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.infra import Infra


def ibok(infra: Infra, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``ibok ARGS`` with the test's database and vhost (and ``env`` over them); it must succeed."""
    return subprocess.run(
        [sys.executable, "-m", "tools.ops", *args],
        env={
            **os.environ,
            "IBOK_AMQP_URL": infra.amqp_url,
            "IBOK_POSTGRES_DSN": infra.postgres_dsn,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
