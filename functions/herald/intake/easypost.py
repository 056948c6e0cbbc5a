"""EasyPost `tracker.updated` (and `tracker.created`) Events -> shipment updates.

The Event's `result` is the Tracker (https://docs.easypost.com/docs/trackers): `tracking_code`, `carrier`,
`status`, `status_detail`, `est_delivery_date`, `signed_by`, `public_url` and the scans in `tracking_details`
(each with `status`, `message`, `datetime`, `tracking_location`). `previous_attributes` names what changed
(`{"status": "in_transit"}` in EasyPost's official fixture); a changed `est_delivery_date` there becomes the
update's previous estimate, so the intake can tell a revised estimate from the first one.

Statuses (EasyPost documents: unknown, pre_transit, in_transit, out_for_delivery, delivered, available_for_pickup,
return_to_sender, failure, cancelled, error):
- `error` is EasyPost failing to read the carrier's tracking, not something that happened to the parcel: recorded,
  not told (a customer told "error" about a parcel that is fine would call the store for nothing).
- `failure` is the carrier reporting that delivery failed: an exception, refined by `status_detail`.
- `status_detail` refines `in_transit`, `out_for_delivery` and `failure` only (a delivered parcel is delivered
  whatever the detail says); a detail not in the table leaves the status's own meaning.
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
    optional_list,
    optional_text,
    optional_time,
    parse_estimate,
    parse_time,
    require_aware,
    text,
)
from herald.intake.updates import DeliveryProof, IntakeRefused, ShipmentUpdate, Translation

TRACKER_EVENTS = frozenset({"tracker.updated", "tracker.created"})

STATUSES: dict[str, Meaning] = {
    "unknown": ignored("EasyPost has no tracking information from the carrier yet"),
    "pre_transit": ignored("label created: the carrier does not have the parcel yet"),
    "in_transit": IN_TRANSIT,
    "out_for_delivery": OUT_FOR_DELIVERY,
    "delivered": DELIVERED,
    "available_for_pickup": HELD_FOR_PICKUP,
    "return_to_sender": exception(ExceptionKind.RETURNED_TO_SENDER),
    "failure": exception(ExceptionKind.OTHER),
    "cancelled": ignored("label cancelled: the parcel will not travel on this tracking number"),
    "error": ignored("EasyPost could not read the carrier's tracking (status 'error'); nothing happened to the parcel"),
}

# status_detail values EasyPost documents that change what the customer should hear.
DETAILS: dict[str, Meaning] = {
    "weather_delay": delayed(DelayReason.WEATHER),
    "delayed": delayed(DelayReason.CARRIER),
    "missorted": delayed(DelayReason.CARRIER),
    "transit_exception": delayed(DelayReason.CARRIER),
    "attempted_delivery": attempted("delivery attempted"),
    "address_correction": exception(ExceptionKind.ADDRESS_ISSUE),
    "damaged": exception(ExceptionKind.DAMAGED),
    "lost": exception(ExceptionKind.LOST),
    "return": exception(ExceptionKind.RETURNED_TO_SENDER),
    "refused": exception(ExceptionKind.OTHER),
}
REFINED_STATUSES = frozenset({"in_transit", "out_for_delivery", "failure"})


def meaning_of(status: str, status_detail: str | None) -> Meaning:
    base = STATUSES.get(status)
    if base is None:
        return unmapped(status)
    if status in REFINED_STATUSES and status_detail in DETAILS:
        return DETAILS[status_detail]
    return base


def _location(detail: Mapping[str, Any]) -> str | None:
    place = detail.get("tracking_location")
    if not isinstance(place, Mapping):
        return None
    parts = [place.get(key) for key in ("city", "state", "zip", "country")]
    return " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip()) or None


def _scan_for(status: str, details: list[Any]) -> Mapping[str, Any] | None:
    """The latest scan with the tracker's current status (the one this update reports)."""
    for index in range(len(details) - 1, -1, -1):
        detail = mapping(details[index], f"result.tracking_details[{index}]")
        if detail.get("status") == status:
            return detail
    return None


def translate_easypost(payload: Mapping[str, Any], *, received_at: datetime) -> Translation:
    require_aware(received_at)
    event = mapping(payload, "the EasyPost Event")
    if event.get("object") != "Event":
        raise IntakeRefused("the EasyPost body is not an Event (object is not 'Event')")
    description = text(event, "description", "Event")
    if description not in TRACKER_EVENTS:
        return Translation(ignored=(f"EasyPost event {description[:100]!r} is not a tracker update",))
    event_id = text(event, "id", "Event")
    tracker = mapping(event.get("result"), "Event.result")
    if tracker.get("object") != "Tracker":
        raise IntakeRefused("the EasyPost Event's result is not a Tracker (result.object is not 'Tracker')")
    status = text(tracker, "status", "result")
    status_detail = optional_text(tracker, "status_detail", "result")
    details = optional_list(tracker, "tracking_details", "result")
    scan = _scan_for(status, details)
    scanned_at = parse_time(scan["datetime"], "the scan's datetime") if scan and scan.get("datetime") else None
    occurred_at = scanned_at or optional_time(tracker, "updated_at", "result") or received_at
    meaning = meaning_of(status, status_detail)
    previous = event.get("previous_attributes")
    previous_estimate = (
        parse_estimate(previous.get("est_delivery_date"), "previous_attributes.est_delivery_date")
        if isinstance(previous, Mapping)
        else None
    )
    proof = None
    if meaning.event_type is DELIVERED.event_type:
        proof = fits(
            lambda: DeliveryProof(
                delivered_at=occurred_at,
                location=_location(scan) if scan else None,
                received_by=optional_text(tracker, "signed_by", "result"),
            )
        )
    return build(
        lambda: ShipmentUpdate(
            platform="easypost",
            update_id=event_id,
            carrier=optional_text(tracker, "carrier", "result"),
            tracking_number=text(tracker, "tracking_code", "result"),
            tracking_url=optional_text(tracker, "public_url", "result"),
            status=status,
            substatus=status_detail,
            occurred_at=occurred_at,
            message=optional_text(scan, "message", "the scan") if scan else None,
            estimated_delivery=parse_estimate(tracker.get("est_delivery_date"), "result.est_delivery_date"),
            previous_estimated_delivery=previous_estimate,
            proof=proof,
            **meaning.fields(),
        )
    )
