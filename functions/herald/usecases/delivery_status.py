"""Apply provider delivery reports (SendGrid events, Twilio status callbacks) to Herald's notifications.

A report is linked to its notification first by the identifiers Herald itself sent with the message
(SendGrid custom_args, Twilio status-callback URL parameters: `source`, `event_id`, `order_id`), which name
the item directly and work even before the sender recorded the provider's id; then by the provider message
id through the table's index. A report that matches nothing (another application on the same provider
account, an expired record) is counted and acknowledged: the provider would otherwise retry it for a day.

Listeners (`on_applied`) see every applied report: suppression (issue 3, section 2) reacts to opt-out
signals, channel fallback (section 3) to failed deliveries, without this module knowing them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from herald.domain.delivery_states import ProviderStatus, sendgrid_message_ids, sendgrid_status, twilio_status
from herald.domain.notification import Channel


class ApplyOutcome(StrEnum):
    ADVANCED = "advanced"  # the notification's delivery state moved forward
    RECORDED = "recorded"  # new report kept in the history; the state already was as far or further
    DUPLICATE = "duplicate"  # this very report was applied before: nothing changed
    NOT_FOUND = "not_found"  # no notification of Herald's matches it


@dataclass(frozen=True)
class NotificationRef:
    """The key parts of one notification item."""

    source: str
    order_id: str
    event_id: str
    channel: str


@dataclass(frozen=True)
class InboundMessage:
    message_sid: str
    from_: str
    to: str
    body: str
    account_sid: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    status: ProviderStatus
    outcome: ApplyOutcome
    notification: NotificationRef | None
    # The storefront the report is about: its notification's, or (none matched: an old, expired one) the
    # `source` link field Herald sent with the message. None when neither says.
    source: str | None = None


class DeliveryLedger(Protocol):
    def find_by_provider_message_id(self, provider_message_ids: Sequence[str]) -> NotificationRef | None: ...

    def apply_status(self, ref: NotificationRef, status: ProviderStatus, now: datetime) -> ApplyOutcome: ...


@dataclass(frozen=True)
class InboundReceipt:
    """What the ledger knows of an inbound message as it is received."""

    first: bool  # this request recorded it; False: a repeat of a MessageSid already recorded
    # When Herald first received this MessageSid (epoch microseconds): the order of a customer's messages.
    # Twilio's inbound webhook carries no timestamp and a MessageSid is random, so first arrival is what orders
    # them; a repeat keeps its first arrival, so it is never newer than a message that came after it.
    received_at_us: int
    handled: bool  # its handlers ran to the end once: a repeat must change nothing


class InboundLedger(Protocol):
    def record_inbound(self, message: InboundMessage, now: datetime) -> InboundReceipt: ...

    def mark_inbound_handled(self, message: InboundMessage, now: datetime) -> None: ...


Listener = Callable[[DeliveryResult], None]

LINK_FIELDS = ("source", "event_id", "order_id")
"""What Herald attaches to each message it sends (SendGrid custom_args; Twilio status-callback query)."""


def ref_from_link(args: Mapping[str, Any], channel: Channel) -> NotificationRef | None:
    """The notification named by Herald's own link fields, when all of them are there."""
    values = [args.get(name) for name in LINK_FIELDS]
    if not all(isinstance(value, str) and value for value in values):
        return None
    source, event_id, order_id = (str(value) for value in values)
    return NotificationRef(source=source, order_id=order_id, event_id=event_id, channel=channel.value)


class DeliveryStatusService:
    def __init__(
        self,
        ledger: DeliveryLedger,
        *,
        listeners: Sequence[Listener] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._listeners = tuple(listeners)
        self._clock = clock

    def apply(
        self, status: ProviderStatus, *, link: Mapping[str, Any], provider_message_ids: Sequence[str]
    ) -> DeliveryResult:
        now = self._clock()
        ref = ref_from_link(link, status.channel)
        outcome = ApplyOutcome.NOT_FOUND
        if ref is not None:
            outcome = self._ledger.apply_status(ref, status, now)
        if outcome is ApplyOutcome.NOT_FOUND and provider_message_ids:
            # Link fields absent (or stale): the provider's own id, recorded when the message was sent.
            ref = self._ledger.find_by_provider_message_id(provider_message_ids)
            if ref is not None:
                outcome = self._ledger.apply_status(ref, status, now)
        found = ref if outcome is not ApplyOutcome.NOT_FOUND else None
        linked = link.get("source")
        source = found.source if found else (linked if isinstance(linked, str) and linked else None)
        result = DeliveryResult(status, outcome, found, source)
        for listener in self._listeners:
            listener(result)
        return result

    def apply_sendgrid_events(self, events: Sequence[Mapping[str, Any]]) -> list[DeliveryResult]:
        """One Event Webhook post: a JSON array of events, each applied on its own."""
        results = []
        for event in events:
            status = sendgrid_status(dict(event))
            sg_message_id = event.get("sg_message_id")
            ids = sendgrid_message_ids(sg_message_id) if isinstance(sg_message_id, str) and sg_message_id else []
            # custom_args arrive as top-level fields of each event.
            results.append(self.apply(status, link=event, provider_message_ids=ids))
        return results

    def apply_twilio_callback(self, params: Mapping[str, str], link: Mapping[str, str]) -> DeliveryResult:
        """One Twilio status callback: its form fields, and the query parameters of its callback URL."""
        status = twilio_status(dict(params))
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        return self.apply(status, link=link, provider_message_ids=[sid] if sid else [])


InboundHandler = Callable[[InboundMessage, InboundReceipt], str | None]
"""Extension point for inbound SMS (STOP/START/HELP, issue 3 section 2): returns a reply text, or None.
A handler changes state only for a receipt not yet `handled`, and orders its changes by `received_at_us`."""


class InboundService:
    """Record each inbound SMS once, then hand it to the keyword handlers (none yet) for a reply."""

    def __init__(
        self,
        ledger: InboundLedger,
        *,
        handlers: Sequence[InboundHandler] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._handlers = tuple(handlers)
        self._clock = clock

    def receive(self, message: InboundMessage) -> tuple[bool, str | None]:
        """(first time seen, reply text). A repeated webhook is recorded once and answered the same way; its
        handlers' changes are made once: the message is marked handled only after they all returned, so a
        failure part way leaves Twilio's retry to finish the work."""
        receipt = self._ledger.record_inbound(message, self._clock())
        reply: str | None = None
        for handler in self._handlers:
            reply = handler(message, receipt)
            if reply is not None:
                break
        if not receipt.handled:
            self._ledger.mark_inbound_handled(message, self._clock())
        return receipt.first, reply
