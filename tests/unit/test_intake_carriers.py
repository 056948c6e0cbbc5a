"""Carrier translators (herald.intake.easypost, aftership, shippo, onfleet): the published payloads become the
expected shipment updates, every status of each table becomes its Herald type or its ignored reason (the expected
values are written out here, not read from the tables), and payloads that are not what the platform documents are
refused with a reason."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from tests.fixtures import load_fixture  # published payloads: tests/fixtures/SOURCES.md

from herald.contract.event_types import EventType
from herald.contract.models import DelayReason, ExceptionKind
from herald.intake.aftership import translate_aftership
from herald.intake.easypost import translate_easypost
from herald.intake.onfleet import translate_onfleet
from herald.intake.shippo import translate_shippo
from herald.intake.updates import IntakeRefused, ShipmentUpdate, Translation

RECEIVED = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
Translator = Callable[..., Translation]

EASYPOST_EVENT = load_fixture("easypost_tracker_updated_event.json")
EASYPOST_DELIVERED_TRACKER = load_fixture("easypost_tracker_delivered_legacy_docs_example.json")
AFTERSHIP = load_fixture("aftership_tracking_update_intransit_trimmed.json")
SHIPPO = load_fixture("shippo_track_updated_delivered.json")
ONFLEET_COMPLETED = load_fixture("onfleet_task_completed_third_party_example.json")

T = EventType
TRANSIT, OFD, DELAYED = T.SHIPMENT_IN_TRANSIT, T.SHIPMENT_OUT_FOR_DELIVERY, T.SHIPMENT_DELAYED
ATTEMPTED, DELIVERED, EXCEPTION = T.SHIPMENT_DELIVERY_ATTEMPTED, T.SHIPMENT_DELIVERED, T.SHIPMENT_EXCEPTION


def only_update(translation: Translation) -> ShipmentUpdate:
    assert translation.events == ()
    assert translation.order_updates == ()
    assert translation.ignored == ()
    assert len(translation.updates) == 1
    return translation.updates[0]


def easypost_event(tracker: Mapping[str, Any], event_id: str = "evt_test") -> dict[str, Any]:
    """An Event envelope around a published Tracker, as EasyPost's official fixture shapes one (hand-made)."""
    return {"object": "Event", "id": event_id, "description": "tracker.updated", "result": copy.deepcopy(tracker)}


def easypost_with(status: str, status_detail: str | None = "unknown") -> dict[str, Any]:
    event = copy.deepcopy(EASYPOST_EVENT)
    event["result"]["status"] = status
    event["result"]["status_detail"] = status_detail
    return event


# ---------------------------------------------------------------- published payloads


def test_easypost_published_tracker_updated_is_in_transit() -> None:
    """Given EasyPost's official tracker.updated fixture (FedEx, in_transit / arrived_at_facility),
    When translated, Then one in-transit update for tracking code "1", the latest in-transit scan's time and
    words, the estimate and the public URL, keyed by the Event id."""
    update = only_update(translate_easypost(EASYPOST_EVENT, received_at=RECEIVED))
    assert update.platform == "easypost"
    assert update.update_id == "evt_1"
    assert update.event_type is TRANSIT
    assert update.ignored_reason is None
    assert (update.carrier, update.tracking_number) == ("FedEx", "1")
    assert update.tracking_url == "https://track.easypost.com/1"
    assert (update.status, update.substatus) == ("in_transit", "arrived_at_facility")
    assert update.occurred_at == datetime(2024, 8, 2, 18, 50, tzinfo=UTC)
    assert update.message == "Arrived at FedEx location"
    assert update.estimated_delivery == datetime(2024, 8, 5, tzinfo=UTC)
    assert update.previous_estimated_delivery is None  # previous_attributes names only the status
    assert update.proof is None


