"""The AsyncAPI 3.0 document of the billing-system interface, generated from ``contracts``.

The pydantic models in ``contracts.billing_system`` are the interface; this builds the document
from them (exchanges, routing keys, queues, payload schemas) so it cannot drift from the code.
The billing service serves it at ``/asyncapi.json``; ``docs/asyncapi.json`` is a committed copy
(regenerate with ``python -m services.billing.asyncapi > docs/asyncapi.json``; a test keeps the
two equal).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from contracts import billing_system, topology
from contracts.base import CORRELATION_HEADER, Envelope

INBOUND: tuple[type[Envelope], ...] = (
    billing_system.CustomerUpserted,
    billing_system.ContractUpserted,
    billing_system.MeterUpserted,
    billing_system.InvoiceIssued,
    billing_system.InvoiceCorrected,
    billing_system.InvoiceCancelled,
    billing_system.PaymentRecorded,
    billing_system.ControlReadingRecorded,
    billing_system.SyncCompleted,
)
OUTBOUND: tuple[type[Envelope], ...] = (
    billing_system.ReadingSubmitted,
    billing_system.ContactDataChanged,
    billing_system.ComplaintFiled,
    billing_system.ComplaintSettled,
)
CONSUMERS = {
    "billing": billing_system.BILLING_SERVICE_MESSAGES,
    "readings": billing_system.READINGS_SERVICE_MESSAGES,
}
AMQP = "0.3.0"  # the AsyncAPI AMQP bindings version

DESCRIPTION = """\
How the utility's billing system (ERP) and IBOK exchange data over RabbitMQ.

The billing system publishes to the durable topic exchange `billing.in` with the message's
`schema` as routing key; each IBOK service that owns some of the data consumes through its own
durable quorum queue bound to the keys it needs. IBOK publishes to the durable topic exchange
`ibok.out`; the billing system reads the durable quorum queue `billing-system.from-ibok`.

Every message is a JSON object with `message_id` (UUID), `occurred_at` (ISO 8601 with offset)
and `schema` (`<name>.v<version>`, equal to the routing key); publish it persistent, with
`content_type` `application/json` and the AMQP `message_id` property equal to `message_id`.
Processing is idempotent: a `message_id` seen before changes nothing, natural keys (customer,
contract and invoice numbers, meter serials, payment ids) are upserted, and a record with a
lower `revision` than the one held never overwrites it. A message that is not valid JSON, has
an unknown schema or fails validation is moved to the queue `ibok.dead-letters` with the
header `x-ibok-dead-reason`; one that keeps failing is dead-lettered at its 5th failure.
Money is integer grosze; volumes are m3 with three decimals. See docs/billing-interface.md.
"""


def _schemas() -> dict[str, Any]:
    validation: JsonSchemaMode = "validation"
    serialization: JsonSchemaMode = "serialization"
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, validation) for m in INBOUND]
    models += [(m, serialization) for m in OUTBOUND]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top["$defs"]
    for model in (*INBOUND, *OUTBOUND):
        schema = schemas[model.__name__]
        schema["properties"]["schema"] = {"const": model.SCHEMA, "type": "string"}
        # The models default these for IBOK's own use; a publisher must always send them.
        required = schema.setdefault("required", [])
        required[:0] = [f for f in ("message_id", "occurred_at", "schema") if f not in required]
    return dict(sorted(schemas.items()))


def _message(model: type[Envelope]) -> dict[str, Any]:
    doc = (model.__doc__ or model.__name__).strip()
    return {
        "name": model.SCHEMA,
        "title": model.__name__,
        "summary": doc.splitlines()[0],
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                CORRELATION_HEADER: {
                    "type": "string",
                    "maxLength": 64,
                    "description": "optional: follows one request through every hop (logs)",
                }
            },
        },
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "bindings": {"amqp": {"messageType": model.SCHEMA, "bindingVersion": AMQP}},
    }


def _exchange_channel(exchange: str, model: type[Envelope]) -> dict[str, Any]:
    return {
        "address": model.SCHEMA,
        "title": f"{exchange} / {model.SCHEMA}",
        "messages": {model.__name__: {"$ref": f"#/components/messages/{model.SCHEMA}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                },
                "bindingVersion": AMQP,
            }
        },
    }


def _queue_channel(
    queue: str, models: tuple[type[Envelope], ...], description: str
) -> dict[str, Any]:
    return {
        "address": queue,
        "title": queue,
        "description": description,
        "messages": {m.__name__: {"$ref": f"#/components/messages/{m.SCHEMA}"} for m in models},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {"name": queue, "durable": True, "exclusive": False, "autoDelete": False},
                "bindingVersion": AMQP,
            }
        },
    }


def document() -> dict[str, Any]:
    """The whole AsyncAPI document, from IBOK's point of view (it receives and sends)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for model in INBOUND:
        key = f"billing-in.{model.SCHEMA}"
        consumers = [name for name, models in CONSUMERS.items() if model in models]
        channels[key] = _exchange_channel(topology.BILLING_IN_EXCHANGE, model)
        operations[f"receive.{model.SCHEMA}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"consumed by IBOK's {' and '.join(consumers)} service"
            + ("s" if len(consumers) > 1 else ""),
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP}},
        }
    for model in OUTBOUND:
        key = f"ibok-out.{model.SCHEMA}"
        channels[key] = _exchange_channel(topology.IBOK_OUT_EXCHANGE, model)
        operations[f"send.{model.SCHEMA}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": "published by IBOK through its transactional outbox (at least once)",
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": False, "bindingVersion": AMQP}},
        }
    for service, models in CONSUMERS.items():
        queue = topology.billing_in_queue(service)
        channels[queue] = _queue_channel(
            queue, models, f"IBOK's {service} service's queue, bound to `billing.in`"
        )
    channels[topology.BILLING_SYSTEM_QUEUE] = _queue_channel(
        topology.BILLING_SYSTEM_QUEUE,
        OUTBOUND,
        "the billing system's queue, bound to `ibok.out` with `#`",
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "IBOK ⇄ billing system",
            "version": "1.0.0",
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "rabbitmq:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "the broker of IBOK_AMQP_URL",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {m.SCHEMA: _message(m) for m in (*INBOUND, *OUTBOUND)},
            "schemas": _schemas(),
        },
    }


def document_json() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(document_json(), end="")
