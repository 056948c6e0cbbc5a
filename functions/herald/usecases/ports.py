"""The small ports the use cases talk through. One adapter per vendor implements each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from herald.domain.notification import Channel, ChannelMessage, NotificationStatus
from herald.domain.redundancy import FollowUpRequest
from herald.domain.shipment_states import ShipmentState
from herald.domain.suppression import Suppression

if TYPE_CHECKING:  # the senders share these ports and never load the contract models
    from herald.contract.models import Envelope
    from herald.domain.late_delivery import LateCheck
    from herald.domain.outbound import OutboundEvent
    from herald.domain.storefront import Storefront


class EventClaim(StrEnum):
    NEW = "new"  # first time we see (source, id)
    RESUME = "resume"  # seen, but its dispatch did not finish (a crash or a failed enqueue): finish it
    DUPLICATE = "duplicate"  # already dispatched: nothing to do


@dataclass(frozen=True)
class PlannedNotification:
    """A notification dispatch decided on: queued for sending, or skipped (or suppressed) with the reason."""

    message: ChannelMessage | None
    channel: Channel
    event_id: str
    skipped_reason: str | None = None
    # Set when the recipient's suppression stopped it: recorded as `suppressed`, not `skipped`.
    suppressed_by: Suppression | None = None
    # A fallback channel: recorded as `standby` with its rendered message, queued only if the event's other
    # channel fails (domain.redundancy).
    standby: bool = False


@dataclass(frozen=True)
class Rejection:
    source: str | None
    event_id: str | None
    event_type: str | None
    reason: str
    message_id: str  # the SQS message id: the only identity a body that is not JSON has
    received_at: datetime


@dataclass(frozen=True)
class ShipmentPosition:
    """The state an event moves its shipment to, for the per-shipment ordering rule (domain.shipment_states)."""

    source: str
    shipment_id: str
    state: ShipmentState
    time: datetime
    event_id: str
    # A digest of the records dispatch keeps beside the notifications (the join's LINK# blocks, the order page's
    # record): kept on the shipment's state item, so the next event of the shipment learns from the write it makes
    # anyway whether they changed, and skips rewriting them (a write that changes nothing still costs one).
    records_digest: str | None = None


@dataclass(frozen=True)
class ShipmentAdvance:
    """What moving a shipment's state said: why the event is superseded (None: it advanced), and whether the
    shipment's previous advance kept the same records digest (its records need no rewrite)."""

    superseded: str | None = None
    records_unchanged: bool = False


@dataclass(frozen=True)
class Claim:
    claimed: bool
    status: NotificationStatus | None  # the status found when the claim was refused
    attempts: int
    lease_remaining_seconds: int = 0
    error_code: str | None = None  # refused because it failed: the provider's code recorded then


class StorefrontDirectory(Protocol):
    """The storefront registry (adapters.ssm_storefronts; domain.storefront.StaticStorefronts in tests)."""

    def get(self, source: str) -> Storefront | None:
        """The entry of `source`, or None when it is not registered. Raises when the registry cannot answer."""
        ...


class DispatchLedger(Protocol):
    def begin_event(self, event: Envelope, now: datetime) -> EventClaim: ...
    def record_rejection(self, rejection: Rejection) -> None: ...
    def advance_shipment(self, position: ShipmentPosition) -> ShipmentAdvance:
        """Move the shipment to `position` (and keep its records digest); or say why the event is superseded."""
        ...

    def record_notifications(
        self, event: Envelope, planned: Sequence[PlannedNotification], now: datetime
    ) -> list[ChannelMessage]:
        """Record each planned notification once; return the messages still waiting to be sent."""
        ...

    def finish_event(self, event: Envelope, outcome: str, reason: str | None, now: datetime) -> None: ...


class NotificationLedger(Protocol):
    def claim(self, message: ChannelMessage, *, lease_seconds: int, now: datetime) -> Claim: ...
    def mark_sent(self, message: ChannelMessage, accepted: Accepted, *, now: datetime) -> None: ...
    def mark_failed(self, message: ChannelMessage, *, code: str, reason: str, now: datetime) -> None: ...
    def mark_retrying(self, message: ChannelMessage, *, code: str, reason: str, final: bool, now: datetime) -> None: ...


class SuppressionLookup(Protocol):
    def suppressions(self, source: str, recipients: Mapping[Channel, str]) -> dict[Channel, list[Suppression]]:
        """Every suppression of each (channel, recipient) for `source` (and for every source), in one read."""
        ...


