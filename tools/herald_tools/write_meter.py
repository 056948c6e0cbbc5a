"""Count the DynamoDB writes a boto3 client makes, in items and in write request units (WRUs), as AWS bills them.

Hooked on the client's botocore events (`before-parameter-build` and `after-call` of every write operation), so the
code measured runs unchanged: the real adapters and handlers, over moto. Used by benchmarks/own_cost.py and by the
test that pins the writes of one `order.placed` (tests/handlers/test_write_budget.py).

AWS's rules (docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html, "Item sizes"):
- one WRU writes up to 1 KB of item; a bigger item costs one per started KB;
- a PutItem or UpdateItem is sized by the larger of the item before and after the write; a DeleteItem by the
  item deleted; a write whose condition fails still costs (sized by the existing item, at least 1 WRU);
- a transactional write costs two WRUs per KB of each item.
Item size is the sum of its attribute names and values (`item_size`). The sizes before and after a write are read
back with a second client of the same endpoint, which this meter does not count.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from herald.domain.keys import split_key

WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
KB = 1024


def value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB counts for one attribute value (its name is counted by item_size)."""
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return _number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in content)
    if kind == "NS":
        return sum(_number_size(n) for n in content)
    if kind == "BS":
        return sum(len(b) for b in content)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in content)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in content.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _number_size(text: str) -> int:
    """About one byte per two significant digits, plus one."""
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def wrus(size: int, *, transactional: bool = False) -> int:
    return max(1, math.ceil(size / KB)) * (2 if transactional else 1)


def item_kind(key: dict[str, Any]) -> str:
    """A key's first parts: `ORDER/EVENT`, `ORDER/NOTIF`, `LINK/link`, `PAGE/PAGE`, `SHIPMENT/STATE`..."""
    pk = split_key(str(key["pk"]["S"]))[0]
    sk = split_key(str(key["sk"]["S"]))[0] if "sk" in key else ""
    return f"{pk}/{sk}"


@dataclass
class Write:
    operation: str
    kind: str
    wrus: int
    size: int
    held: bool  # False: a condition failed (nothing written, still billed)


@dataclass
class WriteMeter:
    """Every write of one client, from `attach` on; `writes`, `wru`, `by_kind` and `sizes` read the totals."""

    log: list[Write] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reader: Any = None

    @classmethod
    def attach(cls, client: Any) -> WriteMeter:
        import boto3

        meter = cls()
        meter._reader = boto3.client(
            "dynamodb", region_name=client.meta.region_name, endpoint_url=client.meta.endpoint_url
        )
        for operation in WRITE_OPERATIONS:
            client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", meter._before)
            client.meta.events.register(f"after-call.dynamodb.{operation}", meter._after)
        return meter

    def reset(self) -> None:
        with self._lock:
            self.log.clear()

    @property
    def writes(self) -> int:
        """Items written (a batch or a transaction counts each of its items)."""
        return len(self.log)

    @property
    def wru(self) -> int:
        return sum(w.wrus for w in self.log)

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(w.kind for w in self.log).items()))

    def largest(self) -> dict[str, int]:
        """The largest item size written, per kind (bytes): what is near a WRU's 1 KB."""
        sizes: dict[str, int] = {}
        for write in self.log:
            sizes[write.kind] = max(sizes.get(write.kind, 0), write.size)
        return dict(sorted(sizes.items()))

    # --- botocore hooks ---------------------------------------------------------------------------

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        # `context` is this call's own dict, handed to every hook of the call: the sizes before travel in it.
        context["herald_write_meter"] = [
            (table, key, self._size_now(table, key), put) for table, key, put in _targets(model.name, params)
        ]

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        targets = context.pop("herald_write_meter", None)
        if targets is None:
            return
        failed = "Error" in parsed
        condition_failed = failed and "ConditionalCheckFailed" in str(parsed["Error"].get("Code", "")) + str(
            parsed.get("CancellationReasons", "")
        )
        if failed and not condition_failed:
            return  # refused before writing anything (validation, throttling): not billed as a write
        transactional = model.name == "TransactWriteItems"
        writes = []
        for table, key, before, put in targets:
            after = before if failed else self._size_now(table, key)
            size = max(before, after, 0 if failed or put is None else item_size(put))
            writes.append(Write(model.name, item_kind(key), wrus(size, transactional=transactional), size, not failed))
        with self._lock:
            self.log.extend(writes)

    def _size_now(self, table: str, key: dict[str, Any]) -> int:
        item = self._reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item_size(item) if item else 0


def _targets(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(table, key, item put or None) for each item the write names."""
    if operation == "PutItem":
        item = params["Item"]
        return [(params["TableName"], _key_of(item), item)]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(params["TableName"], params["Key"], None)]
    if operation == "BatchWriteItem":
        found = []
        for table, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    found.append((table, _key_of(item), item))
                else:
                    found.append((table, request["DeleteRequest"]["Key"], None))
        return found
    targets = []
    for entry in params["TransactItems"]:
        (action, body), *_ = entry.items()
        if action == "Put":
            targets.append((body["TableName"], _key_of(body["Item"]), body["Item"]))
        elif action != "ConditionCheck":  # a condition check reads; it is billed as a read
            targets.append((body["TableName"], body["Key"], None))
    return targets


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in ("pk", "sk") if name in item}
