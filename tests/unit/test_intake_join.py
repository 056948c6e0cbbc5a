"""The intake joins a carrier's or Shopify's report to the order and shipment Herald was told about."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.intake_fakes import MemoryIgnored, MemoryLinks, MemoryPublisher

from herald.contract.event_types import EventType
from herald.contract.parsing import parse_event
from herald.intake.updates import DeliveryProof, OrderUpdate, ShipmentUpdate, Translation
from herald.usecases.intake import IntakeService, LinkRecorder, event_id, tracking_key

EVENTS = Path(__file__).resolve().parents[2] / "events"
SOURCE = "storefront/acme-outdoor"
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def _sample(name: str) -> str:
    return (EVENTS / f"{name}.json").read_text()


def _scan(event_type: EventType | None, **changes: object) -> ShipmentUpdate:
    values: dict[str, object] = {
        "platform": "easypost",
        "update_id": "evt_1",
        "carrier": "UPS",
        "tracking_number": "1z999aa1 0123456784",
        "event_type": event_type,
        "status": "out_for_delivery",
        "occurred_at": datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        "message": "Out for delivery",
    }
    if event_type is None:
        values["ignored_reason"] = "a label was printed"
    values.update(changes)
    return ShipmentUpdate.model_validate(values)


class Join:
    """Both halves of the join over one store: the intake's (accept) and dispatch's (observe)."""

    def __init__(self, links: MemoryLinks, publisher: MemoryPublisher) -> None:
        self.ignored = MemoryIgnored()
        self._intake = IntakeService(links, publisher, self.ignored, clock=lambda: NOW)
        self._recorder = LinkRecorder(links, publisher)
        self.accept = self._intake.accept
        self.observe = self._recorder.observe


@pytest.fixture
def service() -> tuple[Join, MemoryLinks, MemoryPublisher]:
    links, publisher = MemoryLinks(), MemoryPublisher()
    return Join(links, publisher), links, publisher


def test_a_carrier_scan_reaches_the_customer_of_the_shipment_it_names(service):
    # Given the storefront's shipment.created was admitted (its tracking number spelt the carrier's way)
    intake, _, publisher = service
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    # When the carrier reports the parcel out for delivery, spelling the number its own way
    outcome = intake.accept(SOURCE, Translation(updates=(_scan(EventType.SHIPMENT_OUT_FOR_DELIVERY),)))
    # Then one shipment.out_for_delivery is published for that order and customer, and it passes the contract
    (event,) = publisher.events
    parsed = parse_event(json.dumps(event), now=NOW)
    assert parsed.type is EventType.SHIPMENT_OUT_FOR_DELIVERY
    assert parsed.source == SOURCE
    assert parsed.data.order.id == "ord_1001"
    assert parsed.data.customer.email == "jordan.rivera@example.com"
    assert parsed.data.shipment.id == "shp_1001_1"
    assert outcome.published == ["easypost-evt_1"]


def test_a_scan_before_its_shipment_is_parked_and_applied_when_the_shipment_appears(service):
    # Given a delivered scan with proof arrives before Herald heard of the shipment
    intake, links, publisher = service
    proof = DeliveryProof(
        delivered_at=datetime(2026, 11, 2, 15, 4, tzinfo=UTC),
        photo_urls=("https://photos.example/p1.png",),
        latitude=39.74,
        longitude=-104.99,
        received_by="J. Rivera",
    )
    scan = _scan(EventType.SHIPMENT_DELIVERED, update_id="evt_9", status="delivered", proof=proof)
    outcome = intake.accept(SOURCE, Translation(updates=(scan,)))
    # Then nothing is published yet, and the scan is kept
    assert publisher.events == []
    assert len(outcome.waiting) == 1
    # When the storefront's shipment.created is admitted
    released = intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    # Then the parked scan becomes a shipment.delivered with its proof, and is no longer parked
    assert released == ["easypost-evt_9"]
    (event,) = publisher.events
    parsed = parse_event(json.dumps(event), now=NOW)
    assert parsed.type is EventType.SHIPMENT_DELIVERED
    assert str(parsed.data.proof.photo_url) == "https://photos.example/p1.png"
    assert parsed.data.proof.received_by == "J. Rivera"
    assert all(not waiting for waiting in links.waiting.values())
    # And a redelivered shipment.created releases nothing twice
    assert intake.observe(parse_event(_sample("shipment.created"), now=NOW)) == []


def test_an_order_update_gets_the_customer_of_the_order_it_names(service):
    # Given the order was placed through Herald
    intake, _, publisher = service
    intake.observe(parse_event(_sample("order.placed"), now=NOW))
    placed = json.loads(_sample("order.placed"))
    # When Shopify reports a fulfillment for that order id
    update = OrderUpdate(
        platform="shopify",
        update_id="wh-123",
        order_id=placed["data"]["order"]["id"],
        event_type=EventType.SHIPMENT_CREATED,
        occurred_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        data={"shipment": {"id": "ful_1", "carrier": "UPS", "tracking_number": "1Z1"}},
    )
    intake.accept(SOURCE, Translation(order_updates=(update,)))
    # Then a shipment.created with the order's customer is published
    (event,) = publisher.events
    parsed = parse_event(json.dumps(event), now=NOW)
    assert parsed.type is EventType.SHIPMENT_CREATED
    assert parsed.data.customer.email == placed["data"]["customer"]["email"]
    assert parsed.data.shipment.id == "ful_1"


def test_an_ignored_status_is_reported_with_its_reason_and_publishes_nothing(service):
    # Given Herald knows the shipment
    intake, _, publisher = service
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    # When the carrier reports a status no customer needs
    outcome = intake.accept(SOURCE, Translation(updates=(_scan(None, status="pre_transit"),)))
    # Then nothing is published and the reason is said
    assert publisher.events == []
    assert outcome.ignored == ["easypost status 'pre_transit': a label was printed"]


def test_a_revised_estimate_keeps_the_estimate_the_customer_was_told(service):
    # Given the shipment was announced with an estimate
    intake, _, publisher = service
    created = parse_event(_sample("shipment.created"), now=NOW)
    intake.observe(created)
    told = json.loads(_sample("shipment.created"))["data"]["shipment"].get("estimated_delivery")
    assert told is not None
    # When the carrier reports a delay with a later estimate
    scan = _scan(EventType.SHIPMENT_DELAYED, status="in_transit", estimated_delivery=datetime(2026, 11, 9).date())
    intake.accept(SOURCE, Translation(updates=(scan,)))
    # Then the delay names both the new and the previous estimate
    shipment = publisher.events[0]["data"]["shipment"]
    assert shipment["estimated_delivery"] == "2026-11-09"
    assert shipment["previous_estimated_delivery"] == told


def test_one_storefronts_link_is_never_found_by_another():
    # Given storefront A's shipment is known
    links, publisher = MemoryLinks(), MemoryPublisher()
    intake = Join(links, publisher)
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    # When a scan for the same tracking number arrives on storefront B's route
    outcome = intake.accept("storefront/other", Translation(updates=(_scan(EventType.SHIPMENT_IN_TRANSIT),)))
    # Then it is parked for B, and A's customer is told nothing
    assert publisher.events == []
    assert len(outcome.waiting) == 1


def test_tracking_numbers_match_whatever_their_spelling():
    assert tracking_key("1Z 999-aa1") == tracking_key("1z999AA1")


def test_a_long_platform_id_still_gives_a_bounded_stable_event_id():
    long_id = "x" * 300
    assert len(event_id("aftership", long_id)) <= 128
    assert event_id("aftership", long_id) == event_id("aftership", long_id)


def test_a_later_estimate_in_a_scan_is_told_once_as_a_delay(service):
    # Given the customer was told the shipment's estimate
    intake, _, publisher = service
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    told = json.loads(_sample("shipment.created"))["data"]["shipment"]["estimated_delivery"][:10]
    # When an in-transit scan carries a later estimate, and the carrier repeats it in the next scan
    later = datetime(2026, 11, 12).date()
    scan = _scan(EventType.SHIPMENT_IN_TRANSIT, status="in_transit", estimated_delivery=later)
    intake.accept(SOURCE, Translation(updates=(scan,)))
    first = [dict(e) for e in publisher.events]
    for event in first:  # dispatch admits them: the link now holds what the customer was told
        intake.observe(parse_event(json.dumps(event), now=NOW))
    again = _scan(EventType.SHIPMENT_IN_TRANSIT, update_id="evt_2", status="in_transit", estimated_delivery=later)
    intake.accept(SOURCE, Translation(updates=(again,)))
    # Then the first scan became an in-transit notice and one delay naming both days
    types = [e["type"] for e in first]
    assert types == ["shipment.in_transit", "shipment.delayed"]
    delay = parse_event(json.dumps(first[1]), now=NOW)
    assert str(delay.data.shipment.estimated_delivery) == "2026-11-12"
    assert str(delay.data.shipment.previous_estimated_delivery)[:10] == told
    # And the repeated estimate produced no second delay
    assert [e["type"] for e in publisher.events[len(first) :]] == ["shipment.in_transit"]


def test_an_earlier_or_equal_estimate_is_no_delay(service):
    intake, _, publisher = service
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    told = json.loads(_sample("shipment.created"))["data"]["shipment"]["estimated_delivery"]
    same_day = datetime.fromisoformat(told.replace("Z", "+00:00")).date()
    intake.accept(SOURCE, Translation(updates=(_scan(EventType.SHIPMENT_IN_TRANSIT, estimated_delivery=same_day),)))
    assert [e["type"] for e in publisher.events] == ["shipment.in_transit"]


def test_an_estimate_revision_is_a_delay_only_when_later_than_told(service):
    # Given the customer was told an estimate
    intake, _, publisher = service
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    told = json.loads(_sample("shipment.created"))["data"]["shipment"]["estimated_delivery"]
    told_day = datetime.fromisoformat(told.replace("Z", "+00:00")).date()
    revision = {"status": "InTransit", "revises_estimate": True}
    # When the aggregator revises it to the same day, then to a later one
    same = _scan(EventType.SHIPMENT_DELAYED, update_id="edd_1", estimated_delivery=told_day, **revision)
    later = _scan(
        EventType.SHIPMENT_DELAYED, update_id="edd_2", estimated_delivery=datetime(2026, 11, 20).date(), **revision
    )
    outcome = intake.accept(SOURCE, Translation(updates=(same, later)))
    # Then only the later one is told, as a delay naming both days
    (event,) = publisher.events
    assert event["id"] == "easypost-edd_2"
    assert event["data"]["shipment"]["previous_estimated_delivery"] == told
    assert outcome.ignored == ["easypost edd_1: the estimate is not later than told"]


def test_an_id_already_named_after_its_platform_is_not_prefixed_twice():
    assert event_id("shopify", "shopify-order-1-placed") == "shopify-order-1-placed"
    assert event_id("easypost", "evt_1") == "easypost-evt_1"


# --- ignored reports are recorded, where an operator looks ------------------------------------------------------


def test_an_ignored_status_of_a_known_shipment_is_recorded_on_its_order(service):
    """Given Herald knows the shipment (its order ord_1001)
    When the carrier reports a status no customer needs
    Then a record names the platform, the status, the reason and the order, so the order's timeline shows it."""
    intake, _, _ = service
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    intake.accept(SOURCE, Translation(updates=(_scan(None, status="pre_transit", substatus="label"),)))
    (report,) = intake.ignored.reports
    assert (report.source, report.platform, report.report_id) == (SOURCE, "easypost", "evt_1")
    assert (report.status, report.reason) == ("pre_transit (label)", "a label was printed")
    assert report.order_id == json.loads(_sample("shipment.created"))["data"]["order"]["id"]
    assert (report.tracking_number, report.received_at) == ("1z999aa1 0123456784", NOW)