class ChannelQueue(Protocol):
    def enqueue(self, messages: Sequence[ChannelMessage]) -> set[str]:
        """Put messages on their channel's queue in batches; return the notification ids that failed."""
        ...


class FollowUpQueue(Protocol):
    """The follow-up queue: deadline checks (delayed) and channel-fallback requests for the follow-up function."""

    def schedule_deadlines(self, messages: Sequence[ChannelMessage], delay_seconds: int) -> set[str]:
        """A deadline check per message, due in `delay_seconds`; return the notification ids that failed."""
        ...

    def request(self, request: FollowUpRequest) -> None:
        """Put one follow-up request on the queue now. Raises when SQS refuses it."""
        ...


class Provider(Protocol):
    """One vendor's API for one channel (SendGrid, Twilio, SES, SNS)."""

    name: str  # recorded on the notification: which provider took it
    channel: Channel

    def send(self, message: ChannelMessage) -> str | None:
        """Hand the message to the provider; return its message id. Raises ProviderError."""
        ...


@dataclass(frozen=True)
class Accepted:
    """A provider took the message."""

    provider: str  # Provider.name
    message_id: str | None
    # Why it went through the secondary provider ("failover: sendgrid circuit open", "escalation"); None: primary.
    route_reason: str | None = None


class ProviderRouter(Protocol):
    """Chooses the provider for each send (primary, or secondary on failover and escalation) and sends."""

    channel: Channel

    def send(self, message: ChannelMessage) -> Accepted:
        """Raises ProviderError (the error of the provider that was tried)."""
        ...


class Direct:
    """A router with one provider and no failover (tests, benchmarks, a deployment without a secondary)."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.channel = provider.channel

    def send(self, message: ChannelMessage) -> Accepted:
        return Accepted(self.provider.name, self.provider.send(message))


# --- intake: what joins a platform's report to what Herald was told (usecases.intake) ----------------------


@dataclass(frozen=True)
class LinkKey:
    """How a report finds what it belongs to, within one storefront: an order by its id, a shipment by its
    id or by its tracking number (normalised: domain-independent spelling, usecases.intake.tracking_key)."""

    kind: str  # "order" | "shipment" | "tracking"
    value: str


@dataclass(frozen=True)
class Parked:
    """A report that arrived before what it belongs to (a carrier scan before the shipment), kept for a while."""

    update_id: str  # the platform's id: one parked item per report, however often it is delivered
    body: str  # the OrderUpdate or ShipmentUpdate as JSON


class IntakeLinks(Protocol):
    def record(self, source: str, link: LinkKey, blocks: Mapping[str, Any]) -> None:
        """Remember the event blocks (order, customer, store, shipment) a later report under `link` needs."""
        ...

    def find(self, source: str, link: LinkKey) -> dict[str, Any] | None: ...

    def park(self, source: str, link: LinkKey, parked: Parked) -> None: ...

    def parked(self, source: str, link: LinkKey) -> list[Parked]: ...

    def unpark(self, source: str, link: LinkKey, update_id: str) -> None: ...


@dataclass(frozen=True)
class IgnoredReport:
    """A verified platform report Herald tells no customer of, and why (an unmapped or uninteresting status, a hold
    without an order, an estimate not later than the one told): recorded for the operator who asks why the
    customer did not hear of it, never guessed into a notice (issue 10 section 2)."""

    source: str
    platform: str
    # The platform's id of the report (an update id, Shopify's webhook id), else a digest of the body: a retry of
    # one report overwrites its record rather than adding one.
    report_id: str
    reason: str
    received_at: datetime
    status: str | None = None  # the platform's status or topic, as sent
    order_id: str | None = None  # the order the join found: the record is on that order's timeline
    tracking_number: str | None = None
    shipment_id: str | None = None


class IgnoredReports(Protocol):
    def record_ignored(self, report: IgnoredReport) -> None: ...


class EventsRefused(RuntimeError):
    """The queues refused some of the events published together: `refused_ids` names them (the others were
    accepted). The request that carried them is answered 5xx, and the platform retries."""

    def __init__(self, message: str, refused_ids: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.refused_ids = frozenset(refused_ids)


class EventPublisher(Protocol):
    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Put Herald events on their queues (order and return events on the order queue, shipment events on
        the shipment queue); raises EventsRefused when any of them was not accepted."""
        ...


@dataclass(frozen=True)
class ShipmentNotice:
    """The last notified state of a shipment, as the ledger keeps it (the late-delivery check reads it)."""

    state: ShipmentState
    event_id: str


