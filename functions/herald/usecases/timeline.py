"""An order's timeline: every event and notification recorded for it, in time order.

One Query on pk=ORDER#<source>#<order id> (DynamoDbLedger.order_items) returns them all. Each item becomes
a plain JSON object with every attribute the pipeline recorded (states, provider ids, error codes, attempts,
skip reasons, delivery states and the provider history), so fields added later appear without changes here.
Left out: bookkeeping attributes, and a standby notification's rendered `message` (the customer's address and
text). Free text is masked (mask_text), since a provider's bounce reason or error may quote the recipient.

Added to each entry (new keys, derived here):
- `summary`: the step as one line ("sms sent via twilio, delivered (fallback: email bounced (5.1.1) at ...)");
- on notifications, `role`: "primary", "standby" (recorded as the event's fallback channel: waiting, activated
  or stood down) or "escalation" (the deadline's copy through the secondary provider, its own entry);
- on standby notifications, `standby_for`: the event's primary channels whose failure sends it.

Entries of kind `ignored` are the platform reports the intake joined to this order and told no customer of (an
unmapped status, an estimate not later than the one told), with the platform, its status and the reason.

Outbound webhooks to the storefront (usecases.outbound) are entries too, of kind `webhook_delivered`,
`webhook_retrying`, `webhook_failed` or `webhook_skipped`, with their status code, attempts and one history line per
attempt.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from herald.domain.masking import mask_text

# Keys, TTL, the sender's lease and the webhooks' dedup set and rank: how the table works, not what happened.
_INTERNAL = frozenset({"pk", "sk", "expires_at", "lease_until", "delivery_events", "delivery_rank"})
# A standby's rendered message: the customer's address or number and the whole text. Never shown.
_CONTENT = frozenset({"message"})
# Identifiers an operator copies into a query or a provider's console: shown exactly, never masked.
_VERBATIM = frozenset(
    {
        "key",
        "source",
        "order_id",
        "order_number",
        "event_id",
        "notification_id",
        "escalation_of",
        "provider_message_id",
        "report_id",
        "tracking_number",
        "shipment_id",
    }
)
_KIND_ORDER = {"event": 0, "notification": 1}
# A primary channel in these states was never sent, so it cannot fail and trigger its standby.
_NOT_SENT = frozenset({"skipped", "suppressed"})


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


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


def _role(data: dict[str, Any]) -> str:
    """primary, standby or escalation: what a notification item was recorded as."""
    # An escalation is recorded with the notification it escalates (the follow-up function's record_escalation).
    if "escalation_of" in data:
        return "escalation"
    # Only a standby is recorded with its rendered message, and it keeps it once activated or stood down.
    if "message" in data or data.get("status") == "standby" or "fallback_of" in data:
        return "standby"
    return "primary"


def entry(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One timeline entry: the item's attributes, its `at` (when Herald recorded it) and a stable `key`."""
    data = plain(item)
    result = {
        name: value if name in _VERBATIM else _masked(value)
        for name, value in data.items()
        if name not in _INTERNAL and name not in _CONTENT
    }
    result["key"] = data.get("sk", "")
    result.setdefault("kind", "unknown")
    result["at"] = data.get("received_at") or data.get("created_at") or data.get("updated_at") or ""
    if result["kind"] == "notification":
        result["role"] = _role(data)
    return result


