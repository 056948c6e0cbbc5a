"""Quiet hours: which SMS wait, and until when, in several timezones, with a frozen clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from herald.domain.quiet_hours import decide, release_time


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "now", "expected"),
    [
        # 23:00 EST (UTC-5) -> 08:00 EST the next morning.
        ("America/New_York", utc(2026, 11, 28, 4), utc(2026, 11, 28, 13)),
        # 02:30 EST: already past midnight -> 08:00 the same local day.
        ("America/New_York", utc(2026, 11, 28, 7, 30), utc(2026, 11, 28, 13)),
        # East of UTC: 21:30 in Tokyo (UTC+9, no DST) is 12:30 UTC -> 08:00 JST = 23:00 UTC.
        ("Asia/Tokyo", utc(2026, 6, 1, 12, 30), utc(2026, 6, 1, 23)),
        # East of UTC with a half-hour offset: 07:59 in Kolkata (UTC+5:30) -> 08:00 there, a minute later.
        ("Asia/Kolkata", utc(2026, 6, 1, 2, 29), utc(2026, 6, 1, 2, 30)),
        # Europe, summer time (UTC+2): 21:00 sharp is already quiet.
        ("Europe/Berlin", utc(2026, 7, 10, 19), utc(2026, 7, 11, 6)),
    ],
)
def test_non_urgent_sms_in_the_customers_night_is_held_until_eight_local(
    timezone: str, now: datetime, expected: datetime
) -> None:
    # Given a non-urgent type and a customer whose local time is in 21:00-08:00
    # When the release time is computed
    released = release_time("shipment.in_transit", False, timezone, now)
    # Then it is 08:00 that customer's time
    assert released == expected


@pytest.mark.parametrize(
    ("timezone", "now"),
    [
        ("America/New_York", utc(2026, 11, 28, 13)),  # 08:00 sharp: quiet hours are over
        ("America/New_York", utc(2026, 11, 28, 1, 59)),  # 20:59
        ("Asia/Tokyo", utc(2026, 6, 1, 3)),  # 12:00 in Tokyo while it is 03:00 UTC
        ("Australia/Sydney", utc(2026, 6, 1, 0)),  # 10:00 in Sydney
    ],
)
def test_non_urgent_sms_in_the_customers_day_is_sent_now(timezone: str, now: datetime) -> None:
    # Given a non-urgent type at a daytime hour for the customer / When decided / Then it goes now
    assert release_time("return.requested", False, timezone, now) is None


def test_release_follows_the_clock_on_the_night_summer_time_starts() -> None:
    # Given New York on 2026-03-08, when clocks jump from 02:00 to 03:00 (EST -> EDT), at 23:00 EST the evening before
    now = utc(2026, 3, 8, 4)  # 23:00 EST on 2026-03-07
    # When the release time is computed
    released = release_time("return.received", False, "America/New_York", now)
    # Then it is 08:00 EDT (12:00 UTC): 9 wall-clock hours later but only 8 real hours
    assert released == utc(2026, 3, 8, 12)


def test_release_follows_the_clock_on_the_night_summer_time_ends() -> None:
    # Given London on 2026-10-25, when clocks fall back from 02:00 BST to 01:00 GMT, at 01:30 (twice that night)
    now = utc(2026, 10, 25, 1, 30)  # 01:30 GMT, the second 01:30
    # When the release time is computed
    released = release_time("shipment.in_transit", False, "Europe/London", now)
    # Then it is 08:00 GMT, which is 08:00 UTC
    assert released == utc(2026, 10, 25, 8)


def test_storefront_marked_non_urgent_sms_is_held() -> None:
    # Given a shipment.created (urgent by default) that the storefront marked non-urgent, at 23:00 in New York
    now = utc(2026, 11, 28, 4)
    # When decided with and without the mark
    marked = release_time("shipment.created", True, "America/New_York", now)
    unmarked = release_time("shipment.created", False, "America/New_York", now)
    # Then only the marked one waits until 08:00
    assert (marked, unmarked) == (utc(2026, 11, 28, 13), None)


@pytest.mark.parametrize(
    "event_type",
    [
        "order.placed",
        "shipment.out_for_delivery",
        "shipment.delivery_attempted",
        "shipment.delivered",
        "shipment.exception",
    ],
)
def test_urgent_types_are_never_held_even_when_marked_non_urgent(event_type: str) -> None:
    # Given a type the customer waits for, marked non-urgent, at 23:00 in New York
    decision = decide(event_type, True, "America/New_York", utc(2026, 11, 28, 4))
    # Then it goes now, and the reason says why
    assert decision.release_at is None
    assert decision.reason == f"{event_type} is never held"


def test_customer_without_timezone_is_not_held() -> None:
    # Given a non-urgent type and no timezone / When decided / Then it goes now
    decision = decide("shipment.in_transit", False, None, utc(2026, 11, 28, 4))
    assert (decision.release_at, decision.reason) == (None, "customer has no timezone")


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "../etc/passwd", "America"])
def test_invalid_timezone_sends_now_and_says_so(timezone: str, caplog: pytest.LogCaptureFixture) -> None:
    # Given a non-urgent type in the night and a timezone that is not an IANA zone
    with caplog.at_level(logging.WARNING, logger="herald.domain.quiet_hours"):
        # When the release time is computed
        released = release_time("shipment.in_transit", False, timezone, utc(2026, 11, 28, 4))
    # Then it is sent now, and a warning names the zone
    assert released is None
    assert decide("shipment.in_transit", False, timezone, utc(2026, 11, 28, 4)).timezone_invalid
    assert [r.getMessage() for r in caplog.records] == [
        f"quiet hours not applied: invalid timezone {timezone!r}: not held"
    ]


def test_naive_clock_is_refused() -> None:
    # Given a clock without a timezone / When decided / Then it is an error, not a guess
    with pytest.raises(ValueError, match="timezone-aware"):
        release_time("shipment.in_transit", False, "Europe/Paris", datetime(2026, 11, 28, 23))