class ShipmentNotices(Protocol):
    def last_notice(self, source: str, shipment_id: str) -> ShipmentNotice | None:
        """The shipment's last notified state, or None when Herald has no record of it."""
        ...


class LateCheckScheduler(Protocol):
    def schedule(self, check: LateCheck) -> None:
        """Have the check run at its due time (at once when that time has passed). Idempotent: the same check
        scheduled twice runs once. Raises when it could not be scheduled."""
        ...


@dataclass(frozen=True)
class OrderPageRecord:
    """What a page token opens: the order, and what the page shows of it (order, store, the customer's locale)."""

    source: str
    order_id: str
    blocks: dict[str, Any]


@dataclass(frozen=True)
class RecordedAnswer:
    """A customer's answer about a delivery, as the order's timeline keeps it."""

    kind: str  # delivery_confirmed | delivery_disputed
    shipment_id: str
    answer: str
    reason: str | None
    note: str | None
    evidence: dict[str, Any]  # the proof the customer answered about (photo, GPS, time, recipient)


@dataclass(frozen=True)
class StartedReturn:
    """A return the customer started on the order page, as the order's timeline keeps it (kind return_started)."""

    return_id: str
    items: list[dict[str, Any]]  # sku, name, quantity
    reason: str
    resolution: str
    note: str | None


class OrderPageStore(Protocol):
    def record_page(self, token: str, record: OrderPageRecord, now: datetime) -> None: ...

    def page(self, token: str, now: datetime) -> OrderPageRecord | None: ...

    def record_answer(self, source: str, order_id: str, nonce: str, answer: RecordedAnswer, now: datetime) -> bool:
        """Once per form nonce: False for a replayed form."""
        ...

    def record_return(self, source: str, order_id: str, nonce: str, started: StartedReturn, now: datetime) -> bool:
        """Once per form nonce (the same keys as the answers'): False for a replayed form."""
        ...


@dataclass(frozen=True)
class Photo:
    content_type: str
    body: bytes


class PhotoUnavailable(Exception):
    """The carrier's photo cannot be had (the message says why); the page shows its place without it."""


class PhotoFetcher(Protocol):
    def fetch(self, url: str) -> Photo:
        """Raises PhotoUnavailable."""
        ...


class PhotoCopies(Protocol):
    def get(self, key: str) -> Photo | None: ...

    def put(self, key: str, photo: Photo) -> None: ...


# --- outbound webhooks: what Herald tells a storefront (usecases.outbound, docs/outbound-webhooks.md) ---------


class OutboundEvents(Protocol):
    """What any use case calls to tell a storefront something (adapters.sqs_outbound: the outbound-webhooks
    queue, drained by the outbound-webhooks function)."""

    def publish(self, event: Mapping[str, Any]) -> None:
        """Queue one outbound event (domain.outbound.outbound_event builds it). Raises ValueError for an event
        the model refuses (nothing is queued), or when SQS refuses it."""
        ...


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    retry_after: str | None = None  # the Retry-After header, as sent


class WebhookNotAnswered(Exception):
    """No HTTP answer: a timeout, a refused or reset connection, a TLS failure. Retried."""


class WebhookTransport(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
        """POST once, following no redirect, to an https:// URL only. Raises WebhookNotAnswered."""
        ...


class EventBusRefused(Exception):
    """EventBridge did not take the event; `retryable` says whether another try may succeed."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class StorefrontEventBus(Protocol):
    def put(self, bus_arn: str, event: OutboundEvent) -> None:
        """PutEvents of one event on the storefront's bus. Raises EventBusRefused."""
        ...


@dataclass(frozen=True)
class WebhookAttempt:
    """One delivery attempt of an outbound event, as the order's timeline records it."""

    kind: str  # webhook_delivered | webhook_retrying | webhook_failed | webhook_skipped
    reason: str | None
    at: datetime
    status_code: int | None = None  # the receiver's HTTP status; None when it did not answer or was not asked
    delivered: frozenset[str] = frozenset()  # targets that took the event this attempt ("webhook", "event_bus")
    final: bool = False  # the last attempt: retries are exhausted and SQS parks the message in the DLQ


class WebhookRecords(Protocol):
    def delivered_targets(self, event: OutboundEvent) -> frozenset[str]:
        """The targets an earlier attempt of this event delivered to (a retry does not repeat them)."""
        ...

    def record(self, event: OutboundEvent, attempt: WebhookAttempt) -> None: ...
