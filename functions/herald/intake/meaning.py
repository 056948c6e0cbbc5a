"""What one carrier status means in Herald's words: the shipment type it becomes (with its reason or kind), or why
no customer hears of it. The carrier translators' tables are made of these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald.contract.event_types import EventType
from herald.contract.models import DelayReason, ExceptionKind


@dataclass(frozen=True)
class Meaning:
    event_type: EventType | None
    ignored_reason: str | None = None
    delay_reason: DelayReason | None = None
    exception_kind: ExceptionKind | None = None
    # For shipment.delivery_attempted: the words the customer reads ("could not deliver (...)").
    attempt_reason: str | None = None

    def fields(self) -> dict[str, Any]:
        """The ShipmentUpdate fields this meaning sets."""
        return {
            "event_type": self.event_type,
            "ignored_reason": self.ignored_reason,
            "delay_reason": self.delay_reason,
            "exception_kind": self.exception_kind,
            "attempt_reason": self.attempt_reason,
        }


def ignored(reason: str) -> Meaning:
    return Meaning(event_type=None, ignored_reason=reason)


def unmapped(status: str) -> Meaning:
    """A status Herald has no row for: recorded with this reason, never guessed."""
    return ignored(f"unmapped status {status[:100]!r}")


IN_TRANSIT = Meaning(EventType.SHIPMENT_IN_TRANSIT)
OUT_FOR_DELIVERY = Meaning(EventType.SHIPMENT_OUT_FOR_DELIVERY)
DELIVERED = Meaning(EventType.SHIPMENT_DELIVERED)


def delayed(reason: DelayReason) -> Meaning:
    return Meaning(EventType.SHIPMENT_DELAYED, delay_reason=reason)


def exception(kind: ExceptionKind) -> Meaning:
    return Meaning(EventType.SHIPMENT_EXCEPTION, exception_kind=kind)


def attempted(reason: str | None = None) -> Meaning:
    return Meaning(EventType.SHIPMENT_DELIVERY_ATTEMPTED, attempt_reason=reason)


# Herald has no "ready for pickup" type. A parcel held at a pickup point is one the customer must now go and
# fetch: shipment.delivery_attempted ("<carrier> could not deliver order N (held for pickup)") is the type that
# asks them to act and, in the state machine, is followed by more notices (the pickup, a return). Recorded in
# docs/decisions.md; a dedicated type would be better and is left to the contract's owner.
HELD_FOR_PICKUP = attempted("held for pickup")
