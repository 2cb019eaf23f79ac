"""The services keep one shape: only the runtime opens transactions, records the inbox and wakes
the relay (STYLE 13); pages' cursors are refused in one place; modules stay small (STYLE 8)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
BACKENDS = ("auth", "readings", "billing", "notify")

# What a unit of work does for a handler; written anywhere in services/ it is done by hand.
RUNTIME_ONLY = {
    "transaction": "a transaction (use runtime.unit_of_work)",
    "first_delivery": "an inbox check (ServiceRuntime.consume records the inbox)",
    "first_deliveries": "an inbox check (ServiceRuntime.consume_batches records the inbox)",
    "published_soon": "a relay wake-up (the unit of work wakes the relay after commit)",
    "enqueue": "an outbox write (uow.emit)",
}
# The one-statement outbox write (state change and events in one round trip) is SQL: store only.
STORE_ONLY = {"enqueue_sql", "enqueue_args"}
MAX_LINES = 400


def python_files() -> Iterator[Path]:
    yield from sorted(SERVICES.rglob("*.py"))


def names_used(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node.attr, node.lineno
        elif isinstance(node, ast.Name):
            yield node.id, node.lineno
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield alias.name, node.lineno


def is_store(path: Path) -> bool:
    return path.name == "store.py" or path.name.endswith("_store.py")


def test_only_the_runtime_opens_transactions_checks_the_inbox_and_wakes_the_relay() -> None:
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(), str(path))
        for name, line in names_used(tree):
            where = f"{path.relative_to(ROOT)}:{line}"
            if name in RUNTIME_ONLY:
                found.append(f"{where}: {RUNTIME_ONLY[name]}")
            elif name in STORE_ONLY and not is_store(path):
                found.append(f"{where}: {name} outside a store module")
    assert found == []


def test_the_guard_sees_a_transaction_opened_by_hand() -> None:
    source = (
        "async def f(pool):\n    async with pool.acquire() as c, c.transaction():\n        pass\n"
    )
    assert ("transaction", 2) in set(names_used(ast.parse(source)))


def test_an_invalid_cursor_is_refused_in_one_place() -> None:
    places = [
        str(path.relative_to(ROOT))
        for path in [*python_files(), *sorted((ROOT / "runtime").rglob("*.py"))]
        if '"invalid_cursor"' in path.read_text()
    ]
    assert places == ["runtime/paging.py"]


@pytest.mark.parametrize("service", BACKENDS)
def test_modules_stay_small(service: str) -> None:
    long = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in sorted((SERVICES / service).rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert long == []


@pytest.mark.parametrize("service", BACKENDS)
def test_sql_is_written_only_in_store_modules(service: str) -> None:
    statement = ("SELECT ", "INSERT INTO ", "UPDATE ", "DELETE FROM ")
    found = []
    for path in sorted((SERVICES / service).rglob("*.py")):
        if is_store(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value.lstrip().upper().startswith(statement):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
