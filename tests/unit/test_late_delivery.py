"""A promised delivery day that passes: the check's timing (domain.late_delivery), dispatch scheduling it
(usecases.late_delivery.PromiseWatch) and the check's verdict (LateDeliveryChecks), over in-memory ports."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.intake_fakes import MemoryLinks, MemoryPublisher

from herald.contract.parsing import parse_event
from herald.domain.late_delivery import (
    LateCheck,
    check_due,
    late_check,
    promised_day,
    running_late_event_id,
    schedule_name,
    why_not_late,
    zone_of,
)
from herald.domain.shipment_states import ShipmentState
from herald.usecases.late_delivery import LateDeliveryChecks, PromiseWatch
from herald.usecases.ports import LinkKey, ShipmentNotice

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
DENVER = ZoneInfo("America/Denver")


def _check(**changes: Any) -> LateCheck:
    values: dict[str, Any] = {
        "source": "storefront/acme-outdoor",
        "order_id": "ord_1001",
        "shipment_id": "shp_1001_1",
        "promised": date(2026, 12, 3),
        "basis_event_id": "evt_scan",
        "due": datetime(2026, 12, 4, 16, 0, tzinfo=UTC),
        "timezone": "America/Denver",
    }
    return LateCheck(**(values | changes))


# --- when the check falls due ----------------------------------------------------------------------------


def test_the_check_falls_due_at_nine_the_next_morning_on_the_customers_clock() -> None:
    # Given a promise of Thursday 3 December for a customer in Denver (UTC-7 in winter)
    # When its check's time is computed
    due = check_due(date(2026, 12, 3), DENVER)
    # Then it is Friday 09:00 in Denver, 16:00 UTC
    assert due == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


def test_the_morning_moves_with_the_clock_across_a_dst_change() -> None:
    # Given a promise of Saturday 7 March 2026 in Denver, the night before clocks spring forward
    # When its check's time is computed
    due = check_due(date(2026, 3, 7), DENVER)
    # Then it is 09:00 MDT on Sunday (UTC-6), not 09:00 MST
    assert due == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_a_promised_instant_is_read_on_the_customers_calendar() -> None:
    # Given a promise of 03:00 UTC on 4 December (still 3 December, 20:00, in Denver)
    estimate = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    # Then the customer was promised the 3rd
    assert promised_day(estimate, DENVER) == date(2026, 12, 3)
    assert promised_day(date(2026, 12, 3), DENVER) == date(2026, 12, 3)


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus", "../etc/passwd", "America"])
def test_a_missing_or_invalid_zone_reads_the_promise_in_utc_and_says_so(name: str | None) -> None:
    # When a check is made with that zone
    check = late_check(
        source="s",
        order_id="o",
        shipment_id="p",
        state=ShipmentState.IN_TRANSIT,
        estimate=date(2026, 12, 3),
        basis_event_id="e",
        timezone=name,
        now=NOW,
    )
    # Then it is not lost: it falls due at 09:00 UTC and names the zone it used
    assert check is not None
    assert (check.due, check.timezone) == (datetime(2026, 12, 4, 9, 0, tzinfo=UTC), "UTC")
    assert zone_of(name)[1] == "UTC"


@pytest.mark.parametrize(
    ("state", "estimate", "expected"),
    [
        (ShipmentState.IN_TRANSIT, None, False),  # nothing promised
        (ShipmentState.DELIVERED, date(2026, 12, 3), False),  # nothing left to promise
        (ShipmentState.RETURNED, date(2026, 12, 3), False),
        (ShipmentState.CREATED, date(2026, 12, 3), True),
        (ShipmentState.IN_TRANSIT, date(2026, 12, 3), True),
        (ShipmentState.OUT_FOR_DELIVERY, date(2026, 12, 3), True),
        (ShipmentState.DELAYED, date(2026, 12, 5), True),  # a delay's new date is a new promise
        (ShipmentState.EXCEPTION, date(2026, 12, 5), True),
    ],
)
def test_only_a_notice_that_promises_a_day_and_is_not_final_schedules_a_check(
    state: ShipmentState, estimate: date | None, expected: bool
) -> None:
    check = late_check(
        source="s",
        order_id="o",
        shipment_id="p",
        state=state,
        estimate=estimate,
        basis_event_id="e",
        timezone=None,
        now=NOW,
    )
    assert (check is not None) == expected


# --- the verdict -----------------------------------------------------------------------------------------


def test_the_check_sends_only_when_the_promising_notice_is_still_the_last() -> None:
    check = _check()
    # Still the last notice, in transit: the customer must hear of it
    assert why_not_late(check, ShipmentState.IN_TRANSIT, "evt_scan") is None
    # A later notice (out for delivery, a delay with a new day, a delivery) cancels it
    assert "later notice (out_for_delivery)" in str(why_not_late(check, ShipmentState.OUT_FOR_DELIVERY, "evt_ofd"))
    assert "later notice (delivered)" in str(why_not_late(check, ShipmentState.DELIVERED, "evt_done"))
    # A shipment Herald no longer knows: nothing to tell, and said
    assert "no longer known" in str(why_not_late(check, None, None))


def test_schedule_names_fit_schedulers_rules_and_differ_per_basis() -> None:
    # Given two checks of one promise, scheduled by two notices
    first, second = _check(basis_event_id="evt_created"), _check(basis_event_id="evt_scan")
    # Then each has its own name, within Scheduler's 64 characters of [0-9A-Za-z-_.]
    for check in (first, second):
        assert re.fullmatch(r"[0-9A-Za-z\-_.]{1,64}", schedule_name(check))
    assert schedule_name(first) != schedule_name(second)
    assert schedule_name(first) == schedule_name(_check(basis_event_id="evt_created"))


def test_the_notice_has_one_id_per_shipment_and_promised_day_within_the_contracts_bound() -> None:
    # Then two checks of one promise give the notice one id (dispatch sends an id once)
    assert running_late_event_id(_check(basis_event_id="a")) == running_late_event_id(_check(basis_event_id="b"))
    assert running_late_event_id(_check()) == "late-shp_1001_1-2026-12-03"
    # And a long shipment id is hashed within 128 characters
    long_id = running_late_event_id(_check(shipment_id="s" * 200))
    assert len(long_id) <= 128
    assert long_id.startswith("late-sha256-")


# --- dispatch's half: PromiseWatch ------------------------------------------------------------------------


class RecordingScheduler:
    def __init__(self) -> None:
        self.checks: list[LateCheck] = []

    def schedule(self, check: LateCheck) -> None:
        self.checks.append(check)


def _event(event_type: str, **shipment: Any) -> Any:
    raw = json.loads((EVENTS / f"{event_type}.json").read_text())
    raw["data"]["shipment"].update(shipment)
    return parse_event(json.dumps(raw), now=datetime.fromisoformat(raw["time"].replace("Z", "+00:00")))


def test_a_notified_scan_with_an_estimate_schedules_its_check_in_the_customers_zone() -> None:
    # Given the sample in-transit scan, promising 3 December to a customer in Denver
    scheduler = RecordingScheduler()
    event = _event("shipment.in_transit", estimated_delivery="2026-12-03")
    # When dispatch has notified it
    check = PromiseWatch(scheduler, clock=lambda: NOW).watch(event, ShipmentState.IN_TRANSIT, "America/New_York")
    # Then its check falls due on the 4th at 09:00 in Denver (the customer's zone, not the storefront's)
    assert scheduler.checks == [check]
    assert check is not None
    assert (check.basis_event_id, check.promised, check.timezone) == (event.id, date(2026, 12, 3), "America/Denver")
    assert check.due == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


def test_a_notice_without_an_estimate_or_a_delivery_schedules_nothing() -> None:
    scheduler = RecordingScheduler()
    watch = PromiseWatch(scheduler, clock=lambda: NOW)
    assert watch.watch(_event("shipment.in_transit", estimated_delivery=None), ShipmentState.IN_TRANSIT, "UTC") is None
    assert watch.watch(_event("shipment.delivered"), ShipmentState.DELIVERED, "UTC") is None
    assert scheduler.checks == []


# --- the function's half: LateDeliveryChecks ---------------------------------------------------------------


class Notices:
    def __init__(self, notice: ShipmentNotice | None) -> None:
        self.notice = notice

    def last_notice(self, source: str, shipment_id: str) -> ShipmentNotice | None:
        return self.notice


def _links_of(event_type: str = "shipment.in_transit") -> MemoryLinks:
    """The join's links as dispatch records them from the sample scan."""
    raw = json.loads((EVENTS / f"{event_type}.json").read_text())
    links = MemoryLinks()
    data = raw["data"]
    blocks = {name: data[name] for name in ("order", "customer", "store", "shipment") if name in data}
    blocks["shipment"]["estimated_delivery"] = "2026-12-03"
    links.record(raw["source"], LinkKey("shipment", data["shipment"]["id"]), blocks)
    return links