def test_easypost_published_delivered_tracker_carries_who_signed() -> None:
    """Given EasyPost's legacy docs Tracker (UPS, delivered, signed_by "John Tester", its only scan pre_transit)
    in an Event envelope, When translated, Then delivered, proof received_by John Tester at the tracker's
    updated_at (no delivered scan to take the time from), and no scan words from the unrelated pre_transit scan."""
    update = only_update(translate_easypost(easypost_event(EASYPOST_DELIVERED_TRACKER), received_at=RECEIVED))
    assert update.event_type is DELIVERED
    assert (update.carrier, update.tracking_number) == ("UPS", "EZ4000000004")
    assert update.occurred_at == datetime(2014, 11, 19, 10, 51, 54, tzinfo=UTC)
    assert update.message is None
    assert update.proof is not None
    assert update.proof.received_by == "John Tester"
    assert update.proof.delivered_at == update.occurred_at


def test_easypost_changed_estimate_is_reported_with_the_previous_one() -> None:
    """Given the official fixture whose previous_attributes also name an earlier est_delivery_date (hand-made),
    Then the update carries both, so the intake can see the estimate moved."""
    event = copy.deepcopy(EASYPOST_EVENT)
    event["previous_attributes"]["est_delivery_date"] = "2024-08-03T00:00:00Z"
    update = only_update(translate_easypost(event, received_at=RECEIVED))
    assert update.previous_estimated_delivery == datetime(2024, 8, 3, tzinfo=UTC)
    assert update.estimated_delivery == datetime(2024, 8, 5, tzinfo=UTC)


def test_aftership_published_tracking_update_is_in_transit() -> None:
    """Given hookdeck's transcription of AfterShip's tracking_update sample (InTransit / InTransit_001),
    When translated, Then in transit, keyed by event_id, at `ts`, with the last checkpoint's message."""
    update = only_update(translate_aftership(AFTERSHIP, received_at=RECEIVED))
    assert update.update_id == "94dadd60-ed26-46d0-aa52-3ced925a50ff"
    assert update.event_type is TRANSIT
    assert (update.carrier, update.tracking_number) == ("usps", "0000000000000000")
    assert (update.status, update.substatus) == ("InTransit", "InTransit_001")
    assert update.occurred_at == datetime.fromtimestamp(1712741696, tz=UTC)
    assert update.message == "Departed Shipping Partner Facility, USPS Awaiting Item"
    assert update.revises_estimate is False


def aftership_edd_revise(latest: Mapping[str, Any] | None = None, **msg: Any) -> dict[str, Any]:
    """The published tracking_update turned into an edd_revise (hand-made: no published edd_revise body), with
    the documented `latest_estimated_delivery` block."""
    body = copy.deepcopy(AFTERSHIP)
    body["event"] = "edd_revise"
    if latest is not None:
        body["msg"]["latest_estimated_delivery"] = dict(latest)
    body["msg"].update(msg)
    return body


def test_aftership_edd_revise_is_a_delay_candidate_with_the_new_date_and_reason() -> None:
    """Given an edd_revise whose latest estimate moved to a window ending 2024-04-15 because of heavy rain,
    When translated, Then a shipment.delayed marked revises_estimate (the intake compares it with what the
    customer was told), with the window's latest end and the weather reason."""
    body = aftership_edd_revise(
        {
            "type": "specific",
            "source": "AfterShip AI-Predictive EDD",
            "datetime": "2024-04-14T18:00:00+00:00",
            "datetime_max": "2024-04-15T18:00:00+00:00",
            "revise_reason": "heavy_rain",
        }
    )
    update = only_update(translate_aftership(body, received_at=RECEIVED))
    assert update.event_type is DELAYED
    assert update.revises_estimate is True
    assert update.estimated_delivery == datetime(2024, 4, 15, 18, tzinfo=UTC)
    assert update.delay_reason is DelayReason.WEATHER


