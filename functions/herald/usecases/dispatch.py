"""Dispatch: one storefront event in, one recorded (and usually queued) notification per channel out.

validate -> skip duplicates -> per-shipment ordering -> choose channels -> suppressions -> render -> record
-> enqueue -> finish.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from herald.contract.models import Envelope, EventType, ExceptionData, ExceptionKind, ShipmentData, event_data
from herald.contract.parsing import EventRejected, parse_event
from herald.domain.channel_registry import Renderer, RenderOptions, spec_for
from herald.domain.channels import ChannelDecision, choose_channels, fallback_channels
from herald.domain.notification import Channel, ChannelMessage, notification_id
from herald.domain.phone import PhoneRule, to_e164
from herald.domain.policy import policy_for
from herald.domain.quiet_hours import release_time
from herald.domain.redundancy import DEFAULT_DEADLINE_SECONDS, escalated_at_deadline
from herald.domain.shipment_states import ShipmentState
from herald.domain.storefront import Storefront
from herald.domain.suppression import Suppression, blocks, strength, suppressed_reason
from herald.usecases.ports import (
    ChannelQueue,
    DispatchLedger,
    EventClaim,
    FollowUpQueue,
    LinkKey,
    PlannedNotification,
    Rejection,
    ShipmentPosition,
    StorefrontDirectory,
    SuppressionLookup,
)

if TYPE_CHECKING:
    from herald.usecases.intake import LinkRecorder
    from herald.usecases.late_delivery import PromiseWatch
    from herald.usecases.order_page_links import OrderPageLinks, PageLink

_TYPE_VALUES = frozenset(t.value for t in EventType)


class Outcome(StrEnum):
    DISPATCHED = "dispatched"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"


@dataclass
class DispatchResult:
    """What dispatch decided for one SQS message."""

    message_id: str
    outcome: Outcome
    reason: str | None = None
    event: Envelope | None = None
    rejection: EventRejected | None = None
    messages: list[ChannelMessage] = field(default_factory=list)
    standby: list[Channel] = field(default_factory=list)  # fallback channels recorded in standby

    @property
    def source(self) -> str | None:
        return self.event.source if self.event else (self.rejection.source if self.rejection else None)

    @property
    def event_id(self) -> str | None:
        return self.event.id if self.event else (self.rejection.event_id if self.rejection else None)

    @property
    def event_type(self) -> str | None:
        """The type, when it is one of the contract's (a metric dimension must not take arbitrary input)."""
        if self.event:
            return self.event.type.value
        claimed = self.rejection.event_type if self.rejection else None
        return claimed if claimed in _TYPE_VALUES else None

    @property
    def order_id(self) -> str | None:
        return event_data(self.event).order.id if self.event else None