def test_a_passed_promise_becomes_one_delay_notice_naming_the_promised_day() -> None:
    # Given the scan that promised the 3rd is still the shipment's last notice
    publisher = MemoryPublisher()
    checks = LateDeliveryChecks(
        Notices(ShipmentNotice(ShipmentState.IN_TRANSIT, "evt_scan")), _links_of(), publisher, clock=lambda: NOW
    )
    # When its check runs
    result = checks.run(_check())
    # Then one shipment.delayed is published for the customer, the promised day as the previous estimate and
    # no new one (nobody knows it yet)
    assert result.sent
    assert result.event_id == "late-shp_1001_1-2026-12-03"
    (event,) = publisher.events
    assert (event["type"], event["id"], event["source"]) == (
        "shipment.delayed",
        "late-shp_1001_1-2026-12-03",
        "storefront/acme-outdoor",
    )
    shipment = event["data"]["shipment"]
    assert shipment["previous_estimated_delivery"] == "2026-12-03"
    assert "estimated_delivery" not in shipment
    assert event["data"]["customer"]["email"] == "jordan.rivera@example.com"
    assert event["data"]["delay"] == {"reason": "carrier"}
    # And it is a valid Herald event, as dispatch will check
    assert parse_event(json.dumps(event), now=NOW).id == event["id"]


