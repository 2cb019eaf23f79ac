"""Auth's housekeeping deletes what can no longer be used, and keeps what still can; the outbox
relay deletes sent events a day after publishing (every service, here auth's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from runtime.outbox import prune_published
from services.auth import store
from tests.support.infra import Infra
from tools.system import System


async def test_housekeeping_deletes_expired_challenges_old_failures_and_sent_outbox_rows(
    system: System, infra: Infra
) -> None:
    conn = await asyncpg.connect(infra.postgres_dsn, server_settings={"search_path": "auth"})
    try:
        old_challenge, live_challenge = uuid.uuid4(), uuid.uuid4()
        now = datetime.now(UTC)
        await conn.executemany(
            "INSERT INTO captcha_challenges (id, answer_digest, expires_at) VALUES ($1, $2, $3)",
            [
                (old_challenge, b"x", now - timedelta(hours=2)),
                (live_challenge, b"x", now + timedelta(minutes=5)),
            ],
        )
        await conn.execute(
            "INSERT INTO login_failures (scope, login_key, client_address, kind, at)"
            " VALUES ('customer', 'housekeeping.old', '192.0.2.99', 'password', $1),"
            "        ('customer', 'housekeeping.new', '192.0.2.99', 'password', $2)",
            now - timedelta(days=2),
            now,
        )
        sent, recent = uuid.uuid4(), uuid.uuid4()
        await conn.executemany(
            "INSERT INTO outbox (message_id, exchange, routing_key, body, published_at)"
            " VALUES ($1, 'ibok.events', 'test.v1', '\\x7b7d', $2)",
            [(sent, now - timedelta(days=2)), (recent, now - timedelta(hours=1))],
        )

        counts = await store.purge_expired(
            conn,
            failures_before=now - timedelta(days=1),
            sessions_idle_before=now - timedelta(minutes=15),
            sessions_created_before=now - timedelta(hours=12),
        )
        assert counts["captcha_challenges"] >= 1 and counts["login_failures"] >= 1
        assert await prune_published(conn, timedelta(hours=24)) >= 1
        remaining = {
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM captcha_challenges WHERE id = ANY($1::uuid[])",
                [old_challenge, live_challenge],
            )
        }
        assert remaining == {live_challenge}
        keys = {
            r["login_key"]
            for r in await conn.fetch(
                "SELECT login_key FROM login_failures WHERE client_address = '192.0.2.99'"
            )
        }
        assert keys == {"housekeeping.new"}
        kept = await conn.fetch(
            "SELECT message_id FROM outbox WHERE message_id = ANY($1::uuid[])",
            [sent, recent],
        )
        assert {r["message_id"] for r in kept} == {recent}
    finally:
        await conn.close()