def test_aftership_edd_revise_falls_back_to_the_predicted_date() -> None:
    """Given an edd_revise with only `aftership_estimated_delivery_date` (older webhook versions), Then its
    date is the estimate, and an unknown revise reason is `other`."""
    body = aftership_edd_revise(aftership_estimated_delivery_date={"estimated_delivery_date": "2024-04-16"})
    update = only_update(translate_aftership(body, received_at=RECEIVED))
    assert update.estimated_delivery == date(2024, 4, 16)
    assert update.delay_reason is DelayReason.OTHER


def test_aftership_edd_revise_without_any_estimate_is_refused() -> None:
    """Given an edd_revise naming no estimated delivery at all, Then refused (there is nothing to revise)."""
    with pytest.raises(IntakeRefused, match="no estimated delivery"):
        translate_aftership(aftership_edd_revise(), received_at=RECEIVED)


def test_shippo_published_delivered_stays_delivered_whatever_the_placeholder_substatus() -> None:
    """Given Shippo's published track_updated (DELIVERED, placeholder substatus information_received),
    When translated, Then delivered with the status's time, words and place as proof, and Shippo's eta."""
    update = only_update(translate_shippo(SHIPPO, received_at=RECEIVED))
    assert update.event_type is DELIVERED
    assert (update.carrier, update.tracking_number) == ("usps", "9205590164917312751089")
    assert update.update_id == "string"  # the sample's placeholder tracking_status.object_id
    assert update.occurred_at == datetime(2016, 7, 23, tzinfo=UTC)
    assert update.message == "Your shipment has been delivered at the destination mailbox."
    assert update.estimated_delivery == datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC)
    assert update.proof is not None
    assert update.proof.location == "Las Vegas NV 89101 US"


def test_onfleet_task_completed_is_delivered_with_photo_proof() -> None:
    """Given the (third-party) taskCompleted example, When translated, Then delivered for tracking number =
    the task's shortId, keyed by task id + trigger, at completionDetails.time, with the photo as a URL."""
    update = only_update(translate_onfleet(ONFLEET_COMPLETED, received_at=RECEIVED))
    assert update.event_type is DELIVERED
    assert (update.carrier, update.tracking_number) == ("Onfleet", "8f983639")
    assert update.update_id == "11z1BFspwhBYDvIH_FrJfWMm:taskCompleted"
    assert update.occurred_at == datetime.fromtimestamp(1779730000, tz=UTC)
    assert update.message == "Delivered at front desk"
    assert update.proof is not None
    assert update.proof.photo_urls == ("https://d15p8tr8p0vffz.cloudfront.net/b5OuQ7t9d1zk5lbqgPyzM3rQ/800x.png",)
    assert (update.proof.latitude, update.proof.longitude) == (None, None)


def onfleet_completed_with(**completion: Any) -> dict[str, Any]:
    body = copy.deepcopy(ONFLEET_COMPLETED)
    body["data"]["task"]["completionDetails"].update(completion)
    return body


def test_onfleet_location_array_is_longitude_then_latitude() -> None:
    """Given a completion at Onfleet's [longitude, latitude] = [-117.8764, 33.8078] (Anaheim) and a signature,
    Then the proof's latitude is 33.8078 and longitude -117.8764 (not swapped), received by the signer."""
    body = onfleet_completed_with(lastLocation=[-117.8764, 33.8078], signatureText="Jane Roe")
    proof = only_update(translate_onfleet(body, received_at=RECEIVED)).proof
    assert proof is not None
    assert (proof.latitude, proof.longitude) == (33.8078, -117.8764)
    assert proof.received_by == "Jane Roe"


def onfleet_failed(reason: str = "NOBODY", notes: str = "") -> dict[str, Any]:
    """A taskFailed built from the taskCompleted example (hand-made: no published taskFailed body)."""
    body = copy.deepcopy(ONFLEET_COMPLETED)
    body["triggerId"], body["triggerName"] = 4, "taskFailed"
    details = body["data"]["task"]["completionDetails"]
    details.update(success=False, failureReason=reason, failureNotes=notes, photoUploadIds=[])
    details.pop("notes")
    return body


