"""Shippo `track_updated` webhooks -> shipment updates.

The body (https://docs.goshippo.com/docs/tracking/webhooks): `event`, `test`, and `data`, the Track object:
`tracking_number`, `carrier` (Shippo's token, `usps`), `eta`, `original_eta`, `tracking_status` (`object_id`,
`status`, `substatus {code, text, action_required}`, `status_details`, `status_date`, `location`) and
`tracking_history`.

Statuses (PRE_TRANSIT, TRANSIT, DELIVERED, RETURNED, FAILURE, UNKNOWN) decide the type; `substatus.code` refines
TRANSIT and FAILURE only. Shippo's own published sample is a DELIVERED status whose substatus is
`information_received` (a placeholder): a delivered parcel is delivered whatever the substatus says. A substatus
code not in the table leaves the status's meaning; a status not in the table is recorded as unmapped.

The update's id is the tracking status's `object_id` (one per status Shippo records); Shippo sends no event id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from herald.contract.models import DelayReason, ExceptionKind
from herald.intake.meaning import (
    DELIVERED,
    HELD_FOR_PICKUP,
    IN_TRANSIT,
    OUT_FOR_DELIVERY,
    Meaning,
    attempted,
    delayed,
    exception,
    ignored,
    unmapped,
)
from herald.intake.reading import (
    build,
    fits,
    mapping,
    optional_text,
    optional_time,
    parse_estimate,
    require_aware,
    text,
)
from herald.intake.updates import DeliveryProof, ShipmentUpdate, Translation

STATUSES: dict[str, Meaning] = {
    "PRE_TRANSIT": ignored("label created: the carrier does not have the parcel yet"),
    "TRANSIT": IN_TRANSIT,
    "DELIVERED": DELIVERED,
    "RETURNED": exception(ExceptionKind.RETURNED_TO_SENDER),
    "FAILURE": exception(ExceptionKind.OTHER),
    "UNKNOWN": ignored("Shippo has no tracking information from the carrier yet"),
}

SUBSTATUSES: dict[str, Meaning] = {
    "out_for_delivery": OUT_FOR_DELIVERY,
    "delayed": delayed(DelayReason.CARRIER),
    "delivery_attempted": attempted("delivery attempted"),
    "notice_left": attempted("a notice was left"),
    "location_inaccessible": attempted("the delivery location could not be reached"),
    "pickup_available": HELD_FOR_PICKUP,
    "address_issue": exception(ExceptionKind.ADDRESS_ISSUE),
    "package_damaged": exception(ExceptionKind.DAMAGED),
    "package_lost": exception(ExceptionKind.LOST),
    "return_to_sender": exception(ExceptionKind.RETURNED_TO_SENDER),
}
REFINED_STATUSES = frozenset({"TRANSIT", "FAILURE"})


def meaning_of(status: str, substatus: str | None) -> Meaning:
    base = STATUSES.get(status)
    if base is None:
        return unmapped(status)
    if status in REFINED_STATUSES and substatus in SUBSTATUSES:
        return SUBSTATUSES[substatus]
    return base


def _place(status: Mapping[str, Any]) -> str | None:
    place = status.get("location")
    if not isinstance(place, Mapping):
        return None
    parts = [place.get(key) for key in ("city", "state", "zip", "country")]
    return " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip()) or None


def translate_shippo(payload: Mapping[str, Any], *, received_at: datetime) -> Translation:
    require_aware(received_at)
    body = mapping(payload, "the Shippo webhook")
    event = text(body, "event", "webhook")
    if event != "track_updated":
        return Translation(ignored=(f"Shippo event {event[:100]!r} is not a tracking update",))
    track = mapping(body.get("data"), "webhook.data")
    tracking_number = text(track, "tracking_number", "data")
    status_block = mapping(track.get("tracking_status"), "data.tracking_status")
    status = text(status_block, "status", "data.tracking_status")
    substatus_block = status_block.get("substatus")
    substatus = (
        optional_text(substatus_block, "code", "data.tracking_status.substatus")
        if isinstance(substatus_block, Mapping)
        else None
    )
    occurred_at = optional_time(status_block, "status_date", "data.tracking_status") or received_at
    update_id = text(status_block, "object_id", "data.tracking_status")
    meaning = meaning_of(status, substatus)
    proof = None
    if meaning.event_type is DELIVERED.event_type:
        proof = fits(lambda: DeliveryProof(delivered_at=occurred_at, location=_place(status_block)))
    return build(
        lambda: ShipmentUpdate(
            platform="shippo",
            update_id=update_id,
            carrier=optional_text(track, "carrier", "data"),
            tracking_number=tracking_number,
            status=status,
            substatus=substatus,
            occurred_at=occurred_at,
            message=optional_text(status_block, "status_details", "data.tracking_status"),
            estimated_delivery=parse_estimate(track.get("eta"), "data.eta"),
            proof=proof,
            **meaning.fields(),
        )
    )