def test_an_ignored_status_of_an_unknown_parcel_is_recorded_without_an_order(service):
    """Given Herald knows no shipment with the scan's tracking number
    When the carrier reports an unmapped status for it
    Then it is recorded for the source with no order (listed by `herald ignored`), and nothing is parked."""
    intake, links, _ = service
    intake.accept(SOURCE, Translation(updates=(_scan(None, status="weird", ignored_reason="unmapped status 'weird'"),)))
    (report,) = intake.ignored.reports
    assert (report.order_id, report.status, report.reason) == (None, "weird", "unmapped status 'weird'")
    assert links.waiting == {}


def test_an_ignored_report_naming_a_known_order_is_recorded_on_it_without_a_shipment_link(service):
    """Given Herald knows the order, but no shipment with the report's fulfillment id
    When Shopify reports a fulfillment event status Herald does not tell, naming the order
    Then the record is on that order."""
    intake, _, _ = service
    intake.observe(parse_event(_sample("order.placed"), now=NOW))
    order_id = json.loads(_sample("order.placed"))["data"]["order"]["id"]
    update = _scan(None, platform="shopify", tracking_number=None, shipment_id="ful_9", order_id=order_id)
    intake.accept(SOURCE, Translation(updates=(update,)))
    assert [r.order_id for r in intake.ignored.reports] == [order_id]


