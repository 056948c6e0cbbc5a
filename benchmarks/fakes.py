"""In-process stand-ins for the ports, so that the CPU measured is Herald's own code and nothing else's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from herald.domain.notification import Channel, ChannelMessage
from herald.domain.storefront import Storefront
from herald.usecases.ports import (
    Accepted,
    Claim,
    EventClaim,
    PlannedNotification,
    Rejection,
    ShipmentAdvance,
    ShipmentPosition,
)


class FakeLedger:
    """DispatchLedger and NotificationLedger in dictionaries: every claim succeeds, every event is new."""

    def __init__(self) -> None:
        self.events: dict[str, str] = {}
        self.notifications: dict[str, str] = {}
        self.rejections: list[Rejection] = []

    def begin_event(self, event: Any, now: datetime) -> EventClaim:
        if self.events.get(event.id) == "dispatched":
            return EventClaim.DUPLICATE
        self.events[event.id] = "dispatching"
        return EventClaim.NEW

    def record_rejection(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def advance_shipment(self, position: ShipmentPosition) -> ShipmentAdvance:
        return ShipmentAdvance()

    def record_notifications(
        self, event: Any, planned: Sequence[PlannedNotification], now: datetime
    ) -> list[ChannelMessage]:
        return [plan.message for plan in planned if plan.message is not None]

    def finish_event(self, event: Any, outcome: str, reason: str | None, now: datetime) -> None:
        self.events[event.id] = str(outcome)

    def claim(self, message: ChannelMessage, *, lease_seconds: int, now: datetime) -> Claim:
        self.notifications[message.notification_id] = "sending"
        return Claim(claimed=True, status=None, attempts=1)

    def mark_sent(self, message: ChannelMessage, accepted: Accepted, *, now: datetime) -> None:
        self.notifications[message.notification_id] = "sent"

    def mark_failed(self, message: ChannelMessage, *, code: str, reason: str, now: datetime) -> None:
        self.notifications[message.notification_id] = "failed"

    def mark_retrying(self, message: ChannelMessage, *, code: str, reason: str, final: bool, now: datetime) -> None:
        self.notifications[message.notification_id] = "retrying"


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[ChannelMessage] = []

    def enqueue(self, messages: Sequence[ChannelMessage]) -> set[str]:
        self.messages.extend(messages)
        return set()


class FakeProvider:
    name = "fake"

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent = 0

    def send(self, message: ChannelMessage) -> str | None:
        self.sent += 1
        return f"fake-{self.sent}"


class CountingClient:
    """A boto3 client that counts the API calls made through it, by operation name."""

    def __init__(self, client: Any, counts: dict[str, int], service: str) -> None:
        self._client = client
        self._counts = counts
        self._service = service

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name in {"meta", "exceptions"}:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            key = f"{self._service}.{name}"
            self._counts[key] = self._counts.get(key, 0) + 1
            return attribute(*args, **kwargs)

        return counted


BENCH_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"  # the SenderId dispatch is given (moto's, for every message)


class EverySource:
    """A storefront registry where every source is registered and published by BENCH_SENDER_ID."""

    def __init__(self, email_from: str = "orders@acme.example", name: str = "Store") -> None:
        self._email_from, self._name = email_from, name

    def get(self, source: str) -> Storefront | None:
        return Storefront(
            source=source,
            name=self._name,
            email_from=self._email_from,
            sendgrid_secret_id="herald/sendgrid",  # noqa: S106 - a secret's name, not a secret
            twilio_secret_id="herald/twilio",  # noqa: S106 - a secret's name, not a secret
            sms_from="+15005550006",
            publishers=(BENCH_SENDER_ID,),
        )
