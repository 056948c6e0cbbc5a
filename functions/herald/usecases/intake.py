"""Intake: join what a platform reported to the order or shipment Herald was told about, and publish the events.

A carrier knows a parcel's tracking number, Shopify's later webhooks know an order's or a fulfillment's id; only
the storefront's own events (or Shopify's `orders/create`) say who the customer is. So every Herald event that
dispatch admits is observed here: its blocks (order, customer, store, shipment) are recorded under the order id,
the shipment id and the tracking number, and a report that later names one of them becomes a complete Herald
event, published on the event queues and validated by dispatch like any other.

A report that arrives first (a scan before the storefront reported the fulfillment) is parked under what it
names and released by the event that records that link: it is kept, never dropped (adapters.dynamodb_intake).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from herald.contract.event_types import EventType
from herald.contract.models import DelayReason, ExceptionKind
from herald.intake.updates import OrderUpdate, ShipmentUpdate, Translation
from herald.usecases.ports import (
    EventPublisher,
    EventsRefused,
    IgnoredReport,
    IgnoredReports,
    IntakeLinks,
    LinkKey,
    Parked,
)

if TYPE_CHECKING:
    from herald.contract.models import Envelope

# The blocks every Herald event about an order carries, kept from the event that told Herald about it.
ORDER_BLOCKS = ("order", "customer", "store", "notify")
_MAX_EVENT_ID = 128  # the contract's bound
_NOT_LATER = "the revised estimate is not later than the one the customer was told"


def tracking_key(tracking_number: str) -> str:
    """A tracking number as every platform may spell it: carriers and storefronts differ in case, spaces and
    dashes ("1Z 999-AA1" and "1z999aa1" are one parcel)."""
    return re.sub(r"[^0-9A-Za-z]", "", tracking_number).upper() or tracking_number


@dataclass
class IntakeOutcome:
    """What became of one platform request: published event ids, parked reports, ignored ones with why."""

    published: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # parked until their order or shipment is known
    ignored: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"published": self.published, "parked": self.waiting, "ignored": self.ignored}


class IntakeService:
    def __init__(
        self,
        links: IntakeLinks,
        publisher: EventPublisher,
        ignored: IgnoredReports,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._links = links
        self._publisher = publisher
        self._ignored = ignored
        self._clock = clock

    def accept(self, source: str, translation: Translation) -> IntakeOutcome:
        """Publish what can be joined now, park the rest. Raises when the queue refused (the platform retries:
        every event id is derived from the platform's own ids, so a retry publishes the same events)."""
        outcome = IntakeOutcome(ignored=list(translation.ignored))
        events: list[dict[str, Any]] = [dict(event) for event in translation.events]
        revisions: list[tuple[LinkKey, ShipmentUpdate]] = []  # the delays derived from revised estimates
        for order_update in translation.order_updates:
            link = LinkKey("order", order_update.order_id)
            blocks = self._links.find(source, link)
            if blocks is None:
                self._park(source, link, order_update, outcome)
            else:
                events.append(order_update_event(source, order_update, blocks))
        for update in translation.updates:
            if update.event_type is None:
                reason = update.ignored_reason or "no Herald type"
                outcome.ignored.append(f"{update.platform} status {update.status!r}: {reason}")
                self._record_ignored(source, update, reason, self._find(source, update, with_order=True))
                continue
            links = shipment_links(update)
            blocks = self._find(source, update)
            if blocks is None:
                self._park(source, links[0], update, outcome)
                continue
            if update.revises_estimate and not _later_than_told(update, blocks):
                # An estimate revision (AfterShip's edd_revise) is a delay only when it is later than what the
                # customer was told; an earlier or equal one has nothing to tell.
                outcome.ignored.append(f"{update.platform} {update.update_id}: the estimate is not later than told")
                self._record_ignored(source, update, _NOT_LATER, blocks)
                continue
            events.append(shipment_update_event(source, update, blocks))
            delay = revised_estimate(update, blocks)
            if delay is not None:
                events.append(shipment_update_event(source, delay, blocks))
                revisions.append((links[0], delay))
        if events:
            self._publish(source, events, revisions)
            outcome.published.extend(str(event["id"]) for event in events)
        return outcome

    def _publish(
        self, source: str, events: list[dict[str, Any]], revisions: list[tuple[LinkKey, ShipmentUpdate]]
    ) -> None:
        """Publish the events; when the queue refuses a revision's delay, park it under its link before raising.

        A revision's delay is derived from the estimate the customer was told, which dispatch re-records from the
        scan the delay came with: once the scan is admitted, the platform's retry no longer derives the delay. So
        a refused delay waits under its link, and dispatch releases it when it next sees an event of that
        shipment (the scan, or the retry's copy of it, which dispatch observes before dropping as a duplicate).
        Its id is the same either way: if the retry derives it again, dispatch tells it once.
        """
        try:
            self._publisher.publish(events)
        except EventsRefused as refused:
            for link, delay in revisions:
                if event_id(delay.platform, delay.update_id) in refused.refused_ids:
                    self._links.park(source, link, Parked(delay.update_id, f"shipment:{delay.model_dump_json()}"))
            raise

    def _find(self, source: str, update: ShipmentUpdate, *, with_order: bool = False) -> dict[str, Any] | None:
        """The blocks of the first link the update names that Herald knows (its order's too, for a record only: an
        update to be told needs its shipment)."""
        links = shipment_links(update)
        if with_order and update.order_id:
            links.append(LinkKey("order", update.order_id))
        return next((b for b in (self._links.find(source, link) for link in links) if b is not None), None)

    def _record_ignored(
        self, source: str, update: ShipmentUpdate, reason: str, blocks: Mapping[str, Any] | None
    ) -> None:
        """Where an operator asking "why was the customer not told of this scan?" looks: on the order's timeline
        when the join knows the order, else with the source's other ignored reports."""
        order_id = (blocks or {}).get("order", {}).get("id")
        self._ignored.record_ignored(
            IgnoredReport(
                source=source,
                platform=update.platform,
                report_id=update.update_id,
                reason=reason,
                received_at=self._clock(),
                status=f"{update.status} ({update.substatus})" if update.substatus else update.status,
                order_id=str(order_id) if order_id else None,
                tracking_number=update.tracking_number,
                shipment_id=update.shipment_id,
            )
        )

    def _park(self, source: str, link: LinkKey, update: OrderUpdate | ShipmentUpdate, outcome: IntakeOutcome) -> None:
        kind = "order" if isinstance(update, OrderUpdate) else "shipment"
        self._links.park(source, link, Parked(update.update_id, f"{kind}:{update.model_dump_json()}"))
        outcome.waiting.append(f"{update.platform} {update.update_id}: waiting for its {link.kind} {link.value}")


class LinkRecorder:
    """Dispatch's half of the join: what each admitted event tells later reports, and the reports it releases.

    Apart from IntakeService so that dispatch's code (and so its IAM grants) records links and releases parked
    reports, but never parks one.
    """

    def __init__(self, links: IntakeLinks, publisher: EventPublisher) -> None:
        self._links = links
        self._publisher = publisher

    def observe(self, event: Envelope) -> list[str]:
        """Record what later reports about this event's order and shipment need, and publish the reports that
        were waiting for it. Idempotent: a redelivered event records the same links and finds nothing parked."""
        links = self.links(event)
        self.record(event.source, links)
        return self.release(event.source, links)

    def links(self, event: Envelope) -> dict[LinkKey, dict[str, Any]]:
        """The links the event keeps, each with its blocks (no I/O): the order's holds no shipment, since a report
        naming the order (a return) is about the order."""
        from herald.contract.models import event_data

        model = event_data(event)
        data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
        blocks = {name: data[name] for name in ORDER_BLOCKS if name in data}
        links = [LinkKey("order", model.order.id)]
        if "shipment" in data:
            blocks["shipment"] = data["shipment"]
            links = [*shipment_links_of(data["shipment"]), *links]
        order_blocks = {k: v for k, v in blocks.items() if k != "shipment"}
        return {link: blocks if link.kind != "order" else order_blocks for link in links}

    def record(self, source: str, links: Mapping[LinkKey, Mapping[str, Any]]) -> None:
        """Write an event's `links` (dispatch skips it when the shipment's last event kept the same ones)."""
        for link, link_blocks in links.items():
            self._links.record(source, link, link_blocks)

    def release(self, source: str, links: Mapping[LinkKey, Mapping[str, Any]]) -> list[str]:
        """Publish the reports parked under an event's `links` (dispatch calls it before its claim, so that a
        redelivered copy of an event releases what was parked after the first copy was dispatched)."""
        released: list[str] = []
        for link, link_blocks in links.items():
            waiting = self._links.parked(source, link)
            if not waiting:
                continue
            events = [_parked_event(source, parked, link_blocks) for parked in waiting]
            self._publisher.publish(events)
            for parked in waiting:
                self._links.unpark(source, link, parked.update_id)
            released.extend(str(e["id"]) for e in events)
        return released


def shipment_links(update: ShipmentUpdate) -> list[LinkKey]:
    """What a shipment update may be found by, the most specific first."""
    links = []
    if update.tracking_number:
        links.append(LinkKey("tracking", tracking_key(update.tracking_number)))
    if update.shipment_id:
        links.append(LinkKey("shipment", update.shipment_id))
    return links


def shipment_links_of(shipment: Mapping[str, Any]) -> list[LinkKey]:
    links = [LinkKey("shipment", str(shipment["id"]))]
    if shipment.get("tracking_number"):
        links.append(LinkKey("tracking", tracking_key(str(shipment["tracking_number"]))))
    return links


def event_id(platform: str, update_id: str) -> str:
    """The Herald event id of a platform's report: the same report always gives the same id (dispatch's
    idempotency stops a platform's retry), bounded as the contract asks."""
    # Ids a translator already named after its platform (Shopify's `shopify-order-<id>-placed`) are kept as they are.
    candidate = update_id if update_id.startswith(f"{platform}-") else f"{platform}-{update_id}"
    if len(candidate) <= _MAX_EVENT_ID:
        return candidate
    return f"{platform}-sha256-{hashlib.sha256(update_id.encode()).hexdigest()}"


def _envelope(source: str, event_type: EventType, platform: str, update_id: str, when: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id(platform, update_id),
        "source": source,
        "type": event_type.value,
        "time": when.isoformat(),
        "datacontenttype": "application/json",
    }


def order_update_event(source: str, update: OrderUpdate, blocks: Mapping[str, Any]) -> dict[str, Any]:
    data = {name: blocks[name] for name in ORDER_BLOCKS if name in blocks}
    data.update(update.data)
    return {**_envelope(source, update.event_type, update.platform, update.update_id, update.occurred_at), "data": data}


def _iso(value: datetime | date) -> str:
    return value.isoformat()


def shipment_update_event(source: str, update: ShipmentUpdate, blocks: Mapping[str, Any]) -> dict[str, Any]:
    """A carrier's report as the Herald event about the shipment it was joined to."""
    assert update.event_type is not None  # ignored updates never reach here (IntakeService.accept)
    data: dict[str, Any] = {name: blocks[name] for name in ORDER_BLOCKS if name in blocks}
    shipment = dict(blocks["shipment"])
    if update.tracking_url and update.tracking_url.startswith("https://") and not shipment.get("tracking_url"):
        shipment["tracking_url"] = update.tracking_url
    if update.estimated_delivery is not None:
        told = shipment.get("estimated_delivery")
        shipment["estimated_delivery"] = _iso(update.estimated_delivery)
        if told and told != shipment["estimated_delivery"]:
            shipment["previous_estimated_delivery"] = told
    data["shipment"] = shipment
    detail = update.message
    if update.event_type is EventType.SHIPMENT_DELAYED:
        data["delay"] = _without_none({"reason": (update.delay_reason or DelayReason.CARRIER).value, "detail": detail})
    elif update.event_type is EventType.SHIPMENT_EXCEPTION:
        kind = update.exception_kind or ExceptionKind.OTHER
        data["exception"] = _without_none({"kind": kind.value, "detail": detail})
    elif update.event_type is EventType.SHIPMENT_DELIVERY_ATTEMPTED:
        data["attempt"] = _without_none({"reason": update.attempt_reason or detail})
    elif update.event_type is EventType.SHIPMENT_DELIVERED:
        proof = update.proof
        data["proof"] = _without_none(
            {
                "delivered_at": _iso(proof.delivered_at if proof else update.occurred_at),
                "photo_url": proof.photo_urls[0] if proof and proof.photo_urls else None,
                "latitude": proof.latitude if proof else None,
                "longitude": proof.longitude if proof else None,
                "location": proof.location if proof else None,
                "received_by": proof.received_by if proof else None,
            }
        )
    envelope = _envelope(source, update.event_type, update.platform, update.update_id, update.occurred_at)
    return {**envelope, "data": data}


def revised_estimate(update: ShipmentUpdate, blocks: Mapping[str, Any]) -> ShipmentUpdate | None:
    """The `shipment.delayed` update when the carrier's new estimate is a later day than the one the customer was
    told (its event: `shipment_update_event`).

    "Told" is the estimate in the link, which dispatch re-records from every event it admits (this delay
    included), so each later revision is told once: the event id names the tracking number and the new day, and a
    carrier repeating the same estimate gives the same id, which dispatch does not send twice. A report that is
    itself a delay, or a delivery, says it already.
    """
    if update.event_type in _NO_REVISION_NOTICE or not _later_than_told(update, blocks):
        return None
    assert update.estimated_delivery is not None  # _later_than_told holds only with one
    new_day = _iso(update.estimated_delivery)[:10]
    return update.model_copy(
        update={
            "event_type": EventType.SHIPMENT_DELAYED,
            "update_id": f"edd-{tracking_key(update.tracking_number or update.shipment_id or '')}-{new_day}",
            "delay_reason": update.delay_reason or DelayReason.CARRIER,
            "message": update.message or f"The carrier now expects to deliver on {new_day}.",
        }
    )


def _later_than_told(update: ShipmentUpdate, blocks: Mapping[str, Any]) -> bool:
    """Whether the update's estimate falls on a later day than the one the customer was told (the link's).

    After a "running late" notice (usecases.late_delivery) the link holds no estimate, only the promised day as the
    previous one: the customer was last told that day, so a carrier's new estimate is compared with it.
    """
    shipment = blocks.get("shipment", {})
    told = shipment.get("estimated_delivery") or shipment.get("previous_estimated_delivery")
    if update.estimated_delivery is None or not told:
        return False
    return _iso(update.estimated_delivery)[:10] > str(told)[:10]


_NO_REVISION_NOTICE = frozenset({EventType.SHIPMENT_DELAYED, EventType.SHIPMENT_DELIVERED})


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _parked_event(source: str, parked: Parked, blocks: Mapping[str, Any]) -> dict[str, Any]:
    kind, _, body = parked.body.partition(":")
    if kind == "order":
        return order_update_event(source, OrderUpdate.model_validate_json(body), blocks)
    return shipment_update_event(source, ShipmentUpdate.model_validate_json(body), blocks)
