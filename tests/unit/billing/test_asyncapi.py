"""The AsyncAPI document of the billing-system interface is generated from the contracts and the
committed copy in docs/ is that document (regenerate: python -m services.billing.asyncapi)."""

from __future__ import annotations

from pathlib import Path

from contracts import billing_system
from services.billing import asyncapi

COMMITTED = Path(__file__).parents[3] / "docs" / "asyncapi.json"


def test_committed_asyncapi_document_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == asyncapi.document_json(), (
        "docs/asyncapi.json is stale: python -m services.billing.asyncapi > docs/asyncapi.json"
    )


def test_every_message_of_the_interface_is_documented_with_its_routing_key_and_exchange() -> None:
    document = asyncapi.document()
    inbound = set(billing_system.BILLING_SERVICE_MESSAGES) | set(
        billing_system.READINGS_SERVICE_MESSAGES
    )
    assert inbound <= set(asyncapi.INBOUND)
    for model in (*asyncapi.INBOUND, *asyncapi.OUTBOUND):
        message = document["components"]["messages"][model.SCHEMA]
        schema = document["components"]["schemas"][model.__name__]
        assert message["payload"]["$ref"].endswith(model.__name__)
        assert schema["properties"]["schema"]["const"] == model.SCHEMA
        assert {"message_id", "occurred_at", "schema"} <= set(schema["required"])
    exchanges = {
        channel["bindings"]["amqp"]["exchange"]["name"]
        for channel in document["channels"].values()
        if channel["bindings"]["amqp"]["is"] == "routingKey"
    }
    assert exchanges == {"billing.in", "ibok.out"}
    assert "ibok.billing.billing-in" in document["channels"]
    assert {op["action"] for op in document["operations"].values()} == {"receive", "send"}
