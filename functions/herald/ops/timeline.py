"""An order's timeline: every event and notification recorded for it, in time order.

One Query on pk=ORDER#<source>#<order id> (DynamoDbLedger.order_items) returns them all. Each item becomes
a plain JSON object with every attribute the pipeline recorded (states, provider ids, error codes, attempts,
skip reasons, delivery states and the provider history), so fields added later (fallback, failover) appear
without changes here. Only bookkeeping attributes are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# Keys, TTL, the sender's lease and the webhooks' dedup set and rank: how the table works, not what happened.
_INTERNAL = frozenset({"pk", "sk", "expires_at", "lease_until", "delivery_events", "delivery_rank"})
_KIND_ORDER = {"event": 0, "notification": 1}


def plain(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A DynamoDB item as JSON-ready Python: numbers as int or float, sets as sorted lists."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer: Any = TypeDeserializer()  # items come from the low-level client: plain dicts, not its TypedDicts
    return {name: _jsonable(deserializer.deserialize(value)) for name, value in item.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def entry(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One timeline entry: the item's attributes, its `at` (when Herald recorded it) and a stable `key`."""
    data = plain(item)
    result = {name: value for name, value in data.items() if name not in _INTERNAL}
    result["key"] = data.get("sk", "")
    result.setdefault("kind", "unknown")
    result["at"] = data.get("received_at") or data.get("created_at") or data.get("updated_at") or ""
    return result


def build_timeline(source: str, order_id: str, items: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The timeline document (the CLI's --json and the HTTP route return exactly this)."""
    entries = sorted(
        (entry(item) for item in items),
        # ISO-8601 UTC strings sort in time order; an event comes before the notifications it planned.
        key=lambda e: (e["at"], _KIND_ORDER.get(e["kind"], 2), e["key"]),
    )
    order_number = next((e["order_number"] for e in entries if e.get("order_number")), None)
    return {
        "source": source,
        "order_id": order_id,
        "order_number": order_number,
        "events": sum(1 for e in entries if e["kind"] == "event"),
        "notifications": sum(1 for e in entries if e["kind"] == "notification"),
        "entries": entries,
    }


def order_timeline(ledger: Any, source: str, order_id: str) -> dict[str, Any]:
    """Read with one Query (paged) through the ledger and build the timeline."""
    return build_timeline(source, order_id, ledger.order_items(source, order_id))


def order_sources(dynamodb: Any, table_name: str, order_id: str) -> list[str]:
    """The storefronts that have an order with this id.

    The table is keyed by source and order id, so without the source this is a Scan of the whole table
    (paid per item read, however few match): fine for the local runtime, costly on a large deployed table,
    where the CLI asks for --source instead.
    """
    sources: set[str] = set()
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "FilterExpression": "kind = :event AND order_id = :order",
        "ProjectionExpression": "#source",
        "ExpressionAttributeNames": {"#source": "source"},
        "ExpressionAttributeValues": {":event": {"S": "event"}, ":order": {"S": order_id}},
    }
    while True:
        page = dynamodb.scan(**kwargs)
        sources.update(item["source"]["S"] for item in page.get("Items", []) if "source" in item)
        if "LastEvaluatedKey" not in page:
            return sorted(sources)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the table an operator reads ------------------------------------------------------------------------


def describe(e: dict[str, Any]) -> tuple[str, str, str]:
    """(what, status, details) of one entry, for the terminal."""
    if e["kind"] == "event":
        what = f"event {e.get('event_type', '?')}"
        status = str(e.get("status", "?"))
        details = [f"id {e.get('event_id', '?')}"]
        if e.get("event_time"):
            details.append(f"happened {e['event_time']}")
        if e.get("reason"):
            details.append(f"reason: {e['reason']}")
        return what, status, "; ".join(details)
    if e["kind"] == "notification":
        what = f"{e.get('channel', '?')} for {e.get('event_type', '?')}"
        status = str(e.get("status", "?"))
        if e.get("delivery_status"):
            status += f" / {e['delivery_status']}"
        details = []
        for label, name in (
            ("to", "recipient"),
            ("provider id", "provider_message_id"),
            ("provider", "provider"),
            ("attempts", "attempts"),
            ("error", "error_code"),
            ("reason", "reason"),
            ("delivery error", "delivery_error_code"),
            ("delivery reason", "delivery_reason"),
        ):
            if e.get(name) not in (None, ""):
                details.append(f"{label} {e[name]}")
        return what, status, "; ".join(details)
    return e["kind"], str(e.get("status", "")), e["key"]


def _when(value: Any) -> str:
    """A report's time as ISO-8601: providers give epoch seconds (SendGrid) or text (Twilio, Herald)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value or "")


def history_lines(e: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(at, what, details) of each provider report kept on a notification."""
    lines = []
    for report in e.get("history") or []:
        details = [f"{k} {report[k]}" for k in ("error_code", "reason") if report.get(k)]
        what = f"{report.get('provider', '?')} {report.get('event', '?')}"
        if report.get("state"):
            what += f" -> {report['state']}"
        lines.append((_when(report.get("occurred_at") or report.get("received_at")), what, "; ".join(details)))
    if e.get("history_overflow"):
        lines.append(("", f"{e['history_overflow']} more reports not kept", ""))
    return lines
