"""TLS to PostgreSQL, RabbitMQ and the mail server, from the CA-file settings (docs/security.md).

PostgreSQL and RabbitMQ take TLS through their connection strings, which every connection of
IBOK (pools, migrations, provisioning, the RPC client and server, the batch consumers, the
gateway's events) is made from: a CA file adds ``sslmode=verify-full&sslrootcert=...`` to a
PostgreSQL DSN and ``cafile=...`` to an ``amqps://`` URL, so the server's certificate must be
signed by that CA and name the host connected to. Mail takes an ``ssl.SSLContext``.
"""

from __future__ import annotations

import ssl
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SmtpTls = Literal["starttls", "implicit", "off"]


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in params.items():
        query.setdefault(name, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def postgres_dsn(dsn: str, ca_file: str) -> str:
    """``dsn`` verifying the server against ``ca_file`` (verify-full) unless it says otherwise."""
    if not dsn or not ca_file:
        return dsn
    return _with_query(dsn, sslmode="verify-full", sslrootcert=ca_file)


def amqp_url(url: str, ca_file: str) -> str:
    """An ``amqps://`` ``url`` verifying the broker against ``ca_file`` (plain ``amqp://`` as is)."""
    if not url or not ca_file or urlsplit(url).scheme != "amqps":
        return url
    return _with_query(url, cafile=ca_file)


def smtp_context(ca_file: str) -> ssl.SSLContext:
    """Verifies the mail server's certificate and name: against ``ca_file``, else the system's."""
    return ssl.create_default_context(cafile=ca_file or None)


def smtp_mode(value: object) -> SmtpTls:
    """``IBOK_SMTP_TLS``: ``starttls``, ``implicit`` or ``off`` (``true``/``false`` as before:
    STARTTLS or none)."""
    text = str(value).strip().lower()
    mode = {"true": "starttls", "1": "starttls", "false": "off", "0": "off", "": "off"}.get(
        text, text
    )
    if mode not in ("starttls", "implicit", "off"):
        raise ValueError("IBOK_SMTP_TLS must be starttls, implicit or off")
    return mode  # type: ignore[return-value]
