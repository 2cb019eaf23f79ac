"""A local SMTP sink (aiosmtpd) that keeps every message as a file a person can read."""

from __future__ import annotations

import argparse
import asyncio
import mailbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class KeepingMaildir(Mailbox):
    """Stores each message in a Maildir (``new/`` holds one file per email)."""

    def __init__(self, directory: Path) -> None:
        directory.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(str(directory), create=True)  # makes new/, cur/ and tmp/
        super().__init__(directory)
        self.directory = directory


def start_sink(directory: Path, host: str, port: int) -> Controller:
    controller = Controller(KeepingMaildir(directory), hostname=host, port=port)
    controller.start()
    return controller


def messages_in(directory: Path) -> list[Any]:
    return list(mailbox.Maildir(str(directory), create=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    controller = start_sink(args.dir, args.host, args.port)
    print(f"SMTP sink on {args.host}:{args.port}, mail in {args.dir}/new", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
