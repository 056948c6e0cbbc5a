"""Returns started on the order page: which items a customer may still return, and the return form's answer.

Herald does not own a storefront's returns: it takes the customer's request (items, reason, refund or exchange) and
passes it on. What may be returned is what has been delivered and is not already in a return:
- each delivered shipment holds the items it lists (a shipment that lists none holds the whole order, as a
  single-parcel order's shipment often says nothing of its items), never more of an item than the order has;
- every return the page knows of holds its items, whatever its state, except a declined one (the storefront
  refused it: the items are the customer's again). A refunded or closed return keeps them: they went back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from herald.contract.event_types import EventType
from herald.domain.locales import N_
from herald.domain.order_page import MAX_NOTE_CHARACTERS, FormRefused

RETURN_FORM = "return"
MAX_RETURN_LINES = 50  # one checkbox per item of an order: more than any order page shows
# The state of a return whose items the customer has back (the storefront said no).
_RELEASED = frozenset({EventType.RETURN_DECLINED.value})


class ReturnReason(StrEnum):
    DOES_NOT_FIT = "does_not_fit"
    DAMAGED = "damaged"
    NOT_AS_DESCRIBED = "not_as_described"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"


class Resolution(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"


@dataclass(frozen=True)
class Returnable:
    """One item the customer may still return, and how many of it."""

    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class ReturnLine:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class ReturnRequest:
    """The return form's answer, validated: at least one item, each within what may be returned."""

    lines: tuple[ReturnLine, ...]
    reason: ReturnReason
    resolution: Resolution
    note: str | None = None


def returnable_items(
    order_items: Sequence[Mapping[str, Any]],
    delivered_shipments: Iterable[Sequence[Mapping[str, Any]]],
    returns: Iterable[tuple[str, Sequence[Mapping[str, Any]]]],
) -> list[Returnable]:
    """What may still be returned, in the order's own order of items.

    `delivered_shipments`: each delivered shipment's items (sku, quantity; empty: the whole order); `returns`: each
    known return's (state, items)."""
    ordered: dict[str, int] = {}
    names: dict[str, str] = {}
    for item in order_items:
        sku = str(item.get("sku") or "")
        if sku:
            ordered[sku] = ordered.get(sku, 0) + _quantity(item)
            names.setdefault(sku, str(item.get("name") or sku))
    delivered: dict[str, int] = {}
    for items in delivered_shipments:
        held = {str(i.get("sku")): _quantity(i) for i in items} if items else ordered
        for sku, quantity in held.items():
            delivered[sku] = delivered.get(sku, 0) + quantity
    for state, items in returns:
        if state in _RELEASED:
            continue
        for item in items:
            sku = str(item.get("sku") or "")
            delivered[sku] = delivered.get(sku, 0) - _quantity(item)
    result = []
    for sku, quantity in ordered.items():
        left = min(quantity, delivered.get(sku, 0))
        if left > 0:
            result.append(Returnable(sku, names[sku], left))
    return result


def _quantity(item: Mapping[str, Any]) -> int:
    try:
        return max(int(item.get("quantity") or 1), 0)
    except (TypeError, ValueError):
        return 1


def return_request(pairs: Sequence[tuple[str, str]], returnable: Sequence[Returnable]) -> ReturnRequest:
    """Read the return form's fields (a checkbox `item` per chosen sku, `quantity:<sku>` when more than one may go,
    `reason`, `resolution`, an optional `note`). Raises FormRefused with what is wrong (the page shows it)."""
    fields: dict[str, str] = {}
    chosen: list[str] = []
    for name, value in pairs:
        if name == "item":
            if value not in chosen:
                chosen.append(value)
        else:
            fields.setdefault(name, value)
    if not chosen:
        raise FormRefused(N_("choose at least one item to return"))
    if len(chosen) > MAX_RETURN_LINES:
        raise FormRefused(N_("too many items chosen"))
    by_sku = {r.sku: r for r in returnable}
    lines = []
    for sku in chosen:
        item = by_sku.get(sku)
        if item is None:
            raise FormRefused(N_("one of the items chosen cannot be returned (not delivered, or already in a return)"))
        text = fields.get(f"quantity:{sku}", "1").strip()
        if not text.isdigit() or not 1 <= int(text) <= item.quantity:
            raise FormRefused(N_("choose how many to return, from 1 to %(most)s"), most=item.quantity)
        lines.append(ReturnLine(sku, item.name, int(text)))
    try:
        reason = ReturnReason(fields.get("reason", ""))
    except ValueError:
        raise FormRefused(N_("choose why you are returning it")) from None
    try:
        resolution = Resolution(fields.get("resolution", ""))
    except ValueError:
        raise FormRefused(N_("choose a refund or an exchange")) from None
    note = " ".join(fields.get("note", "").split()) or None
    if note is not None and len(note) > MAX_NOTE_CHARACTERS:
        raise FormRefused(N_("the note is longer than %(limit)s characters"), limit=MAX_NOTE_CHARACTERS)
    return ReturnRequest(tuple(lines), reason, resolution, note)


def started_return_id(source: str, order_id: str, nonce: str) -> str:
    """The id Herald gives a return started with one form (its nonce): the same post, the same return."""
    digest = hashlib.sha256(f"return\n{source}\n{order_id}\n{nonce}".encode()).hexdigest()
    return f"hrld-ret-{digest[:24]}"


def return_event_id(return_id: str) -> str:
    """The id of the Herald `return.requested` event of a return started on the page."""
    return f"{return_id}-requested"