def test_an_estimate_not_later_than_told_is_recorded_on_the_order_with_why(service):
    """Given the customer was told an estimate
    When the aggregator revises it to the same day
    Then nothing is published and the record on the order says the estimate is not later than told."""
    intake, _, publisher = service
    intake.observe(parse_event(_sample("shipment.created"), now=NOW))
    told = json.loads(_sample("shipment.created"))["data"]["shipment"]["estimated_delivery"]
    same = _scan(
        EventType.SHIPMENT_DELAYED,
        update_id="edd_1",
        status="InTransit",
        revises_estimate=True,
        estimated_delivery=datetime.fromisoformat(told).date(),
    )
    intake.accept(SOURCE, Translation(updates=(same,)))
    assert publisher.events == []
    (report,) = intake.ignored.reports
    assert report.report_id == "edd_1"
    assert report.reason == "the revised estimate is not later than the one the customer was told"
    assert report.order_id == json.loads(_sample("shipment.created"))["data"]["order"]["id"]


def test_a_new_estimate_after_a_running_late_notice_is_told_as_a_delay(service):
    # Given the customer was told the shipment is running late: the link holds the promised day as the previous
    # estimate and no new one (usecases.late_delivery.running_late_event)
    intake, _, publisher = service
    created = json.loads(_sample("shipment.created"))
    promised = created["data"]["shipment"].pop("estimated_delivery")
    created["data"]["shipment"]["previous_estimated_delivery"] = promised
    created["id"] = "late-notice"
    intake.observe(parse_event(json.dumps(created), now=NOW))
    # When the carrier then revises its estimate to a later day
    revision = _scan(
        EventType.SHIPMENT_DELAYED,
        update_id="edd_3",
        status="InTransit",
        revises_estimate=True,
        estimated_delivery=datetime(2026, 11, 20).date(),
    )
    outcome = intake.accept(SOURCE, Translation(updates=(revision,)))
    # Then the customer is told the new day, against the promised one
    (event,) = publisher.events
    assert outcome.ignored == []
    assert event["data"]["shipment"]["estimated_delivery"] == "2026-11-20"
    assert event["data"]["shipment"]["previous_estimated_delivery"] == promised
