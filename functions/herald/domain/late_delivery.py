"""A promised delivery date that passes: one "running late" notice the next morning, unless the customer heard more.

When a shipment notice tells the customer a day ("estimated delivery: Thursday"), Herald schedules a check for
the next morning in the customer's time zone. At that time the check sends one `shipment.delayed` if that notice
is still the last one the customer had: any later notice (out for delivery, delivered, an exception, a delay with
a new date) cancels it, because it moved the shipment on. No function waits: the check is a one-time schedule
(adapters.scheduler_late_checks), and the rule it applies is here.

Decisions (docs/decisions.md, 2026-12-02):
- "Later notice" is a later *notified* state of the shipment (the ledger's position, domain.shipment_states): a
  repeated in-transit scan that the customer never heard of does not cancel the check, since the customer's last
  word is still the promised day.
- The check is bound to the notice that scheduled it (its basis): each notified event with an estimate schedules
  its own check, and at most one of them (the latest notice's) can still match the shipment's position.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict

from herald.domain.shipment_states import ShipmentState

# The morning after the promised day, in the customer's time zone: after quiet hours (08:00 by default), early
# enough that the customer hears of it before they start wondering.
RUNNING_LATE_AT = time(9, 0)
# Notices after which nothing more is promised: no check is scheduled.
_FINAL_STATES = frozenset({ShipmentState.DELIVERED, ShipmentState.RETURNED})
# A promise whose morning passed longer ago than this when Herald heard of it (a backfill, a replayed history, a
# stale estimate on a late scan) gets no notice: "running late" a day after the morning it was due helps nobody,
# and the notice the customer is getting now already speaks of the parcel.
STALE_AFTER = timedelta(hours=24)
_MAX_EVENT_ID = 128  # the contract's bound


class LateCheck(BaseModel):
    """A scheduled check: is `basis_event_id` still the last notice of the shipment the morning after `promised`?"""

    model_config = ConfigDict(frozen=True)

    source: str
    order_id: str
    shipment_id: str
    promised: date
    basis_event_id: str
    due: AwareDatetime
    timezone: str  # the zone the promised day was read in (the customer's, else the storefront's)


def zone_of(name: str | None) -> tuple[ZoneInfo, str]:
    """The zone named, or UTC when the name is missing or not a zone (a bad zone must not lose the check)."""
    if not name:
        return ZoneInfo("UTC"), "UTC"
    try:
        return ZoneInfo(name), name
    # ValueError: not a zone key ("../etc"); OSError: a folder of the tz database ("America").
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC"), "UTC"  # named in the check, so an operator sees which zone was used


def promised_day(estimate: datetime | date, zone: ZoneInfo) -> date:
    """The day the customer was told, as they read it: an instant is read on their own calendar."""
    if isinstance(estimate, datetime):
        return estimate.astimezone(zone).date()
    return estimate


def check_due(promised: date, zone: ZoneInfo) -> datetime:
    """The morning after the promised day, in UTC. Built from the date, so a DST change moves it with the clock."""
    return datetime.combine(promised + timedelta(days=1), RUNNING_LATE_AT, tzinfo=zone).astimezone(UTC)


def late_check(
    *,
    source: str,
    order_id: str,
    shipment_id: str,
    state: ShipmentState,
    estimate: datetime | date | None,
    basis_event_id: str,
    timezone: str | None,
    now: datetime,
) -> LateCheck | None:
    """The check a notified shipment event schedules, or None when it promises nothing (no estimate, or final) or
    its morning passed more than STALE_AFTER before `now`."""
    if estimate is None or state in _FINAL_STATES:
        return None
    zone, zone_name = zone_of(timezone)
    promised = promised_day(estimate, zone)
    if check_due(promised, zone) < now - STALE_AFTER:
        return None
    return LateCheck(
        source=source,
        order_id=order_id,
        shipment_id=shipment_id,
        promised=promised,
        basis_event_id=basis_event_id,
        due=check_due(promised, zone),
        timezone=zone_name,
    )


def why_not_late(check: LateCheck, state: ShipmentState | None, last_event_id: str | None) -> str | None:
    """Why the check sends nothing, or None when the customer must hear the shipment is running late."""
    if state is None:
        return "the shipment is no longer known (its records expired)"
    if last_event_id != check.basis_event_id:
        return f"a later notice ({state.value}) came after the one that promised {check.promised.isoformat()}"
    if state in _FINAL_STATES:
        return f"the shipment is {state.value}"
    return None


def schedule_name(check: LateCheck) -> str:
    """The one-time schedule's name: one per (storefront, shipment, promised day, basis), within Scheduler's 64
    characters of [0-9A-Za-z-_.]; the same check scheduled again (a redelivered event) gets the same name."""
    parts = "\n".join((check.source, check.shipment_id, check.promised.isoformat(), check.basis_event_id))
    return f"late-{hashlib.sha256(parts.encode()).hexdigest()[:48]}"


def running_late_event_id(check: LateCheck) -> str:
    """The notice's event id: one per shipment and promised day, whichever check sends it (dispatch sends an id
    once), readable by an operator when it fits the contract's bound."""
    readable = f"late-{check.shipment_id}-{check.promised.isoformat()}"
    if len(readable) <= _MAX_EVENT_ID:
        return readable
    digest = hashlib.sha256(f"{check.shipment_id}\n{check.promised.isoformat()}".encode()).hexdigest()
    return f"late-sha256-{digest}"
