"""DynamoDB in local mode answers one call at a time, as atomically as DynamoDB does.

moto checks a ConditionExpression and then writes, with no lock between the two: two threads of the local
gateway can both pass `attribute_not_exists(...)` or `openCount < :limit` and both write, which DynamoDB never
allows. Every conditional write of the service (Idempotency-Key claims, the open-request counter, the request
state machine) relies on that atomicity, so local mode serializes moto's DynamoDB calls. The other services are
left concurrent; DynamoDB's share of a local run's time is small.

moto also backs up every table a TransactWriteItems touches, by deep copy, to roll back a cancelled one: a write
costs time in proportion to the table, and the builders' per-batch records (RequestStore.record_batch) made a
10,000-batch request quadratic (200 ms a write at 3,000 records). Serialized, a transaction can instead back up
only the items it names, and put them back when it is cancelled: the same all-or-nothing, at constant cost.
"""

from __future__ import annotations

import copy
import functools
import threading
import types
from typing import Any

# Held by each DynamoDB call of this process's moto (and by local mode's journal while it records the call's writes).
DYNAMODB_LOCK = threading.RLock()


def serialize_dynamodb() -> None:
    """Make each moto DynamoDB call (in this process: moto's server or mock_aws) run alone. Idempotent."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "serialized", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with DYNAMODB_LOCK:
            return original(self)

    call_action.serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _back_up_only_the_items_a_transaction_names()


def _back_up_only_the_items_a_transaction_names() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items
    # In the transaction only: a table's "backup" is the table itself (the items are backed up below).
    tables_not_copied = types.SimpleNamespace(
        deepcopy=lambda value, memo=None: value if isinstance(value, Table) else copy.deepcopy(value, memo)
    )

    def slots(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[dict[Any, Any], Any]]:
        """(container, key) of each item the transaction names: a table's items, or one hash key's range items."""
        found = []
        for entry in transact_items:
            operation = next(iter(entry.values()))
            table = backend.tables.get(operation.get("TableName"))
            attributes = operation.get("Key") or operation.get("Item") or {}
            if table is None or table.hash_key_attr not in attributes:
                continue
            hash_value = DynamoType(attributes[table.hash_key_attr])
            if table.range_key_attr is None:
                found.append((table.items, hash_value))
            elif table.range_key_attr in attributes:
                found.append((table.items[hash_value], DynamoType(attributes[table.range_key_attr])))
        return found

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with DYNAMODB_LOCK:
            saved = [(items, key, copy.deepcopy(items.get(key))) for items, key in slots(self, transact_items)]
            vars(models)["copy"] = tables_not_copied
            try:
                original(self, transact_items)
            except Exception:
                for items, key, item in saved:
                    if item is None:
                        items.pop(key, None)
                    else:
                        items[key] = item
                raise
            finally:
                vars(models)["copy"] = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def snapshot_tables(names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item of the named tables of this process's moto, as DynamoDB JSON (what a Scan answers), read from
    moto's models under the lock that serializes its calls: one consistent instant, in milliseconds where a Scan
    through the API takes seconds for a few thousand items (local mode's save has a stop's deadline to meet)."""
    from moto.dynamodb.models import dynamodb_backends

    found: dict[str, list[dict[str, Any]]] = {}
    with DYNAMODB_LOCK:
        for regions in dynamodb_backends.values():
            for backend in regions.values():
                for name in names:
                    table = backend.tables.get(name)
                    if table is not None and name not in found:
                        found[name] = [copy.deepcopy(item.to_json()["Attributes"]) for item in table.all_items()]
    missing = [name for name in names if name not in found]
    if missing:
        raise LookupError(f"tables not in this process's moto: {', '.join(missing)}")
    return found


def restore_items(name: str, items: list[dict[str, Any]]) -> None:
    """Put saved items (DynamoDB JSON) into a table of this process's moto, straight into its model under the same
    lock: through BatchWriteItem a few thousand requests took seconds of local mode's start."""
    from moto.dynamodb.models import dynamodb_backends

    with DYNAMODB_LOCK:
        for regions in dynamodb_backends.values():
            for backend in regions.values():
                table = backend.tables.get(name)
                if table is not None:
                    for item in items:
                        table.put_item(copy.deepcopy(item))
                    return
    raise LookupError(f"table not in this process's moto: {name}")