def test_onfleet_task_failed_is_a_delivery_attempt_with_the_couriers_words() -> None:
    """Given a taskFailed with the courier's notes, Then a delivery attempt whose reason is the notes; without
    notes, the failureReason in words; with reason NONE and no notes, no reason."""
    update = only_update(translate_onfleet(onfleet_failed(notes="Gate locked, no answer"), received_at=RECEIVED))
    assert update.event_type is ATTEMPTED
    assert update.attempt_reason == "Gate locked, no answer"
    assert (update.status, update.substatus) == ("taskFailed", "NOBODY")
    assert update.update_id == "11z1BFspwhBYDvIH_FrJfWMm:taskFailed"
    assert update.proof is None
    worded = only_update(translate_onfleet(onfleet_failed("RECIPIENT_NOT_AVAILABLE"), received_at=RECEIVED))
    assert worded.attempt_reason == "recipient not available"
    assert only_update(translate_onfleet(onfleet_failed("NONE"), received_at=RECEIVED)).attempt_reason is None


# ---------------------------------------------------------------- every row of each table

EASYPOST_STATUSES = [
    ("in_transit", "unknown", TRANSIT, None),
    ("out_for_delivery", "unknown", OFD, None),
    ("delivered", "unknown", DELIVERED, None),
    ("available_for_pickup", "unknown", ATTEMPTED, None),
    ("return_to_sender", "unknown", EXCEPTION, ExceptionKind.RETURNED_TO_SENDER),
    ("failure", "unknown", EXCEPTION, ExceptionKind.OTHER),
    ("in_transit", "weather_delay", DELAYED, DelayReason.WEATHER),
    ("in_transit", "delayed", DELAYED, DelayReason.CARRIER),
    ("in_transit", "missorted", DELAYED, DelayReason.CARRIER),
    ("in_transit", "transit_exception", DELAYED, DelayReason.CARRIER),
    ("out_for_delivery", "attempted_delivery", ATTEMPTED, None),
    ("failure", "address_correction", EXCEPTION, ExceptionKind.ADDRESS_ISSUE),
    ("failure", "damaged", EXCEPTION, ExceptionKind.DAMAGED),
    ("failure", "lost", EXCEPTION, ExceptionKind.LOST),
    ("failure", "return", EXCEPTION, ExceptionKind.RETURNED_TO_SENDER),
    ("failure", "refused", EXCEPTION, ExceptionKind.OTHER),
    ("delivered", "weather_delay", DELIVERED, None),  # a delivered parcel is delivered whatever the detail
    ("in_transit", "arrived_at_facility", TRANSIT, None),  # a detail with no row keeps the status's meaning
]


def reason_or_kind(update: ShipmentUpdate) -> DelayReason | ExceptionKind | None:
    return update.delay_reason or update.exception_kind


@pytest.mark.parametrize(("status", "detail", "event_type", "refinement"), EASYPOST_STATUSES)
def test_easypost_status_becomes_its_herald_type(
    status: str, detail: str, event_type: EventType, refinement: DelayReason | ExceptionKind | None
) -> None:
    """Given the official Event with this status and status_detail, Then this Herald type (and reason/kind)."""
    update = only_update(translate_easypost(easypost_with(status, detail), received_at=RECEIVED))
    assert update.event_type is event_type
    assert reason_or_kind(update) == refinement


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("pre_transit", "label created"),
        ("unknown", "no tracking information"),
        ("cancelled", "label cancelled"),
        ("error", "could not read the carrier's tracking"),
        ("lost_in_space", "unmapped status 'lost_in_space'"),
    ],
)
def test_easypost_status_no_customer_hears_is_recorded_with_its_reason(status: str, reason: str) -> None:
    """Given a status no customer needs to hear (or one Herald has no row for), Then an update with no type
    and the reason, never a guess."""
    update = only_update(translate_easypost(easypost_with(status), received_at=RECEIVED))
    assert update.event_type is None
    assert update.ignored_reason is not None
    assert reason in update.ignored_reason


