"""The broker permissions ``ibok provision`` derives from contracts/topology.py, and its names."""

from __future__ import annotations

import re

import pytest

from contracts import topology
from tools import provision


def allowed(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None


@pytest.mark.parametrize("service", topology.SERVICES)
def test_a_service_configures_and_reads_its_own_queues_only(service: str) -> None:
    permissions = provision.broker_permissions(service)
    own = [
        topology.rpc_queue(service, "anything"),
        topology.events_queue(service),
        topology.billing_in_queue(service),
    ]
    for queue in own:
        assert allowed(permissions.configure, queue)
        assert allowed(permissions.read, queue)
    for other in topology.SERVICES:
        if other != service:
            assert not allowed(permissions.configure, topology.events_queue(other))
            assert not allowed(permissions.read, topology.rpc_queue(other, "anything"))
    for shared in (
        topology.EVENTS_EXCHANGE,
        topology.BILLING_IN_EXCHANGE,
        topology.DEAD_LETTER_EXCHANGE,
        topology.DEAD_LETTER_QUEUE,
        topology.BILLING_SYSTEM_QUEUE,
    ):
        assert not allowed(permissions.configure, shared)
    # Nobody in IBOK speaks for the billing system, nor reads its queue or the dead letters.
    assert not allowed(permissions.write, topology.BILLING_IN_EXCHANGE)
    assert not allowed(permissions.read, topology.BILLING_SYSTEM_QUEUE)
    assert not allowed(permissions.read, topology.DEAD_LETTER_QUEUE)
    # A prefix is not enough: ibok.auth.events must not open ibok.auth.eventsX elsewhere.
    assert not allowed(permissions.write, topology.EVENTS_EXCHANGE + "x")


def test_notify_publishes_no_events_and_readings_reads_billing_in() -> None:
    assert not allowed(provision.broker_permissions("notify").write, topology.EVENTS_EXCHANGE)
    assert allowed(provision.broker_permissions("readings").read, topology.BILLING_IN_EXCHANGE)
    assert not allowed(provision.broker_permissions("auth").read, topology.BILLING_IN_EXCHANGE)


def test_the_billing_system_publishes_to_billing_in_and_reads_its_queue_only() -> None:
    permissions = provision.broker_permissions("billing-system")
    assert permissions.configure == "^$"
    assert allowed(permissions.write, topology.BILLING_IN_EXCHANGE)
    assert not allowed(permissions.write, topology.EVENTS_EXCHANGE)
    assert allowed(permissions.read, topology.BILLING_SYSTEM_QUEUE)
    assert not allowed(permissions.read, topology.billing_in_queue("billing"))


def test_names_carry_the_database_and_the_vhost() -> None:
    assert provision.role_name("ibok", "auth") == "ibok_auth"
    assert provision.broker_user("/", "notify") == "ibok-notify"
    assert provision.broker_user("ibok-test_1", "notify") == "ibok-test_1-notify"
    with pytest.raises(ValueError):
        provision.role_name("ibok; DROP", "auth")


def test_derived_passwords_are_stable_per_secret_and_user() -> None:
    one = provision.derived_password(b"s", "postgres", "ibok_auth")
    assert one == provision.derived_password(b"s", "postgres", "ibok_auth")
    assert one != provision.derived_password(b"t", "postgres", "ibok_auth")
    assert one != provision.derived_password(b"s", "postgres", "ibok_notify")


def test_a_scram_verifier_has_postgres_form() -> None:
    verifier = provision.scram_verifier("secret")
    assert re.fullmatch(
        r"SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+", verifier
    )
