"""Late deliveries: a promised date that passed with no later notice becomes one "running late" notice.

Dispatch's half (PromiseWatch): every shipment event it notifies that tells the customer a delivery day schedules a
check for the next morning in the customer's time zone (domain.late_delivery). The late-delivery function's half
(LateDeliveryChecks): at that time, if the notice that promised the day is still the shipment's last one, publish
one `shipment.delayed` on the shipment queue, built from the blocks the join recorded for the shipment
(usecases.intake), so dispatch validates, renders and sends it like any other event, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from herald.contract.event_types import EventType
from herald.contract.models import DelayReason, ShipmentData, event_data
from herald.domain.late_delivery import LateCheck, late_check, running_late_event_id, why_not_late
from herald.usecases.intake import ORDER_BLOCKS
from herald.usecases.ports import EventPublisher, IntakeLinks, LateCheckScheduler, LinkKey, ShipmentNotices

if TYPE_CHECKING:
    from herald.contract.models import Envelope
    from herald.domain.shipment_states import ShipmentState


class PromiseWatch:
    """Schedules the check of each promised day a notified shipment event told the customer."""

    def __init__(
        self, scheduler: LateCheckScheduler, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._scheduler = scheduler
        self._clock = clock

    def watch(self, event: Envelope, state: ShipmentState, storefront_timezone: str) -> LateCheck | None:
        """Called once the event has advanced its shipment (it is the shipment's last notice). Raises when the
        check could not be scheduled: the event is redelivered and schedules the same check again."""
        data = event_data(event)
        if not isinstance(data, ShipmentData):
            return None
        check = late_check(
            source=event.source,
            order_id=data.order.id,
            shipment_id=data.shipment.id,
            state=state,
            estimate=data.shipment.estimated_delivery,
            basis_event_id=event.id,
            # The customer's calendar, else the storefront's: its customers mostly live where it sells.
            timezone=data.customer.timezone or storefront_timezone,
            now=self._clock(),
        )
        if check is not None:
            self._scheduler.schedule(check)
        return check


@dataclass(frozen=True)
class LateCheckResult:
    sent: bool
    detail: str
    event_id: str | None = None


class LateDeliveryChecks:
    def __init__(
        self,
        notices: ShipmentNotices,
        links: IntakeLinks,
        publisher: EventPublisher,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._notices = notices
        self._links = links
        self._publisher = publisher
        self._clock = clock

    def run(self, check: LateCheck) -> LateCheckResult:
        """Raises when the notice could not be published: the check is retried from its queue (and the notice's
        id, one per shipment and promised day, keeps a retry from sending twice)."""
        notice = self._notices.last_notice(check.source, check.shipment_id)
        why_not = why_not_late(check, notice.state if notice else None, notice.event_id if notice else None)
        if why_not is not None:
            return LateCheckResult(False, why_not)
        blocks = self._links.find(check.source, LinkKey("shipment", check.shipment_id))
        if blocks is None or "shipment" not in blocks:
            return LateCheckResult(False, "no record of the shipment's order and customer (its records expired)")
        event = running_late_event(check, blocks, self._clock())
        self._publisher.publish([event])
        return LateCheckResult(True, f"promised {check.promised.isoformat()}, not delivered", str(event["id"]))


def running_late_event(check: LateCheck, blocks: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The `shipment.delayed` a passed promise becomes: the promised day as the previous estimate and no new one
    (nobody knows it yet; the message says so), in the blocks the shipment's last event carried."""
    data: dict[str, Any] = {name: blocks[name] for name in ORDER_BLOCKS if name in blocks}
    shipment = {k: v for k, v in blocks["shipment"].items() if k != "estimated_delivery"}
    shipment["previous_estimated_delivery"] = check.promised.isoformat()
    data["shipment"] = shipment
    data["delay"] = {"reason": DelayReason.CARRIER.value}
    return {
        "specversion": "1.0",
        "id": running_late_event_id(check),
        "source": check.source,
        "type": EventType.SHIPMENT_DELAYED.value,
        # Now, not the due time: the notice must pass the shipment's ordering rule after the notice it follows.
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }
