"""The event versioning rule (docs/contributing.md): a published event's schema only gains
optional fields; anything else is a new version (``.v2``) beside the old one.

``event_schemas.json`` beside this file is the JSON schema of every event as released. A change
that only adds optional fields is compatible: regenerate the file with
``IBOK_UPDATE_EVENT_SCHEMAS=1 pytest tests/unit/contracts`` (it refuses to write an incompatible
one). Anything else fails here: give the changed event a new ``SCHEMA`` (``....v2``) and keep the
old class until every consumer has moved.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
from pathlib import Path
from typing import Any

import contracts
from contracts.base import Envelope

SNAPSHOT = Path(__file__).with_name("event_schemas.json")


def events() -> dict[str, type[Envelope]]:
    """Every event and integration message in contracts/, by its schema name."""
    found: dict[str, type[Envelope]] = {}
    for module_info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"contracts.{module_info.name}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Envelope) and value.SCHEMA:
                found[value.SCHEMA] = value
    return dict(sorted(found.items()))


def current_schemas() -> dict[str, Any]:
    return {
        name: model.model_json_schema(by_alias=True, mode="validation")
        for name, model in events().items()
    }


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else schema


def breaking_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    where: str,
    old_defs: dict[str, Any],
    new_defs: dict[str, Any],
) -> list[str]:
    """Why ``new`` cannot read what was written to ``old`` or be read by ``old``'s readers;
    empty when ``new`` only adds optional properties (at any depth)."""
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    if "properties" not in old or "properties" not in new:
        if _equal_by_resolving(_bare(old), _bare(new), old_defs, new_defs):
            return []
        return [f"{where}: changed from {json.dumps(old)} to {json.dumps(new)}"]
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(old_props.keys() - new_props.keys()):
        problems.append(f"{where}.{name}: removed")
    for name in sorted(new_required - old_required):
        problems.append(f"{where}.{name}: required now (a new field must be optional)")
    for name in sorted(old_required - new_required):
        problems.append(f"{where}.{name}: no longer required (its readers count on it)")
    for name in sorted(old_props.keys() & new_props.keys()):
        problems += breaking_changes(
            old_props[name], new_props[name], f"{where}.{name}", old_defs, new_defs
        )
    return problems


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema without what only people read."""
    return {k: v for k, v in schema.items() if k not in ("title", "description", "examples")}


def _equal_by_resolving(
    old: Any, new: Any, old_defs: dict[str, Any], new_defs: dict[str, Any]
) -> bool:
    """Structural equality with ``$ref``s replaced by what they name (their names may move)."""
    if isinstance(old, dict) and isinstance(new, dict):
        if "$ref" in old or "$ref" in new:
            resolved_old, resolved_new = _resolve(old, old_defs), _resolve(new, new_defs)
            return not breaking_changes(resolved_old, resolved_new, "", old_defs, new_defs)
        return old.keys() == new.keys() and all(
            _equal_by_resolving(old[k], new[k], old_defs, new_defs) for k in old
        )
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(
            _equal_by_resolving(a, b, old_defs, new_defs) for a, b in zip(old, new, strict=True)
        )
    return bool(old == new)


def incompatible(released: dict[str, Any], now: dict[str, Any]) -> list[str]:
    problems = []
    for name, old in released.items():
        if name not in now:
            problems.append(f"{name}: gone (an event lives until every consumer has moved)")
            continue
        new = now[name]
        problems += breaking_changes(old, new, name, old.get("$defs", {}), new.get("$defs", {}))
    return problems


def test_every_event_schema_changes_only_by_adding_optional_fields() -> None:
    released = json.loads(SNAPSHOT.read_text())
    now = current_schemas()
    problems = incompatible(released, now)
    assert problems == [], "incompatible: make a new version (.v2) instead:\n" + "\n".join(problems)
    if now != released and os.environ.get("IBOK_UPDATE_EVENT_SCHEMAS") == "1":
        SNAPSHOT.write_text(json.dumps(now, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        return
    assert now == released, (
        "event schemas changed compatibly (or an event is new): record them with"
        " IBOK_UPDATE_EVENT_SCHEMAS=1 pytest tests/unit/contracts"
    )


def test_adding_an_optional_field_is_compatible_and_anything_else_is_not() -> None:
    old = {
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a"],
    }

    def changed(**props: Any) -> dict[str, Any]:
        return {"properties": {**old["properties"], **props}, "required": ["a"]}

    assert incompatible({"e.v1": old}, {"e.v1": changed(c={"type": "string"})}) == []
    required = changed(c={"type": "string"}) | {"required": ["a", "c"]}
    assert incompatible({"e.v1": old}, {"e.v1": required}) == [
        "e.v1.c: required now (a new field must be optional)"
    ]
    retyped = changed(b={"type": "string"})
    assert len(incompatible({"e.v1": old}, {"e.v1": retyped})) == 1
    removed = {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert incompatible({"e.v1": old}, {"e.v1": removed}) == ["e.v1.b: removed"]
    assert incompatible({"e.v1": old}, {}) == [
        "e.v1: gone (an event lives until every consumer has moved)"
    ]


def test_every_event_is_in_the_catalogue() -> None:
    assert set(json.loads(SNAPSHOT.read_text())) == set(events())
