"""Turning an SQS message body into a typed event, or into a rejection with a reason."""

from __future__ import annotations

import json
import re
from datetime import datetime

from pydantic import ValidationError

from herald.contract.models import HERALD_EVENT_ADAPTER, MAX_EVENT_BYTES, MAX_FUTURE_SKEW, Envelope, EventType

_TYPE_VALUES = frozenset(t.value for t in EventType)
# The JSON escape \ud800 decodes to a lone surrogate: a valid Python str, but not encodable as UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class EventRejected(ValueError):
    """The event breaks the contract: it is recorded with `reason` and never retried."""

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source = source
        self.event_id = event_id
        self.event_type = event_type


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        # The first location element is the discriminator tag (the type); it adds nothing.
        loc = item["loc"][1:] if item["loc"] and item["loc"][0] in _TYPE_VALUES else item["loc"]
        where = ".".join(str(p) for p in loc) or "event"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_event(body: str | bytes, *, now: datetime | None = None) -> Envelope:
    """Validate one CloudEvents JSON body against the contract.

    Raises EventRejected with a human-readable reason (and whatever identity could be read)
    for bad JSON, oversized bodies, unknown types and missing or wrong fields; and, given `now` (the caller's
    clock: dispatch passes its own), for a `time` more than MAX_FUTURE_SKEW ahead of it.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(raw) > MAX_EVENT_BYTES:
        raise EventRejected(f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise EventRejected(f"body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(document, dict):
        raise EventRejected(f"body must be a JSON object, not {type(document).__name__}")
    identity = {
        "source": _text_or_none(document.get("source")),
        "event_id": _text_or_none(document.get("id")),
        "event_type": _text_or_none(document.get("type")),
    }
    if identity["event_type"] not in _TYPE_VALUES:
        raise EventRejected(f"unknown event type {identity['event_type']!r}", **identity)
    try:
        event = HERALD_EVENT_ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise EventRejected(f"invalid {identity['event_type']} event: {_describe(exc)}", **identity) from None
    except RecursionError:
        raise EventRejected("event is nested too deeply", **identity) from None
    if now is not None and event.time > now + MAX_FUTURE_SKEW:
        # A time a publisher chose orders a shipment's loops (domain.shipment_states): one far ahead would freeze them.
        hours = int(MAX_FUTURE_SKEW.total_seconds() // 3600)
        raise EventRejected(
            f"time {event.time.isoformat()} is more than {hours} h ahead of Herald's clock ({now.isoformat()}):"
            " an event's time is when it happened",
            **identity,
        )
    return event


def _text_or_none(value: object) -> str | None:
    # The identity of a rejected event is written to DynamoDB and logged; a lone surrogate cannot be
    # encoded as UTF-8 and would make that write raise (and the batch retry an event that can never pass).
    return _LONE_SURROGATE.sub("\ufffd", value[:128]) if isinstance(value, str) else None
