"""AfterShip Tracking webhooks -> shipment updates.

The body (https://www.aftership.com/docs/tracking/webhook/webhook-specifications): `event` (`tracking_update`,
`edd_revise` or `tracking_pending_time`), `event_id` (UUID, the update's id), `ts` (UTC Unix seconds when the event
occurred), `is_tracking_first_tag` and `msg`, the Tracking object: `tracking_number`, `slug` (the carrier), `tag`,
`subtag`, `subtag_message`, `checkpoints`, `signed_by`, the estimates.

`tag` is one of the 9 documented delivery statuses (enum/delivery-statuses); `subtag` refines it
(enum/delivery-sub-statuses). Only the subtags that change what the customer hears have a row (Exception's delays,
kinds and returns; AttemptFail's reason comes from `subtag_message`); any other subtag of a known tag means what the
tag means, so a subtag AfterShip adds later (it added Exception_016..021 in 2026) is never dropped. A tag Herald
has no row for is recorded as unmapped.

`edd_revise` carries the revised estimate in the Tracking object: `latest_estimated_delivery` (2024-04 and later:
`datetime`, `datetime_max`, `revise_reason`), else `aftership_estimated_delivery_date.estimated_delivery_date`,
else `expected_delivery` (the carrier's). It becomes a shipment.delayed marked `revises_estimate`: the intake sends
it only when the new date is later than the one the customer was told. AfterShip's `revise_reason`
(enum/edd-revise-reasons) gives the delay reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from herald.contract.event_types import EventType
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
    epoch,
    fits,
    mapping,
    optional_list,
    optional_text,
    parse_estimate,
    require_aware,
    text,
)
from herald.intake.updates import DeliveryProof, IntakeRefused, ShipmentUpdate, Translation

TAGS: dict[str, Meaning] = {
    "Pending": ignored("AfterShip has no carrier information yet"),
    "InfoReceived": ignored("label created: the carrier has the shipment's details, not the parcel"),
    "InTransit": IN_TRANSIT,
    "OutForDelivery": OUT_FOR_DELIVERY,
    "AttemptFail": attempted(),
    "Delivered": DELIVERED,
    "AvailableForPickup": HELD_FOR_PICKUP,
    "Exception": exception(ExceptionKind.OTHER),
    "Expired": ignored("AfterShip stopped tracking: no carrier information for 30 days"),
}

SUBTAGS: dict[str, Meaning] = {
    "Exception_002": exception(ExceptionKind.ADDRESS_ISSUE),  # Customer moved
    "Exception_004": delayed(DelayReason.CUSTOMS),  # Delayed (Customs clearance)
    "Exception_005": delayed(DelayReason.OTHER),  # Delayed (External factors)
    "Exception_007": exception(ExceptionKind.ADDRESS_ISSUE),  # Incorrect Address
    "Exception_010": exception(ExceptionKind.RETURNED_TO_SENDER),  # Returning to sender
    "Exception_011": exception(ExceptionKind.RETURNED_TO_SENDER),  # Returned to sender
    "Exception_012": exception(ExceptionKind.DAMAGED),  # Shipment damage
    "Exception_013": exception(ExceptionKind.LOST),  # Shipment lost
    "Exception_016": delayed(DelayReason.CARRIER),  # Delayed (Processing issue)
    "Exception_017": delayed(DelayReason.WEATHER),  # Delayed (Extreme weather)
    "Exception_019": delayed(DelayReason.CARRIER),  # Delayed (Late flight)
}

REVISE_REASONS: dict[str, DelayReason] = {
    "extreme_weather": DelayReason.WEATHER,
    "heavy_rain": DelayReason.WEATHER,
    "extreme_cold": DelayReason.WEATHER,
    "strong_winds": DelayReason.WEATHER,
    "severe_thunderstorms": DelayReason.WEATHER,
    "carrier_processing": DelayReason.CARRIER,
    "customs_clearance": DelayReason.CUSTOMS,
}


def meaning_of(tag: str, subtag: str | None, subtag_message: str | None) -> Meaning:
    base = TAGS.get(tag)
    if base is None:
        return unmapped(tag)
    if subtag is not None and subtag.startswith(f"{tag}_") and subtag in SUBTAGS:
        return SUBTAGS[subtag]
    if tag == "AttemptFail":
        return attempted(subtag_message)
    return base


def _revised_estimate(msg: Mapping[str, Any]) -> tuple[datetime | date | None, str | None]:
    latest = msg.get("latest_estimated_delivery")
    if isinstance(latest, Mapping) and (latest.get("datetime") or latest.get("datetime_max")):
        # The latest the parcel may arrive is what a promise is held to, when AfterShip gives a window.
        when = latest.get("datetime_max") or latest.get("datetime")
        reason = latest.get("revise_reason")
        return parse_estimate(when, "msg.latest_estimated_delivery"), reason if isinstance(reason, str) else None
    predicted = msg.get("aftership_estimated_delivery_date")
    if isinstance(predicted, Mapping) and predicted.get("estimated_delivery_date"):
        when = predicted.get("estimated_delivery_date_max") or predicted.get("estimated_delivery_date")
        return parse_estimate(when, "msg.aftership_estimated_delivery_date"), None
    return parse_estimate(msg.get("expected_delivery"), "msg.expected_delivery"), None


def _last_checkpoint(msg: Mapping[str, Any]) -> Mapping[str, Any] | None:
    checkpoints = optional_list(msg, "checkpoints", "msg")
    return mapping(checkpoints[-1], "msg.checkpoints[-1]") if checkpoints else None


def _place(checkpoint: Mapping[str, Any] | None) -> str | None:
    if checkpoint is None:
        return None
    parts = [checkpoint.get(key) for key in ("location", "city", "state", "postal_code", "zip", "country_iso3")]
    words = [part.strip() for part in parts if isinstance(part, str) and part.strip()]
    return " ".join(dict.fromkeys(words)) or None


def translate_aftership(payload: Mapping[str, Any], *, received_at: datetime) -> Translation:
    require_aware(received_at)
    body = mapping(payload, "the AfterShip webhook")
    event = text(body, "event", "webhook")
    if event == "tracking_pending_time":
        return Translation(ignored=("AfterShip pending-time alert: for the merchant, not the customer",))
    if event not in ("tracking_update", "edd_revise"):
        return Translation(ignored=(f"AfterShip event {event[:100]!r} is not a tracking update",))
    event_id = text(body, "event_id", "webhook")
    occurred_at = epoch(body.get("ts"), "webhook.ts", millis=False) if "ts" in body else received_at
    msg = mapping(body.get("msg"), "webhook.msg")
    tracking_number = text(msg, "tracking_number", "msg")
    tag = text(msg, "tag", "msg")
    subtag = optional_text(msg, "subtag", "msg")
    checkpoint = _last_checkpoint(msg)
    common: dict[str, Any] = {
        "platform": "aftership",
        "update_id": event_id,
        "carrier": optional_text(msg, "slug", "msg"),
        "tracking_number": tracking_number,
        "tracking_url": optional_text(msg, "courier_tracking_link", "msg"),
        "status": tag,
        "substatus": subtag,
        "occurred_at": occurred_at,
        "message": optional_text(checkpoint, "message", "msg.checkpoints[-1]") if checkpoint else None,
    }
    if event == "edd_revise":
        estimate, revise_reason = _revised_estimate(msg)
        if estimate is None:
            raise IntakeRefused("an AfterShip edd_revise names no estimated delivery date")
        return build(
            lambda: ShipmentUpdate(
                **common,
                event_type=EventType.SHIPMENT_DELAYED,
                delay_reason=REVISE_REASONS.get(revise_reason or "", DelayReason.OTHER),
                estimated_delivery=estimate,
                revises_estimate=True,
            )
        )
    meaning = meaning_of(tag, subtag, optional_text(msg, "subtag_message", "msg"))
    proof = None
    if meaning.event_type is EventType.SHIPMENT_DELIVERED:
        proof = fits(
            lambda: DeliveryProof(
                delivered_at=occurred_at,
                location=_place(checkpoint),
                received_by=optional_text(msg, "signed_by", "msg"),
            )
        )
    estimate, _ = _revised_estimate(msg)
    return build(lambda: ShipmentUpdate(**common, estimated_delivery=estimate, proof=proof, **meaning.fields()))
