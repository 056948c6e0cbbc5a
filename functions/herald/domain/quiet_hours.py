"""Quiet hours: a non-urgent SMS that would reach the customer between 21:00 and 08:00 their time waits until 08:00.

Pure: the caller passes the clock. Only SMS is held (an email in the night wakes nobody). Which types may be held
is each type's `urgency` (domain.policy).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from herald.domain.policy import Urgency, policy_for

QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuietHoursDecision:
    """When to send: `release_at` None means now; `reason` says why (also when it is not held)."""

    release_at: datetime | None
    reason: str
    timezone_invalid: bool = False


def decide(
    event_type: str,
    non_urgent: bool,
    timezone: str | None,
    now: datetime,
    window: tuple[time, time] = (QUIET_FROM, QUIET_UNTIL),
) -> QuietHoursDecision:
    """The quiet-hours decision for one SMS, with its reason (for logs and tests).

    `window` is (start, end) in local time: the storefront's (its registry entry), 21:00-08:00 by default. A
    window whose start is after its end spans midnight; start == end means no quiet hours.
    """
    quiet_from, quiet_until = window
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    urgency = policy_for(event_type).urgency
    if urgency is Urgency.NEVER_HELD:
        return QuietHoursDecision(None, f"{event_type} is never held")
    if urgency is Urgency.URGENT and not non_urgent:
        return QuietHoursDecision(None, f"{event_type} is urgent")
    if not timezone:
        return QuietHoursDecision(None, "customer has no timezone")
    try:
        zone = ZoneInfo(timezone)
    # ValueError: not a zone key ("../etc"); OSError: a folder of the tz database ("America", with tzdata installed).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # An unknown zone must not delay a message forever, nor fail the event: send now and say so.
        return QuietHoursDecision(None, f"invalid timezone {timezone!r}: not held", True)
    local = now.astimezone(zone)
    clock = local.time()
    spans_midnight = quiet_from > quiet_until
    quiet = (clock >= quiet_from or clock < quiet_until) if spans_midnight else quiet_from <= clock < quiet_until
    if not quiet:
        return QuietHoursDecision(None, f"{clock:%H:%M} in {timezone} is outside quiet hours")
    release_day = local.date() if clock < quiet_until else local.date() + timedelta(days=1)
    # The end's wall-clock time that day. Built from the date, not by adding hours to `local`, so a DST change
    # in the night moves the release with the clock; converted to UTC so comparisons and arithmetic are exact.
    release = datetime.combine(release_day, quiet_until, tzinfo=zone).astimezone(UTC)
    return QuietHoursDecision(release, f"quiet hours in {timezone}: held until {release_day} {quiet_until:%H:%M} local")


def release_time(
    event_type: str,
    non_urgent: bool,
    timezone: str | None,
    now: datetime,
    window: tuple[time, time] = (QUIET_FROM, QUIET_UNTIL),
) -> datetime | None:
    """When a non-urgent SMS may be sent (UTC), or None to send it now."""
    decision = decide(event_type, non_urgent, timezone, now, window)
    if decision.timezone_invalid:
        _log.warning("quiet hours not applied: %s", decision.reason)
    return decision.release_at