class Dispatcher:
    def __init__(
        self,
        ledger: DispatchLedger,
        queue: ChannelQueue,
        renderer: Renderer,
        *,
        storefronts: StorefrontDirectory,
        suppressions: SuppressionLookup | None = None,
        followups: FollowUpQueue | None = None,
        deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
        phone: PhoneRule = to_e164,
        intake: LinkRecorder | None = None,
        relays: Collection[str] = (),
        promises: PromiseWatch | None = None,
        pages: OrderPageLinks | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # The intake's join: every admitted event records what later platform reports about it need.
        self._intake = intake
        # Herald's own functions that publish what a platform reported (the intake): they may publish as any
        # registered storefront, since each request they relay was verified with that storefront's secret.
        self._relays = frozenset(relays)
        # A promised delivery day that passes with no later notice gets one "running late" notice.
        self._promises = promises
        # The order's page on Herald, every message's main link (None: a deployment without the page).
        self._pages = pages
        self._ledger = ledger
        self._phone = phone  # how a customer's phone is read (the local runtime also takes Twilio's test numbers)
        self._followups = followups  # None: no deadline escalation (tests, benchmarks of dispatch alone)
        self._deadline = deadline_seconds
        self._queue = queue
        self._renderer = renderer
        self._suppressions = suppressions
        self._storefronts = storefronts
        self._clock = clock

    def plan(self, body: str, message_id: str, sender_id: str | None) -> DispatchResult:
        """Everything up to the enqueue, for one message. Raises only on infrastructure errors.

        `sender_id` is the principal SQS says sent the message (the record's SenderId attribute): it must be one
        of the publishers the event's storefront lists in the registry.
        """
        try:
            event = parse_event(body, now=self._clock())
            # Before the claim: an event refused here must not take the (source, id) of the storefront it
            # pretends to be, or the real event with that id would then be dropped as a duplicate.
            storefront = self._admitted(event, sender_id)
        except EventRejected as rejected:
            self._ledger.record_rejection(
                Rejection(
                    rejected.source,
                    rejected.event_id,
                    rejected.event_type,
                    rejected.reason,
                    message_id,
                    self._clock(),
                )
            )
            return DispatchResult(message_id, Outcome.REJECTED, rejected.reason, rejection=rejected)

        links = self._intake.links(event) if self._intake is not None else {}
        if self._intake is not None:
            # Before the claim, so that a redelivered copy (a duplicate) still releases what was parked after the
            # first copy was dispatched; releasing twice publishes nothing twice.
            self._intake.release(event.source, links)
        claim = self._ledger.begin_event(event, self._clock())
        if claim is EventClaim.DUPLICATE:
            return DispatchResult(message_id, Outcome.DUPLICATE, "event already dispatched", event)

        page = self._pages.prepare(event) if self._pages is not None else None
        position = self._shipment_position(event)
        unchanged = False
        if position is not None:
            position = replace(position, records_digest=self._records_digest(links, page))
            advance = self._ledger.advance_shipment(position)
            if advance.superseded:
                self._ledger.finish_event(event, Outcome.SUPERSEDED, advance.superseded, self._clock())
                return DispatchResult(message_id, Outcome.SUPERSEDED, advance.superseded, event)
            # A resumed dispatch may have stored the digest and crashed before writing: it always writes.
            unchanged = advance.records_unchanged and claim is EventClaim.NEW
            if self._promises is not None:
                # Now the shipment's last notice: if it promised a day, check the morning after that day.
                self._promises.watch(event, position.state, storefront.timezone)
        if not unchanged:
            # After the claim and the shipment's ordering: a duplicate or a superseded event is not the one whose
            # blocks later reports and the page should read; a resumed one writes them again (the same items).
            if self._intake is not None:
                self._intake.record(event.source, links)
            if self._pages is not None and page is not None:
                self._pages.record(page)

        page_url = page.url if page is not None else None
        data = event_data(event)
        preferred = data.notify.channels if data.notify else None
        decisions = choose_channels(event.type, data.customer, preferred, phone=self._phone)
        fallbacks = (
            fallback_channels(data.customer, decisions, phone=self._phone) if policy_for(event.type).fallback else []
        )
        blocked = self._suppressed(event, [*decisions, *fallbacks])
        planned = [
            PlannedNotification(
                None,
                decision.channel,
                event.id,
                suppressed_reason(blocked[decision.channel]),
                suppressed_by=blocked[decision.channel],
            )
            if decision.channel in blocked
            else self._plan_one(event, decision, storefront, page_url)
            for decision in decisions
        ]
        # A suppressed fallback is simply not kept: it could never be sent.
        planned += [
            replace(self._plan_one(event, fallback, storefront, page_url), standby=True)
            for fallback in fallbacks
            if fallback.channel not in blocked
        ]
        pending = self._ledger.record_notifications(event, planned, self._clock())
        standby = [p.channel for p in planned if p.standby]
        return DispatchResult(message_id, Outcome.DISPATCHED, None, event, messages=pending, standby=standby)

    def complete(self, results: Sequence[DispatchResult]) -> set[str]:
        """Enqueue every planned message in batches, then finish the events whose messages all went out.

        Returns the SQS message ids of the events to redeliver (an enqueue failed): their dispatch is
        resumed on redelivery, and the send side's claim keeps a re-enqueued message from sending twice.
        """
        failed_notifications = self._queue.enqueue([m for r in results for m in r.messages])
        failed_notifications |= self._schedule_deadlines(results)
        redeliver = set()
        for result in results:
            if result.outcome is not Outcome.DISPATCHED or result.event is None:
                continue
            if any(m.notification_id in failed_notifications for m in result.messages):
                redeliver.add(result.message_id)
            else:
                self._ledger.finish_event(result.event, Outcome.DISPATCHED, None, self._clock())
        return redeliver

    def _records_digest(self, links: Mapping[LinkKey, Any], page: PageLink | None) -> str | None:
        """What the join's and the page's records of this event hold, as a digest, with the day: a shipment's
        records unchanged since its last event are not written again, yet renewed once a day (their expiry
        follows the shipment's latest event, a day at most behind). None when dispatch keeps neither."""
        if not links and page is None:
            return None
        kept = {
            "links": sorted([[link.kind, link.value, blocks] for link, blocks in links.items()], key=str),
            "page": [page.token, page.record.source, page.record.order_id, page.record.blocks] if page else None,
            "day": int(self._clock().timestamp()) // 86_400,
        }
        return hashlib.sha256(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]

    def _schedule_deadlines(self, results: Sequence[DispatchResult]) -> set[str]:
        """A delayed deadline check for each message of an event that must be confirmed (an order confirmation):
        the follow-up function escalates it then if no channel has reported delivery. No function waits."""
        if self._followups is None:
            return set()
        due = [m for r in results for m in r.messages if escalated_at_deadline(m.event_type)]
        return self._followups.schedule_deadlines(due, self._deadline) if due else set()

    def _shipment_position(self, event: Envelope) -> ShipmentPosition | None:
        """The state a shipment event moves its shipment to (None for an order or return event)."""
        step = policy_for(event.type).shipment
        if step is None:
            return None
        data = event_data(event)
        assert isinstance(data, ShipmentData)  # every shipment.* type carries data.shipment
        # A return to sender is its own state (the one notice after delivered): the exception's kind says so.
        returned = isinstance(data, ExceptionData) and data.exception.kind is ExceptionKind.RETURNED_TO_SENDER
        state = ShipmentState.RETURNED if returned else step.state
        return ShipmentPosition(
            source=event.source, shipment_id=data.shipment.id, state=state, time=event.time, event_id=event.id
        )

    def _suppressed(self, event: Envelope, decisions: Sequence[ChannelDecision]) -> dict[Channel, Suppression]:
        """The channels a suppression stops for this event, each with the suppression that stops it.

        One read for all channels; only suppressions that apply to this event type count (domain.suppression:
        an unsubscribe does not stop an order confirmation email, STOP stops every SMS).
        """
        recipients = {d.channel: d.recipient for d in decisions if d.send and d.recipient is not None}
        if self._suppressions is None or not recipients:
            return {}
        found = self._suppressions.suppressions(event.source, recipients)
        blocked = {}
        for channel, suppressions in found.items():
            stopping = [s for s in suppressions if blocks(s, event.type.value)]
            if stopping:
                # The strongest first (an undeliverable address over an unsubscribe), so the reason is the real one.
                blocked[channel] = max(stopping, key=lambda s: strength(s.signal))
        return blocked

    def _admitted(self, event: Envelope, sender_id: str | None) -> Storefront:
        """The event's storefront, when it is registered and the sender may publish as it; else EventRejected."""
        storefront = self._storefronts.get(event.source)
        if storefront is None:
            raise EventRejected(
                f"source {event.source!r} is not a registered storefront (herald stores add)",
                source=event.source,
                event_id=event.id,
                event_type=event.type.value,
            )
        relayed = bool(sender_id) and str(sender_id).split(":", 1)[0] in self._relays
        if not relayed and not storefront.publisher_allowed(sender_id):
            raise EventRejected(
                f"publisher {sender_id or '(unknown)'} may not publish as {event.source!r}",
                source=event.source,
                event_id=event.id,
                event_type=event.type.value,
            )
        return storefront

    def _plan_one(
        self, event: Envelope, decision: ChannelDecision, storefront: Storefront, page_url: str | None = None
    ) -> PlannedNotification:
        if not decision.send or decision.recipient is None:
            return PlannedNotification(None, decision.channel, event.id, decision.skipped_reason)
        data = event_data(event)
        spec = spec_for(decision.channel)
        not_before = None
        if spec.quiet_hours:
            # Quiet hours: a non-urgent message in the customer's night is queued now with a "not before" time;
            # the sender keeps it invisible on the queue until then (no function waits).
            non_urgent = data.notify.non_urgent if data.notify else False
            # The customer's time zone, else the storefront's: its customers mostly live where it sells.
            release = release_time(
                event.type.value,
                non_urgent,
                data.customer.timezone or storefront.timezone,
                self._clock(),
                (storefront.quiet_hours.start, storefront.quiet_hours.end),
            )
            not_before = release.isoformat() if release else None
        # Validated from fields: the content goes under the field its channel names (email, sms, or a newer one's).
        message = ChannelMessage.model_validate(
            {
                "notification_id": notification_id(event.source, event.id, decision.channel),
                "channel": decision.channel,
                "source": event.source,
                "event_id": event.id,
                "event_type": event.type.value,
                "event_time": event.time.isoformat(),
                "order_id": data.order.id,
                "order_number": data.order.number,
                "to": decision.recipient,
                spec.content_field: spec.render(self._renderer, event, RenderOptions(storefront, page_url)),
                "not_before": not_before,
            }
        )
        return PlannedNotification(message, decision.channel, event.id)