@pytest.mark.parametrize(
    ("notice", "reason"),
    [
        (ShipmentNotice(ShipmentState.OUT_FOR_DELIVERY, "evt_ofd"), "later notice"),
        (ShipmentNotice(ShipmentState.DELIVERED, "evt_done"), "later notice"),
        (None, "no longer known"),
    ],
)
def test_a_later_notice_or_a_forgotten_shipment_publishes_nothing(notice: ShipmentNotice | None, reason: str) -> None:
    publisher = MemoryPublisher()
    result = LateDeliveryChecks(Notices(notice), _links_of(), publisher, clock=lambda: NOW).run(_check())
    assert not result.sent
    assert reason in result.detail
    assert publisher.events == []


def test_a_check_without_the_shipments_links_publishes_nothing_and_says_why() -> None:
    publisher = MemoryPublisher()
    checks = LateDeliveryChecks(
        Notices(ShipmentNotice(ShipmentState.IN_TRANSIT, "evt_scan")), MemoryLinks(), publisher, clock=lambda: NOW
    )
    result = checks.run(_check())
    assert not result.sent
    assert "no record" in result.detail
    assert publisher.events == []


def test_a_promise_whose_morning_passed_a_day_before_herald_heard_of_it_gets_no_check() -> None:
    # Given notices promising 3 December (due the 4th, 09:00 in Denver, 16:00 UTC)
    def check_at(now: datetime) -> LateCheck | None:
        return late_check(
            source="s",
            order_id="o",
            shipment_id="p",
            state=ShipmentState.IN_TRANSIT,
            estimate=date(2026, 12, 3),
            basis_event_id="e",
            timezone="America/Denver",
            now=now,
        )

    due = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    # Then heard of before, or within a day after, its morning, it is checked (at once when already due)
    assert check_at(due - timedelta(days=2)) is not None
    assert check_at(due + timedelta(hours=23)) is not None
    # And heard of later (a backfill, a replayed history), it is not: the notice would help nobody
    assert check_at(due + timedelta(hours=25)) is None
