"""The sample events in events/: valid, consistent, rejected where they should be, SQS copies up to date."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from herald.contract.models import EventType, event_data
from herald.contract.parsing import EventRejected, parse_event
from herald_tools.contract import samples
from herald_tools.local.directives import directive_of

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
DEMO = EVENTS_DIR / "demo" / "lifecycle.jsonl"
TYPES = [t.value for t in EventType]


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return document


def urls(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in urls(v)]
    return [value] if isinstance(value, str) and "://" in value else []


@pytest.mark.parametrize("event_type", TYPES)
def test_each_event_type_has_a_valid_sample(event_type: str) -> None:
    # Given events/<type>.json / When parsed with the contract / Then it is an event of that type
    event = parse_event((EVENTS_DIR / f"{event_type}.json").read_bytes())
    assert event.type.value == event_type


@pytest.mark.parametrize("event_type", TYPES)
def test_samples_tell_of_the_same_order_customer_and_store(event_type: str) -> None:
    # Given one sample / When parsed
    event = parse_event((EVENTS_DIR / f"{event_type}.json").read_bytes())
    data = event_data(event)
    # Then it is about order #1001 of acme-outdoor, for a customer reachable on both channels
    assert event.source == "storefront/acme-outdoor"
    assert (data.order.id, data.order.number) == ("ord_1001", "#1001")
    assert data.customer.email == "jordan.rivera@example.com"
    assert (data.customer.phone, data.customer.sms_consent) == ("+15005550006", True)
    assert data.store is not None
    assert all((data.store.name, data.store.support_email, data.store.support_url, data.store.logo_url))
    # And every link in it is https
    assert all(u.startswith("https://") for u in urls(load(f"{event_type}.json"))), urls(load(f"{event_type}.json"))


def test_sample_event_ids_are_unique() -> None:
    # Given the 14 samples / Then no two share an idempotency key
    keys = [(load(f"{t}.json")["source"], load(f"{t}.json")["id"]) for t in TYPES]
    assert len(set(keys)) == len(keys)


def test_the_delivered_sample_carries_the_proof_of_delivery() -> None:
    # Given the shipment.delivered sample / When parsed
    proof = event_data(parse_event((EVENTS_DIR / "shipment.delivered.json").read_bytes())).proof  # type: ignore[attr-defined]
    # Then it has a photo and a position for the map link
    assert str(proof.photo_url).startswith("https://")
    assert (proof.latitude, proof.longitude) == (39.7392, -104.9903)


INVALID_REASONS = {
    "bad-json.json": "body is not valid JSON",
    "missing-order.json": "invalid order.placed event: data.order: Field required",
    "unknown-type.json": "unknown event type 'order.shipped'",
    "wrong-specversion.json": "invalid order.placed event: specversion: Input should be '1.0'",
    "email-crlf.json": "invalid order.placed event: data.customer.email: Value error, is not an email address",
    "no-email-no-phone.json": "at least one of email or phone is required",
    "http-tracking-url.json": "data.shipment.tracking_url: Value error, must be an https URL",
    "time-without-offset.json": "time: Input should have timezone info",
}


def test_every_invalid_sample_has_an_expected_reason() -> None:
    # Given events/invalid / Then each file is listed here with the reason it must be rejected for
    assert sorted(p.name for p in (EVENTS_DIR / "invalid").glob("*.json")) == sorted(INVALID_REASONS)


@pytest.mark.parametrize("name", sorted(INVALID_REASONS))
def test_each_invalid_sample_is_rejected_with_its_reason(name: str) -> None:
    # Given an invalid sample / When parsed / Then it is rejected, and the reason says why
    with pytest.raises(EventRejected) as rejected:
        parse_event((EVENTS_DIR / "invalid" / name).read_bytes())
    assert INVALID_REASONS[name] in rejected.value.reason


def test_html_in_a_name_is_valid_and_kept_as_text() -> None:
    # Given a customer and an item named with HTML / When parsed
    data = event_data(parse_event((EVENTS_DIR / "edge" / "html-in-name.order.placed.json").read_bytes()))
    # Then the event is accepted and the text is kept as is (templates escape it when rendering)
    assert data.customer.name is not None
    assert "<script>alert(1)</script>" in data.customer.name
    assert "<img src=x onerror=alert(1)>" in data.order.items[0].name


def test_a_national_phone_with_a_country_is_valid() -> None:
    # Given a customer phone in national format and the shipping country / When parsed / Then accepted as given
    data = event_data(parse_event((EVENTS_DIR / "edge" / "national-phone.order.placed.json").read_bytes()))
    assert (data.customer.phone, data.customer.country) == ("(303) 555-0187", "US")


# --- the demo's story ----------------------------------------------------------------------------


def demo_lines() -> list[str]:
    """The story's events, in order; its stage directives (an outage, a customer's STOP) are not events."""
    return [line for line in DEMO.read_text().splitlines() if directive_of(line) is None]


def test_demo_stage_directives_are_the_ones_the_readme_describes() -> None:
    # Given the story's directive lines / When read
    # Then STOP, an outage, waits on the circuit's conditions and a recovery, in that order, then the platform
    # stories: Shopify through EventBridge and over HTTPS, the carriers' signed webhooks
    directives = [d for line in DEMO.read_text().splitlines() if (d := directive_of(line)) is not None]
    kinds = [next(k for k in d if k not in ("note", "story")) for d in directives]
    platform_steps = ["eventbridge", "webhook", "webhook", "webhook", "webhook", "webhook", "eventbridge", "webhook"]
    assert kinds == ["customer_texts", "outage", "until", "recover", "until", "until", *platform_steps]
    assert [d["until"] for d in directives if "until" in d] == ["circuit_open", "probe_due", "circuit_closed"]
    readme = (EVENTS_DIR / "demo" / "README.md").read_text()
    for kind in {*kinds, *(d["until"] for d in directives if "until" in d)}:
        assert f"`{kind}`" in readme or f'`"{kind}"`' in readme


def demo_events() -> dict[int, Any]:
    """Line number (1-based) -> parsed event, for the lines the contract accepts."""
    parsed = {}
    for number, line in enumerate(demo_lines(), 1):
        try:
            parsed[number] = parse_event(line)
        except EventRejected:
            continue
    return parsed


def test_demo_story_has_31_events_and_exactly_the_two_invalid_ones_are_rejected() -> None:
    # Given the demo's JSON Lines / When each line is parsed
    rejected = {}
    for number, line in enumerate(demo_lines(), 1):
        try:
            parse_event(line)
        except EventRejected as exc:
            rejected[number] = exc.reason
    # Then 31 events, and only the unknown type (7) and the missing customer (10) are rejected
    assert len(demo_lines()) == 31
    assert rejected == {
        7: "unknown event type 'order.shipped'",
        10: "invalid order.cancelled event: data.customer: Field required",
    }


def test_demo_story_is_in_time_order_except_the_duplicate_and_the_superseded_scan() -> None:
    # Given the accepted demo events, but line 6 (line 1 published again) and line 17
    events = demo_events()
    times: list[datetime] = [events[n].time for n in sorted(events) if n not in (6, 17)]
    # Then publication follows event time, and line 17 is an in_transit older than the delivery on line 16
    assert times == sorted(times)
    assert events[16].type is EventType.SHIPMENT_DELIVERED
    assert events[17].type is EventType.SHIPMENT_IN_TRANSIT
    assert events[17].time < events[16].time
    assert event_data(events[17]).shipment.id == event_data(events[16]).shipment.id  # type: ignore[attr-defined]


def test_demo_story_holds_each_case_the_readme_describes() -> None:
    # Given the accepted demo events
    events = demo_events()
    by_line = {n: (e.type.value, event_data(e).order.number) for n, e in events.items()}
    # Then the story of each order is there, in order
    assert [v for n, v in sorted(by_line.items()) if v[1] == "#1001"] == [
        ("order.placed", "#1001"),
        ("order.placed", "#1001"),
        ("shipment.created", "#1001"),
        ("shipment.in_transit", "#1001"),
        ("shipment.in_transit", "#1001"),
        ("shipment.delayed", "#1001"),
        ("shipment.out_for_delivery", "#1001"),
        ("shipment.delivered", "#1001"),
        ("shipment.in_transit", "#1001"),
    ]
    assert [t for t, number in by_line.values() if number == "#1002"] == [
        "order.placed",
        "order.backordered",
        "order.cancelled",
    ]
    assert [t for t, number in by_line.values() if number == "#1003"] == [
        "order.placed",
        "return.requested",
        "return.approved",
        "return.received",
        "return.refunded",
    ]
    # And line 6 is line 1 again (same source and id), the delay is the weather's, the delivery has a photo
    assert demo_lines()[5] == demo_lines()[0]
    assert events[6].key == events[1].key
    assert event_data(events[14]).delay.reason == "weather"  # type: ignore[attr-defined]
    assert event_data(events[16]).proof.photo_url is not None  # type: ignore[attr-defined]
    # And #1004 consents to SMS on Twilio's opted-out test number, #1005 does not consent
    c1004 = event_data(events[4]).customer
    assert (c1004.phone, c1004.sms_consent) == ("+15005550004", True)
    c1005 = event_data(events[5]).customer
    assert (event_data(events[5]).order.number, c1005.sms_consent) == ("#1005", False)


def test_demo_readme_describes_every_line() -> None:
    # Given the demo README / Then it has one table row per line of the story
    readme = (EVENTS_DIR / "demo" / "README.md").read_text()
    for number in range(1, len(demo_lines()) + 1):
        assert f"\n| {number} | " in readme


# --- the SQS-wrapped copies -----------------------------------------------------------------------


def test_sqs_copies_are_up_to_date() -> None:
    # Given events/sqs / When compared with what the samples generate / Then nothing is stale
    stale = samples.stale_files(EVENTS_DIR)
    assert stale == [], f"events/sqs is stale ({stale}): run `python -m herald_tools.contract.samples` and commit it"


@pytest.mark.parametrize("event_type", TYPES)
def test_each_sqs_copy_is_a_lambda_sqs_event_on_the_right_queue(event_type: str) -> None:
    # Given the SQS copy of a sample
    (record,) = json.loads((EVENTS_DIR / "sqs" / f"{event_type}.json").read_text())["Records"]
    # Then it has the shape Lambda gives an SQS-triggered function, and carries the sample
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["eventSource"] == "aws:sqs"
    queue = "herald-shipment-events" if event_type.startswith("shipment.") else "herald-order-events"
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:123456789012:{queue}"
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
    assert record["messageAttributes"]["type"]["stringValue"] == event_type
    assert json.loads(record["body"]) == load(f"{event_type}.json")
    assert parse_event(record["body"]).type.value == event_type


def test_the_mixed_batch_holds_valid_and_invalid_messages_with_distinct_ids() -> None:
    # Given the mixed batch for the order events queue
    records = json.loads((EVENTS_DIR / "sqs" / "batch.order-events.json").read_text())["Records"]
    outcomes = []
    for record in records:
        try:
            parse_event(record["body"])
            outcomes.append("ok")
        except EventRejected:
            outcomes.append("rejected")
    # Then it mixes both, one message id each
    assert outcomes == ["ok", "rejected", "ok", "rejected", "ok"]
    assert len({r["messageId"] for r in records}) == len(records)


def test_samples_check_fails_when_a_sample_changed_without_regenerating(tmp_path: Path) -> None:
    # Given a copy of events/ in which one sample was edited after generating
    copy = tmp_path / "events"
    shutil.copytree(EVENTS_DIR, copy)
    event = json.loads((copy / "order.placed.json").read_text())
    event["id"] = "evt_edited"
    (copy / "order.placed.json").write_text(json.dumps(event))
    # When checked / Then the copy of that sample and the batch that holds it are stale, and --check fails
    assert samples.stale_files(copy) == ["batch.order-events.json", "order.placed.json"]
    assert samples._main(["--check", "--events", str(copy)]) == 1
    # And regenerating fixes it
    samples._main(["--events", str(copy)])
    assert samples._main(["--check", "--events", str(copy)]) == 0
    assert "evt_edited" in (copy / "sqs" / "order.placed.json").read_text()
