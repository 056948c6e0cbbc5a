"""The ledger and channel queue in memory, for unit tests that drive the dispatcher and senders without AWS.

(benchmarks/fakes.py keeps its own: benchmarks run as scripts from their folder, outside the tests package.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from herald.contract.models import Envelope
from herald.domain.notification import ChannelMessage
from herald.usecases.ports import (
    Accepted,
    Claim,
    EventClaim,
    PlannedNotification,
    Rejection,
    ShipmentAdvance,
    ShipmentPosition,
)


class MemoryLedger:
    """DispatchLedger and NotificationLedger in dictionaries: an event is new until dispatched, a notification
    is claimed once; the standby plans (failover) are recorded but not queued, as the DynamoDB ledger does."""

    def __init__(self) -> None:
        self.events: dict[str, str] = {}  # event id -> outcome
        self.status: dict[str, str] = {}  # notification id -> state
        self.planned: list[PlannedNotification] = []
        self.rejections: list[Rejection] = []

    def begin_event(self, event: Envelope, now: datetime) -> EventClaim:
        if self.events.get(event.id) == "dispatched":
            return EventClaim.DUPLICATE
        self.events[event.id] = "dispatching"
        return EventClaim.NEW

    def record_rejection(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def advance_shipment(self, position: ShipmentPosition) -> ShipmentAdvance:
        return ShipmentAdvance()

    def record_notifications(
        self, event: Envelope, planned: Sequence[PlannedNotification], now: datetime
    ) -> list[ChannelMessage]:
        self.planned += planned
        return [p.message for p in planned if p.message is not None and not p.standby]

    def finish_event(self, event: Envelope, outcome: str, reason: str | None, now: datetime) -> None:
        self.events[event.id] = str(outcome)

    def claim(self, message: ChannelMessage, *, lease_seconds: int, now: datetime) -> Claim:
        if message.notification_id in self.status:
            return Claim(claimed=False, status=None, attempts=1)
        self.status[message.notification_id] = "sending"
        return Claim(claimed=True, status=None, attempts=1)

    def mark_sent(self, message: ChannelMessage, accepted: Accepted, *, now: datetime) -> None:
        self.status[message.notification_id] = "sent"

    def mark_failed(self, message: ChannelMessage, *, code: str, reason: str, now: datetime) -> None:
        self.status[message.notification_id] = "failed"

    def mark_retrying(self, message: ChannelMessage, *, code: str, reason: str, final: bool, now: datetime) -> None:
        self.status[message.notification_id] = "retrying"


class MemoryQueue:
    """A ChannelQueue that keeps what it is given and refuses nothing."""

    def __init__(self) -> None:
        self.messages: list[ChannelMessage] = []

    def enqueue(self, messages: Sequence[ChannelMessage]) -> set[str]:
        self.messages.extend(messages)
        return set()
