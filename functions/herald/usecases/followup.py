"""Follow-ups: channel fallback and deadline escalation (domain.redundancy), run by the follow-up function.

Fallback: a channel failed (a webhook's bounce or undelivered, or a provider's outright refusal) -> the event's
standby channel goes from `standby` to `pending` (a conditional write: once) and onto its channel queue.
Deadline: a delayed check per message of an event that must be confirmed -> if no channel reported delivery,
an escalation copy (its own notification, sent at most once) goes through the channel's secondary provider.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from herald.domain.notification import ChannelMessage, NotificationStatus
from herald.domain.redundancy import (
    FAILED_DELIVERY_STATES,
    FollowUpKind,
    FollowUpRequest,
    NotificationView,
    delivered_on,
    why_not_escalate,
)
from herald.domain.suppression import blocks, strength, suppressed_reason
from herald.usecases.delivery_status import ApplyOutcome, DeliveryResult
from herald.usecases.ports import ChannelQueue, FollowUpQueue, SuppressionLookup

ESCALATION_ID_SUFFIX = "|escalation"
_APPLIED = frozenset({ApplyOutcome.ADVANCED, ApplyOutcome.DUPLICATE})


class FollowUpAction(StrEnum):
    FALLBACK_QUEUED = "fallback_queued"
    FALLBACK_SUPPRESSED = "fallback_suppressed"  # the customer opted out of the standby channel since dispatch
    ESCALATED = "escalated"
    NOTHING = "nothing"


@dataclass(frozen=True)
class FollowUpResult:
    action: FollowUpAction
    detail: str
    channel: str | None = None  # the channel queued (fallback) or escalated


@dataclass(frozen=True)
class RecordedNotification:
    view: NotificationView
    message: ChannelMessage | None = None  # a standby's rendered message


class FollowUpStore(Protocol):
    def event_notifications(self, source: str, order_id: str, event_id: str) -> list[RecordedNotification]: ...

    def activate_standby(self, message: ChannelMessage, *, failed_channel: str, reason: str, now: datetime) -> bool:
        """standby -> pending, recording why. True also when an earlier activation left it pending (queue it
        again: the sender's claim keeps it to one send); False when it has moved on."""
        ...

    def suppress_standby(self, message: ChannelMessage, *, reason: str, now: datetime) -> None: ...

    def record_escalation(self, message: ChannelMessage, *, escalates: str, reason: str, now: datetime) -> bool:
        """Record the escalation notification once. True when it is (still) pending: queue it."""
        ...


def escalation_of(message: ChannelMessage) -> ChannelMessage:
    """The escalation copy of a notification: same content, its own identity, through the secondary provider."""
    return message.model_copy(
        update={"escalation": True, "notification_id": message.notification_id + ESCALATION_ID_SUFFIX}
    )


class FollowUps:
    def __init__(
        self,
        store: FollowUpStore,
        queue: ChannelQueue,
        suppressions: SuppressionLookup | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._queue = queue
        self._suppressions = suppressions
        self._clock = clock

    def handle(self, request: FollowUpRequest) -> FollowUpResult:
        """Raises when a message could not be queued: the request is then retried from its queue."""
        recorded = self._store.event_notifications(request.source, request.order_id, request.event_id)
        if request.kind is FollowUpKind.FALLBACK:
            return self._fallback(request, recorded)
        return self._deadline(request, recorded)

    def _fallback(self, request: FollowUpRequest, recorded: Sequence[RecordedNotification]) -> FollowUpResult:
        views = [r.view for r in recorded]
        channel = delivered_on(views)
        if channel is not None:
            return FollowUpResult(FollowUpAction.NOTHING, f"already delivered by {channel}")
        standby = [
            r
            for r in recorded
            if r.message is not None
            and r.view.channel != request.channel
            and not r.view.escalation
            and r.view.status in (NotificationStatus.STANDBY, NotificationStatus.PENDING)
        ]
        if not standby:
            return FollowUpResult(FollowUpAction.NOTHING, f"no standby channel to fall back to from {request.channel}")
        target = standby[0].message
        assert target is not None  # filtered above
        reason = f"{request.channel} {request.reason}"
        blocked = self._blocked(target)
        if blocked is not None:
            self._store.suppress_standby(target, reason=blocked, now=self._clock())
            return FollowUpResult(FollowUpAction.FALLBACK_SUPPRESSED, blocked, target.channel.value)
        if not self._store.activate_standby(target, failed_channel=request.channel, reason=reason, now=self._clock()):
            return FollowUpResult(FollowUpAction.NOTHING, f"{target.channel} fallback already under way")
        self._enqueue(target)
        return FollowUpResult(FollowUpAction.FALLBACK_QUEUED, f"fallback to {target.channel}: {reason}", target.channel)

    def _deadline(self, request: FollowUpRequest, recorded: Sequence[RecordedNotification]) -> FollowUpResult:
        message = request.message
        if message is None:
            raise ValueError("a deadline follow-up carries the message to escalate")
        views = [r.view for r in recorded]
        target = next((v for v in views if v.channel == message.channel.value and not v.escalation), None)
        if target is None:
            return FollowUpResult(FollowUpAction.NOTHING, f"no {message.channel} notification recorded")
        why_not = why_not_escalate(target, views)
        if why_not is not None:
            return FollowUpResult(FollowUpAction.NOTHING, why_not)
        escalation = escalation_of(message)
        if not self._store.record_escalation(
            escalation, escalates=message.notification_id, reason=request.reason, now=self._clock()
        ):
            return FollowUpResult(FollowUpAction.NOTHING, "already escalated")
        self._enqueue(escalation)
        return FollowUpResult(FollowUpAction.ESCALATED, request.reason, message.channel.value)

    def _blocked(self, message: ChannelMessage) -> str | None:
        """The suppression that now stops the standby message (the customer may have opted out since dispatch)."""
        if self._suppressions is None:
            return None
        found = self._suppressions.suppressions(message.source, {message.channel: message.to})
        stopping = [s for s in found.get(message.channel, []) if blocks(s, message.event_type)]
        return suppressed_reason(max(stopping, key=lambda s: strength(s.signal))) if stopping else None

    def _enqueue(self, message: ChannelMessage) -> None:
        if self._queue.enqueue([message]):
            raise RuntimeError(f"could not queue {message.notification_id}; the follow-up will be retried")


class FallbackOnFailure:
    """Asks for a channel fallback when a channel fails: a webhook's failed delivery state, or a provider's
    permanent refusal at send time. A listener of DeliveryStatusService and a sender's `on_failed`."""

    def __init__(self, queue: FollowUpQueue) -> None:
        self._queue = queue

    def delivery_failed(self, source: str, order_id: str, event_id: str, channel: str, reason: str) -> None:
        self._queue.request(
            FollowUpRequest(
                kind=FollowUpKind.FALLBACK,
                source=source,
                order_id=order_id,
                event_id=event_id,
                channel=channel,
                reason=reason,
            )
        )

    def __call__(self, result: DeliveryResult) -> None:
        """A delivery report was applied: one that moved the state to a failure asks for the fallback.

        A repeat of that report asks again: the provider repeats a report when our answer to it failed, perhaps
        because this very request could not be queued. The follow-up is idempotent, so asking twice is harmless.
        """
        state = result.status.state.value if result.status.state else None
        ref = result.notification
        if result.outcome not in _APPLIED or state not in FAILED_DELIVERY_STATES or ref is None:
            return
        code = result.status.error_code
        self.delivery_failed(
            ref.source, ref.order_id, ref.event_id, ref.channel, state + (f" ({code})" if code else "")
        )

    def on_send_failed(self, message: ChannelMessage, code: str | None) -> None:
        if message.escalation:
            return  # the last resort failed: nothing further to fall back to
        self.delivery_failed(
            message.source, message.order_id, message.event_id, message.channel.value, f"refused ({code})"
        )
