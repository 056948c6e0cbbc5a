"""A shipment's life as a state machine: from the status last notified, which new statuses are notified.

The one table of the per-shipment ordering rule (usecases.dispatch; adapters.dynamodb_ledger builds its
conditional write from it, so the rule is checked atomically in DynamoDB, never read-then-write). Replaces the
old ranks, which could not say "an exception is followed by more notices" nor "a delay may come at any point".
docs/shipment-states.md prints the same table for people.

Each cell is one of:
- NOTIFIED: the new status is news whatever time its publisher wrote (a delivery after an attempt dated later:
  publishers' clocks disagree, the stage decides);
- IF_LATER: notified only if its time is not earlier than the status last notified. These are the loops (the
  next day's out_for_delivery after an attempt, a second delay, news after an exception): a late copy of an
  earlier report must not pass for a new one;
- superseded (absent from the row): recorded with its reason, nothing sent.

Decisions (docs/decisions.md, 2026-12-02):
- `returned` is `shipment.exception` with kind `returned_to_sender`: the only status notified after delivered
  (the carrier takes a delivered parcel back: the customer must hear of it). It is terminal.
- delivered is terminal but for that return.
- created after any later status is superseded (a label printed again tells the customer nothing new).
- repeated reports of one status are one notice (in_transit, out_for_delivery, delivered, created); a second
  delay, a second failed attempt and a second exception are new notices (duplicates of ONE report are stopped by
  the event id before this table is read).
- in_transit is notified once, first; again only after an exception (the parcel moves again: news).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class ShipmentState(StrEnum):
    CREATED = "created"
    IN_TRANSIT = "in_transit"
    DELAYED = "delayed"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"  # shipment.exception of kind returned_to_sender


class Move(StrEnum):
    NOTIFIED = "notified"
    IF_LATER = "if_later"


_S = ShipmentState
_N, _L = Move.NOTIFIED, Move.IF_LATER
_AFTER_DELIVERY = {_S.DELIVERED: _N, _S.EXCEPTION: _N, _S.RETURNED: _N}

_TABLE: dict[ShipmentState, dict[ShipmentState, Move]] = {
    _S.CREATED: {
        _S.IN_TRANSIT: _N,
        _S.DELAYED: _N,
        _S.OUT_FOR_DELIVERY: _N,
        _S.DELIVERY_ATTEMPTED: _N,
        **_AFTER_DELIVERY,
    },
    _S.IN_TRANSIT: {_S.DELAYED: _N, _S.OUT_FOR_DELIVERY: _N, _S.DELIVERY_ATTEMPTED: _N, **_AFTER_DELIVERY},
    # A scan after a delay is not news (the delay notice said it is on its way, late); a new delay is.
    _S.DELAYED: {_S.DELAYED: _L, _S.OUT_FOR_DELIVERY: _N, _S.DELIVERY_ATTEMPTED: _N, **_AFTER_DELIVERY},
    _S.OUT_FOR_DELIVERY: {_S.DELAYED: _N, _S.DELIVERY_ATTEMPTED: _N, **_AFTER_DELIVERY},
    # After a failed attempt: the next day's round, a further attempt, or a delay.
    _S.DELIVERY_ATTEMPTED: {
        _S.DELAYED: _N,
        _S.OUT_FOR_DELIVERY: _L,
        _S.DELIVERY_ATTEMPTED: _L,
        **_AFTER_DELIVERY,
    },
    _S.DELIVERED: {_S.RETURNED: _N},
    # An exception is a problem, not an end: the parcel moves again, is tried again, is delivered.
    _S.EXCEPTION: {
        _S.IN_TRANSIT: _L,
        _S.DELAYED: _L,
        _S.OUT_FOR_DELIVERY: _L,
        _S.DELIVERY_ATTEMPTED: _L,
        _S.DELIVERED: _N,
        _S.EXCEPTION: _L,
        _S.RETURNED: _N,
    },
    _S.RETURNED: {},
}
TRANSITIONS: Mapping[ShipmentState, Mapping[ShipmentState, Move]] = MappingProxyType(
    {state: MappingProxyType(row) for state, row in _TABLE.items()}
)


def state_of(event_type: str, exception_kind: str | None = None) -> ShipmentState:
    """The state a `shipment.*` event moves to (its type without the prefix; a return is its own state)."""
    if exception_kind == "returned_to_sender":
        return ShipmentState.RETURNED
    return ShipmentState(event_type.removeprefix("shipment."))


def move(current: ShipmentState | None, new: ShipmentState) -> Move | None:
    """How `new` is notified after `current` (None: the first status of the shipment, always notified);
    None when it is superseded."""
    if current is None:
        return Move.NOTIFIED
    return TRANSITIONS[current].get(new)


def sources_of(new: ShipmentState, kind: Move) -> frozenset[ShipmentState]:
    """The states after which `new` is notified this way: what the ledger's conditional write allows."""
    return frozenset(state for state, row in TRANSITIONS.items() if row.get(new) is kind)