def build_timeline(source: str, order_id: str, items: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The timeline document (the CLI's --json and the HTTP route return exactly this)."""
    entries = sorted(
        (entry(item) for item in items),
        # ISO-8601 UTC strings sort in time order; an event comes before the notifications it planned.
        key=lambda e: (e["at"], _KIND_ORDER.get(e["kind"], 2), e["key"]),
    )
    primaries: dict[str, list[str]] = {}
    for e in entries:
        if e.get("role") == "primary" and e.get("status") not in _NOT_SENT and e.get("channel"):
            primaries.setdefault(str(e.get("event_id")), []).append(str(e["channel"]))
    for e in entries:
        if e.get("role") == "standby":
            e["standby_for"] = sorted(primaries.get(str(e.get("event_id")), []))
        e["summary"] = summary(e)
    order_number = next((e["order_number"] for e in entries if e.get("order_number")), None)
    return {
        "source": source,
        "order_id": order_id,
        "order_number": order_number,
        "events": sum(1 for e in entries if e["kind"] == "event"),
        "notifications": sum(1 for e in entries if e["kind"] == "notification"),
        "ignored": sum(1 for e in entries if e["kind"] == "ignored"),
        "entries": entries,
    }


class TimelineReader(Protocol):
    def order_items(self, source: str, order_id: str) -> list[dict[str, dict[str, Any]]]:
        """Every event and notification item of one order (DynamoDB attribute values), in key order."""
        ...

    def ignored_reports(self, source: str, order_id: str | None = None) -> list[dict[str, dict[str, Any]]]:
        """The platform reports the intake ignored for this order (kept beside the order's own items)."""
        ...


def order_timeline(ledger: TimelineReader, source: str, order_id: str) -> dict[str, Any]:
    """Read with two Queries (paged) through the ledger, the order's items and the reports ignored for it, and
    build the timeline."""
    items = ledger.order_items(source, order_id) + ledger.ignored_reports(source, order_id)
    return build_timeline(source, order_id, items)


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


def _label(e: dict[str, Any]) -> str:
    """The channel, and whether this entry is the deadline's escalation copy of it."""
    channel = str(e.get("channel", "?"))
    return f"{channel} escalation" if e.get("role") == "escalation" else channel


def _escalation_reason(e: dict[str, Any]) -> str | None:
    """Why it was escalated. A failed or retried send overwrites `reason` with the provider's error, so the
    error code's presence says the reason is no longer the escalation's."""
    if e.get("role") == "escalation" and e.get("reason") and not e.get("error_code"):
        return str(e["reason"])
    return None


def _notes(e: dict[str, Any]) -> list[str]:
    """Why this channel and provider: fallback, failover, escalation, standby."""
    notes = []
    if e.get("fallback_of") or e.get("fallback_reason"):
        failed = str(e.get("fallback_of") or "")
        why = str(e.get("fallback_reason") or f"{failed} failed")
        # The follow-up writes "<channel> <what happened>": name the channel when a reason does not.
        note = f"fallback: {why if why.startswith(failed) else f'{failed} {why}'}"
        notes.append(note + (f" at {e['fallback_at']}" if e.get("fallback_at") else ""))
    elif e.get("role") == "standby":
        channels = " or ".join(e.get("standby_for") or []) or "another channel"
        notes.append(f"sent only if {channels} fails" if e.get("status") == "standby" else f"standby for {channels}")
    escalation = _escalation_reason(e)
    if escalation:
        notes.append(escalation)  # the label says escalation; its route reason would only repeat it
    elif e.get("route_reason"):
        notes.append(str(e["route_reason"]))
    return notes


def _step(e: dict[str, Any]) -> str:
    """`via <provider> (<notes>)`, or the notes alone before any provider took it."""
    head = f"via {e['provider']}" if e.get("provider") else ""
    notes = ", ".join(_notes(e))
    if head and notes:
        return f"{head} ({notes})"
    return head or notes


def summary(e: dict[str, Any]) -> str:
    """The entry as one short line: what happened to it and why (the JSON's `summary`)."""
    if e["kind"] == "event":
        line = f"event {e.get('event_type', '?')} {e.get('status', '?')}"
        return line + (f" ({e['reason']})" if e.get("reason") else "")
    if e["kind"] == "ignored":
        return f"{e.get('platform', '?')} report {e.get('status', '?')} ignored ({e.get('reason', '?')})"
    if _is_webhook(e):
        return f"webhook {e.get('event_type', '?')} {e.get('status', '?')} ({_webhook_step(e)})"
    if e["kind"] == "return_started":
        return f"return_started {_started_return(e)}"
    if e["kind"] != "notification":
        return f"{e['kind']} {e.get('status', '')}".strip()
    line = f"{_label(e)} {e.get('status', '?')}"
    if e.get("provider"):
        line += f" via {e['provider']}"
    if e.get("delivery_status"):
        line += f", {e['delivery_status']}"
    notes = _notes(e)
    if e.get("status") in _NOT_SENT and e.get("reason"):
        notes.append(str(e["reason"]))  # why it was never sent is the whole story of a skipped step
    return line + (f" ({', '.join(notes)})" if notes else "")


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
        what = f"{_label(e)} for {e.get('event_type', '?')}"
        status = str(e.get("status", "?"))
        if e.get("delivery_status"):
            status += f" / {e['delivery_status']}"
        step = _step(e)
        details = [step] if step else []
        shown = {"provider"} | ({"reason"} if _escalation_reason(e) else set())  # already in the step
        for label, name in (
            ("to", "recipient"),
            ("provider id", "provider_message_id"),
            ("attempts", "attempts"),
            ("error", "error_code"),
            ("reason", "reason"),
            ("delivery error", "delivery_error_code"),
            ("delivery reason", "delivery_reason"),
            ("escalation of", "escalation_of"),
        ):
            if name not in shown and e.get(name) not in (None, ""):
                details.append(f"{label} {e[name]}")
        return what, status, "; ".join(details)
    if e["kind"] == "ignored":
        details = [f"reason: {e.get('reason', '?')}", f"id {e.get('report_id', '?')}"]
        details += [f"{label} {e[name]}" for label, name in _IGNORED_DETAILS if e.get(name)]
        return f"{e.get('platform', '?')} report {e.get('status', '?')}", "ignored", "; ".join(details)
    if e["kind"] == "return_started":
        details = [f"id {e.get('return_id', '?')}"] + ([f"note {e['note']}"] if e.get("note") else [])
        return "return started on the order page", _started_return(e), "; ".join(details)
    if _is_webhook(e):
        details = [f"id {e.get('event_id', '?')}", _webhook_step(e)]
        if e.get("delivered"):
            details.append(f"delivered to {', '.join(e['delivered'])}")
        return f"webhook {e.get('event_type', '?')}", str(e.get("status", "?")), "; ".join(details)
    return e["kind"], str(e.get("status", "")), e["key"]


_IGNORED_DETAILS = (("tracking", "tracking_number"), ("shipment", "shipment_id"))


def _started_return(e: dict[str, Any]) -> str:
    """`2 x MUG, 1 x TENT (damaged, exchange)`: what a return started on the order page holds, and why."""
    try:
        items = json.loads(str(e.get("items") or "[]"))
    except ValueError:
        items = []
    lines = ", ".join(f"{i.get('quantity', 1)} x {i.get('sku', '?')}" for i in items if isinstance(i, dict))
    return f"{lines or '?'} ({e.get('reason', '?')}, {e.get('resolution', '?')})"


def _is_webhook(e: dict[str, Any]) -> bool:
    """An outbound webhook's entry (usecases.outbound): kind webhook_delivered, _retrying, _failed or _skipped."""
    return str(e.get("kind", "")).startswith("webhook_")


def _webhook_step(e: dict[str, Any]) -> str:
    attempts = int(e.get("attempts") or 0)
    reason = str(e.get("reason") or "")
    return f"{reason}; {attempts} attempt{'s' if attempts != 1 else ''}" if reason else f"{attempts} attempts"


def _when(value: Any) -> str:
    """A report's time as ISO-8601: providers give epoch seconds (SendGrid) or text (Twilio, Herald)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value or "")


def history_lines(e: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(at, what, details) of each provider report kept on a notification."""
    lines = []
    if _is_webhook(e):
        for attempt in e.get("history") or []:
            status = f"HTTP {attempt['status_code']}" if attempt.get("status_code") is not None else ""
            lines.append((str(attempt.get("at", "")), str(attempt.get("kind", "?")), attempt.get("reason") or status))
        return lines
    for report in e.get("history") or []:
        details = [f"{k} {report[k]}" for k in ("error_code", "reason") if report.get(k)]
        what = f"{report.get('provider', '?')} {report.get('event', '?')}"
        if report.get("state"):
            what += f" -> {report['state']}"
        lines.append((_when(report.get("occurred_at") or report.get("received_at")), what, "; ".join(details)))
    if e.get("history_overflow"):
        lines.append(("", f"{e['history_overflow']} more reports not kept", ""))
    return lines
