"""Outbound events: what Herald tells a storefront that only Herald learns (docs/outbound-webhooks.md).

Each is a CloudEvents 1.0 event in structured JSON mode, POSTed to the storefront's `outbound.url` signed as the
Standard Webhooks specification says (herald.webhooks.standard_webhooks), and put on its EventBridge bus when it
names one. The types are a registry (`OUTBOUND_TYPES`): one entry per type, with the data keys it must carry.

- `source` is `herald/` followed by the storefront's own source (`herald/storefront/acme`): the event comes from
  Herald, about that storefront's order; a receiver strips the prefix to find which of its stores it concerns.
- `id` is deterministic from what caused the event (`outbound_event_id`), so a retry, a redelivered message or a
  second submission of one form carries the same id, and a receiver deduplicates on it. It is also the request's
  `webhook-id`, so it holds no `.`: the specification forbids it in the signed content's id.
- `subject` is the order id: the storefront's own id of the order the event concerns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SOURCE_PREFIX = "herald/"
CONTENT_TYPE = "application/cloudevents+json"
# The request body's bound. The Standard Webhooks specification advises payloads under 20 KB; an SQS message holds
# 256 KiB. An event carries identifiers, the customer's answer and links (a photo travels as its URL), never files.
MAX_EVENT_BYTES = 32 * 1024
# The id Herald derives, and any id a caller gives: letters, digits, `_` and `-` (no `.`: see the module's doc).
ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"


class OutboundType(StrEnum):
    DELIVERY_DISPUTED = "delivery.disputed"
    DELIVERY_CONFIRMED = "delivery.confirmed"
    RETURN_REQUESTED = "return.requested"


@dataclass(frozen=True)
class OutboundTypeSpec:
    """What a type means, and the data keys every event of it carries (a receiver may rely on them)."""

    description: str
    required_data: tuple[str, ...]


# The one table keyed by outbound type. A new type: a member above, its entry here, its section in
# docs/outbound-webhooks.md (tests/unit/test_outbound_events.py fails for a member without both).
OUTBOUND_TYPES: dict[OutboundType, OutboundTypeSpec] = {
    OutboundType.DELIVERY_DISPUTED: OutboundTypeSpec(
        "The customer says a shipment marked delivered did not reach them (nothing arrived, wrong place, damaged).",
        ("shipment_id", "answer"),
    ),
    OutboundType.DELIVERY_CONFIRMED: OutboundTypeSpec(
        "The customer confirmed, against the proof of delivery, that the shipment reached them.",
        ("shipment_id",),
    ),
    OutboundType.RETURN_REQUESTED: OutboundTypeSpec(
        "The customer started a return on Herald's order page: the items, the reason, refund or exchange.",
        ("items", "reason", "resolution"),
    ),
}


class OutboundEvent(BaseModel):
    """One outbound CloudEvent, as queued and as sent (`body()` is the exact request body)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    source: Annotated[str, Field(pattern=r"^herald/[^\s\x00-\x1f]{1,256}$")]
    type: OutboundType
    time: AwareDatetime
    subject: Annotated[str, Field(min_length=1, max_length=256)]
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    @model_validator(mode="after")
    def _carries_its_type_data(self) -> Self:
        missing = [key for key in OUTBOUND_TYPES[self.type].required_data if key not in self.data]
        if missing:
            raise ValueError(f"{self.type} data lacks {', '.join(missing)}")
        size = len(self.body())
        if size > MAX_EVENT_BYTES:
            raise ValueError(f"the event is {size} bytes, over the {MAX_EVENT_BYTES} allowed")
        return self

    @property
    def storefront_source(self) -> str:
        """The storefront's own source (the registry's key): the event's source without `herald/`."""
        return self.source.removeprefix(SOURCE_PREFIX)

    def body(self) -> bytes:
        """The request body: compact JSON, ASCII only (every other character escaped), so the bytes signed are the
        bytes sent whatever a proxy does to the encoding."""
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=True).encode("ascii")


def outbound_event_id(event_type: OutboundType | str, subject: str, cause: str) -> str:
    """A deterministic id for the event `cause` gives rise to (a form submission's id, a dispute's key): the same
    cause always gives the same id, two causes never one (a SHA-256 over the three, each length-prefixed)."""
    parts = (str(OutboundType(event_type)), subject, cause)
    digest = hashlib.sha256("".join(f"{len(p)}:{p}" for p in parts).encode()).hexdigest()
    return f"hrld_{digest[:40]}"


def outbound_event(
    storefront_source: str,
    event_type: OutboundType | str,
    subject: str,
    data: Mapping[str, Any],
    id: str,
    *,
    time: datetime | None = None,
) -> dict[str, Any]:
    """The outbound event as a JSON-ready dict, validated (what `OutboundEvents.publish` takes). Raises ValueError
    (pydantic's ValidationError) naming what is wrong: a missing data key, the size."""
    event = OutboundEvent(
        id=id,
        source=SOURCE_PREFIX + storefront_source,
        type=OutboundType(event_type),
        time=time or datetime.now(UTC),
        subject=subject,
        data=dict(data),
    )
    return event.model_dump(mode="json")


# --- what an answer means ---------------------------------------------------------------------------------


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


# Statuses worth another try: the receiver timed out (408), throttled (429) or failed on its side (5xx).
_RETRYABLE_4XX = frozenset({408, 429})


def verdict(status: int | None) -> Verdict:
    """What the receiver's answer means. None: no answer (a timeout, a refused or reset connection): retried.

    A redirect is never followed (a signed request re-sent elsewhere is the receiver's to decide, and the
    Standard Webhooks specification says to update the URL instead), so a 3xx is permanent, as is every 4xx but
    408 and 429: the same request would be refused again.
    """
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status in _RETRYABLE_4XX or status >= 500:
        return Verdict.RETRY
    return Verdict.PERMANENT


def retry_after_seconds(value: str | None, *, maximum: int) -> int | None:
    """A `Retry-After` header in seconds (the delta form; an HTTP date is ignored: clocks disagree), capped."""
    if value is None or not value.strip().isdigit():
        return None
    return min(int(value.strip()), maximum)