AFTERSHIP_TAGS = [
    ("InTransit", "InTransit_007", TRANSIT, None),
    ("OutForDelivery", "OutForDelivery_001", OFD, None),
    ("AttemptFail", "AttemptFail_002", ATTEMPTED, None),
    ("Delivered", "Delivered_003", DELIVERED, None),
    ("AvailableForPickup", "AvailableForPickup_001", ATTEMPTED, None),
    ("Exception", "Exception_001", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_002", EXCEPTION, ExceptionKind.ADDRESS_ISSUE),
    ("Exception", "Exception_003", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_004", DELAYED, DelayReason.CUSTOMS),
    ("Exception", "Exception_005", DELAYED, DelayReason.OTHER),
    ("Exception", "Exception_006", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_007", EXCEPTION, ExceptionKind.ADDRESS_ISSUE),
    ("Exception", "Exception_008", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_009", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_010", EXCEPTION, ExceptionKind.RETURNED_TO_SENDER),
    ("Exception", "Exception_011", EXCEPTION, ExceptionKind.RETURNED_TO_SENDER),
    ("Exception", "Exception_012", EXCEPTION, ExceptionKind.DAMAGED),
    ("Exception", "Exception_013", EXCEPTION, ExceptionKind.LOST),
    ("Exception", "Exception_016", DELAYED, DelayReason.CARRIER),
    ("Exception", "Exception_017", DELAYED, DelayReason.WEATHER),
    ("Exception", "Exception_018", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_019", DELAYED, DelayReason.CARRIER),
    ("Exception", "Exception_020", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_021", EXCEPTION, ExceptionKind.OTHER),
    ("Exception", "Exception_099", EXCEPTION, ExceptionKind.OTHER),  # a subtag added later: the tag's meaning
    ("InTransit", "Exception_013", TRANSIT, None),  # a subtag of another tag does not override the tag
]


def aftership_with(tag: str, subtag: str | None, subtag_message: str = "words") -> dict[str, Any]:
    body = copy.deepcopy(AFTERSHIP)
    body["msg"].update(tag=tag, subtag=subtag, subtag_message=subtag_message)
    return body


@pytest.mark.parametrize(("tag", "subtag", "event_type", "refinement"), AFTERSHIP_TAGS)
def test_aftership_tag_and_subtag_become_their_herald_type(
    tag: str, subtag: str, event_type: EventType, refinement: DelayReason | ExceptionKind | None
) -> None:
    """Given the published tracking_update with this tag/subtag, Then this Herald type (and reason/kind)."""
    update = only_update(translate_aftership(aftership_with(tag, subtag), received_at=RECEIVED))
    assert update.event_type is event_type
    assert reason_or_kind(update) == refinement


def test_aftership_failed_attempt_reason_is_the_subtag_message() -> None:
    """Given AttemptFail_002 "Addressee not available", Then the attempt's reason is those words; AfterShip's
    AvailableForPickup reads as held for pickup."""
    body = aftership_with("AttemptFail", "AttemptFail_002", "Addressee not available")
    assert only_update(translate_aftership(body, received_at=RECEIVED)).attempt_reason == "Addressee not available"
    pickup = aftership_with("AvailableForPickup", "AvailableForPickup_001")
    assert only_update(translate_aftership(pickup, received_at=RECEIVED)).attempt_reason == "held for pickup"


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("Pending", "no carrier information"),
        ("InfoReceived", "label created"),
        ("Expired", "stopped tracking"),
        ("Lost", "unmapped status 'Lost'"),
    ],
)
def test_aftership_tag_no_customer_hears_is_recorded_with_its_reason(tag: str, reason: str) -> None:
    """Given a tag no customer needs to hear (or one Herald has no row for), Then no type and the reason."""
    update = only_update(translate_aftership(aftership_with(tag, f"{tag}_001"), received_at=RECEIVED))
    assert update.event_type is None
    assert update.ignored_reason is not None
    assert reason in update.ignored_reason


def test_aftership_delivered_carries_who_signed_and_where() -> None:
    """Given a Delivered tracking with signed_by and a checkpoint location, Then both are the proof."""
    body = aftership_with("Delivered", "Delivered_003")
    body["msg"]["signed_by"] = "R ROE"
    body["msg"]["checkpoints"][-1].update(city="Brooklyn", state="NY")
    proof = only_update(translate_aftership(body, received_at=RECEIVED)).proof
    assert proof is not None
    assert (proof.received_by, proof.location) == ("R ROE", "Brooklyn NY")


SHIPPO_STATUSES = [
    ("TRANSIT", None, TRANSIT, None),
    ("DELIVERED", None, DELIVERED, None),
    ("RETURNED", None, EXCEPTION, ExceptionKind.RETURNED_TO_SENDER),
    ("FAILURE", None, EXCEPTION, ExceptionKind.OTHER),
    ("TRANSIT", "out_for_delivery", OFD, None),
    ("TRANSIT", "delayed", DELAYED, DelayReason.CARRIER),
    ("TRANSIT", "delivery_attempted", ATTEMPTED, None),
    ("TRANSIT", "notice_left", ATTEMPTED, None),
    ("TRANSIT", "location_inaccessible", ATTEMPTED, None),
    ("TRANSIT", "pickup_available", ATTEMPTED, None),
    ("FAILURE", "address_issue", EXCEPTION, ExceptionKind.ADDRESS_ISSUE),
    ("FAILURE", "package_damaged", EXCEPTION, ExceptionKind.DAMAGED),
    ("FAILURE", "package_lost", EXCEPTION, ExceptionKind.LOST),
    ("FAILURE", "return_to_sender", EXCEPTION, ExceptionKind.RETURNED_TO_SENDER),
    ("TRANSIT", "package_departed", TRANSIT, None),  # a code with no row keeps the status's meaning
    ("DELIVERED", "delayed", DELIVERED, None),  # a delivered parcel is delivered whatever the substatus
]


def shippo_with(status: str, code: str | None) -> dict[str, Any]:
    body = copy.deepcopy(SHIPPO)
    block = body["data"]["tracking_status"]
    block["status"] = status
    block["substatus"] = None if code is None else {"code": code, "text": "words", "action_required": False}
    return body


@pytest.mark.parametrize(("status", "code", "event_type", "refinement"), SHIPPO_STATUSES)
def test_shippo_status_and_substatus_become_their_herald_type(
    status: str, code: str | None, event_type: EventType, refinement: DelayReason | ExceptionKind | None
) -> None:
    """Given the published track_updated with this status/substatus, Then this Herald type (and reason/kind)."""
    update = only_update(translate_shippo(shippo_with(status, code), received_at=RECEIVED))
    assert update.event_type is event_type
    assert reason_or_kind(update) == refinement


@pytest.mark.parametrize(
    ("status", "reason"),
    [("PRE_TRANSIT", "label created"), ("UNKNOWN", "no tracking information"), ("HELD", "unmapped status 'HELD'")],
)
def test_shippo_status_no_customer_hears_is_recorded_with_its_reason(status: str, reason: str) -> None:
    """Given a status no customer needs to hear (or one Herald has no row for), Then no type and the reason."""
    update = only_update(translate_shippo(shippo_with(status, None), received_at=RECEIVED))
    assert update.event_type is None
    assert update.ignored_reason is not None
    assert reason in update.ignored_reason


@pytest.mark.parametrize(
    ("trigger", "event_type", "reason"),
    [
        ("taskStarted", OFD, None),
        ("taskCompleted", DELIVERED, None),
        ("taskFailed", ATTEMPTED, None),
        ("taskEta", None, "not a delivery status"),
        ("taskArrival", None, "not a delivery status"),
        ("taskUpdated", None, "not a delivery status"),
        ("taskTeleported", None, "unmapped status 'taskTeleported'"),
    ],
)
def test_onfleet_trigger_becomes_its_herald_type(trigger: str, event_type: EventType | None, reason: str) -> None:
    """Given the example with this trigger, Then this Herald type, or no type and the reason."""
    body = onfleet_failed() if trigger == "taskFailed" else copy.deepcopy(ONFLEET_COMPLETED)
    body["triggerName"] = trigger
    update = only_update(translate_onfleet(body, received_at=RECEIVED))
    assert update.event_type is event_type
    if reason is None:
        assert update.ignored_reason is None
    else:
        assert update.ignored_reason is not None
        assert reason in update.ignored_reason


# ---------------------------------------------------------------- other events: recorded, not refused


@pytest.mark.parametrize(
    ("translate", "payload", "reason"),
    [
        (translate_easypost, {**EASYPOST_EVENT, "description": "batch.updated"}, "not a tracker update"),
        (translate_aftership, {**AFTERSHIP, "event": "tracking_pending_time"}, "pending-time"),
        (translate_shippo, {**SHIPPO, "event": "transaction_created"}, "not a tracking update"),
        (translate_onfleet, {"triggerName": "workerDuty", "workerId": "w", "data": {"worker": {}}}, "no task"),
    ],
)
def test_documented_events_that_are_not_tracking_updates_are_ignored_not_refused(
    translate: Translator, payload: dict[str, Any], reason: str
) -> None:
    """Given a platform's own event that is not about a parcel's progress, Then nothing to send, with why."""
    translation = translate(payload, received_at=RECEIVED)
    assert translation.updates == ()
    assert len(translation.ignored) == 1
    assert reason in translation.ignored[0]


# ---------------------------------------------------------------- broken payloads


def without(payload: Mapping[str, Any], *path: str) -> dict[str, Any]:
    broken = copy.deepcopy(dict(payload))
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return broken


def replaced(payload: Mapping[str, Any], value: Any, *path: str) -> dict[str, Any]:
    broken = copy.deepcopy(dict(payload))
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return broken


BROKEN: list[tuple[str, Translator, Any, str]] = [
    ("easypost not an object", translate_easypost, ["evt_1"], "not an object"),
    ("easypost not an Event", translate_easypost, replaced(EASYPOST_EVENT, "Tracker", "object"), "not an Event"),
    ("easypost no id", translate_easypost, without(EASYPOST_EVENT, "id"), "Event.id"),
    (
        "easypost result not a Tracker",
        translate_easypost,
        replaced(EASYPOST_EVENT, "Shipment", "result", "object"),
        "not a Tracker",
    ),
    (
        "easypost no tracking code",
        translate_easypost,
        without(EASYPOST_EVENT, "result", "tracking_code"),
        "tracking_code",
    ),
    ("easypost status a number", translate_easypost, replaced(EASYPOST_EVENT, 3, "result", "status"), "status"),
    (
        "easypost scan time without offset",
        translate_easypost,
        replaced(EASYPOST_EVENT, "2024-08-02T18:50:00", "result", "tracking_details", 6, "datetime"),
        "UTC offset",
    ),
    (
        "easypost estimate not a date",
        translate_easypost,
        replaced(EASYPOST_EVENT, "next tuesday", "result", "est_delivery_date"),
        "ISO 8601",
    ),
    (
        "easypost public_url not http",
        translate_easypost,
        replaced(EASYPOST_EVENT, "javascript:alert(1)", "result", "public_url"),
        "tracking_url",
    ),
    ("aftership no event_id", translate_aftership, without(AFTERSHIP, "event_id"), "event_id"),
    ("aftership msg not an object", translate_aftership, replaced(AFTERSHIP, "x", "msg"), "msg is not an object"),
    ("aftership no tag", translate_aftership, without(AFTERSHIP, "msg", "tag"), "msg.tag"),
    ("aftership ts not a number", translate_aftership, replaced(AFTERSHIP, "yesterday", "ts"), "Unix time"),
    (
        "aftership tracking number too long",
        translate_aftership,
        replaced(AFTERSHIP, "9" * 300, "msg", "tracking_number"),
        "tracking_number",
    ),
    ("shippo no data", translate_shippo, without(SHIPPO, "data"), "webhook.data"),
    ("shippo no tracking_status", translate_shippo, without(SHIPPO, "data", "tracking_status"), "tracking_status"),
    ("shippo no object_id", translate_shippo, without(SHIPPO, "data", "tracking_status", "object_id"), "object_id"),
    (
        "shippo status_date garbage",
        translate_shippo,
        replaced(SHIPPO, "soon", "data", "tracking_status", "status_date"),
        "ISO 8601",
    ),
    ("onfleet no shortId", translate_onfleet, without(ONFLEET_COMPLETED, "data", "task", "shortId"), "shortId"),
    ("onfleet no trigger", translate_onfleet, without(ONFLEET_COMPLETED, "triggerName"), "triggerName"),
    (
        "onfleet photo id with a slash",
        translate_onfleet,
        replaced(ONFLEET_COMPLETED, ["../../evil"], "data", "task", "completionDetails", "photoUploadIds"),
        "photo upload id",
    ),
    (
        "onfleet location of three numbers",
        translate_onfleet,
        replaced(ONFLEET_COMPLETED, [1, 2, 3], "data", "task", "completionDetails", "lastLocation"),
        "lastLocation",
    ),
    (
        "onfleet latitude out of range",
        translate_onfleet,
        replaced(ONFLEET_COMPLETED, [33.8, -117.9], "data", "task", "completionDetails", "lastLocation"),
        "latitude",
    ),
    (
        "onfleet completed but not a success",
        translate_onfleet,
        replaced(ONFLEET_COMPLETED, False, "data", "task", "completionDetails", "success"),
        "success is false",
    ),
    (
        "onfleet time not a number",
        translate_onfleet,
        replaced(ONFLEET_COMPLETED, "now", "data", "task", "completionDetails", "time"),
        "Unix time",
    ),
]


@pytest.mark.parametrize(("name", "translate", "payload", "reason"), BROKEN, ids=[case[0] for case in BROKEN])
def test_payload_not_as_documented_is_refused_with_the_reason(
    name: str, translate: Translator, payload: Any, reason: str
) -> None:
    """Given a published payload broken in one place, When translated, Then IntakeRefused naming the place."""
    with pytest.raises(IntakeRefused) as refused:
        translate(payload, received_at=RECEIVED)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("translate", "payload"),
    [
        (translate_easypost, EASYPOST_EVENT),
        (translate_aftership, AFTERSHIP),
        (translate_shippo, SHIPPO),
        (translate_onfleet, ONFLEET_COMPLETED),
    ],
)
def test_translators_do_not_change_the_payload(translate: Translator, payload: dict[str, Any]) -> None:
    """Given a published payload, When translated, Then the caller's object is left as it was (pure)."""
    before = copy.deepcopy(payload)
    translate(payload, received_at=RECEIVED)
    assert payload == before


def test_naive_received_at_is_a_programming_error() -> None:
    """Given a received_at without a timezone (a caller's bug, not the platform's), Then ValueError, not a
    refusal of the platform's payload."""
    with pytest.raises(ValueError, match="timezone-aware") as raised:
        translate_easypost(EASYPOST_EVENT, received_at=datetime(2026, 12, 2))
    assert not isinstance(raised.value, IntakeRefused)
