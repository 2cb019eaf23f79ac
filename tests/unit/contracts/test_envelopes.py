"""Contracts: the schema name travels with the message and foreign or unknown data is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.billing_system import SyncCompleted
from contracts.identity import (
    identity_digest_matches,
    make_identity_digest,
    normalise_identity_number,
)
from contracts.topology import event_key, rpc_queue


def test_envelope_carries_its_schema_id_and_time_on_the_wire() -> None:
    wire = json.loads(SyncCompleted(as_of=datetime(2026, 1, 1, tzinfo=UTC)).to_wire())
    assert wire["schema"] == "sync.completed.v1"
    assert {"message_id", "occurred_at", "as_of"} <= wire.keys()
    assert SyncCompleted.model_validate(wire).as_of == datetime(2026, 1, 1, tzinfo=UTC)


def test_message_of_another_schema_or_with_unknown_fields_is_refused() -> None:
    with pytest.raises(ValidationError):
        SyncCompleted.model_validate(
            {"schema": "sync.completed.v2", "as_of": "2026-01-01T00:00:00Z"}
        )
    with pytest.raises(ValidationError):
        SyncCompleted.model_validate(
            {"schema": "sync.completed.v1", "as_of": "2026-01-01T00:00:00Z", "x": 1}
        )
    with pytest.raises(ValidationError):
        SyncCompleted.model_validate(
            {"schema": "sync.completed.v1", "as_of": "2026-01-01T00:00:00"}
        )


def test_names_follow_one_scheme() -> None:
    assert rpc_queue("auth", "log-in") == "ibok.auth.rpc.log-in.v1"
    assert event_key("auth", "account-activated", 2) == "auth.account-activated.v2"


def test_identity_digest_round_trip_and_tamper() -> None:
    digest = make_identity_digest("1234563218", iterations=1_000)
    assert identity_digest_matches(digest, "1234563218")
    assert not identity_digest_matches(digest.replace("pbkdf2_sha256", "md5"), "1234563218")
    assert not identity_digest_matches("garbage", "1234563218")
    assert normalise_identity_number("nip", "123-456-32-18") == "1234563218"
    assert normalise_identity_number("pesel", "123") is None
