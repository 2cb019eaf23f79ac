"""A real SMTP server (aiosmtpd) for the tests, keeping what it receives in memory."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Collecting:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


class MailSink:
    def __init__(self, port: int) -> None:
        self.handler = Collecting()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port)
        self.port = port

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(
        self, recipient: str, timeout: float = 15, subject_contains: str = ""
    ) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.handler.messages:
                if message["To"] == recipient and subject_contains in str(message["Subject"]):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no email to {recipient} within {timeout} s")


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_token(message: EmailMessage) -> str:
    found = re.search(r"token=([\w-]+)", text_part(message))
    assert found, "no token link in the email"
    return found.group(1)
