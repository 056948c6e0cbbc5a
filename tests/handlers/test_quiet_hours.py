"""Quiet hours through the real handlers: a non-urgent SMS in the customer's night waits on its queue until 08:00."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import herald.usecases.dispatch as dispatch_usecase
import herald.usecases.send as send_usecase
from herald.handlers import dispatch, send_email, send_sms

from .conftest import MAX_RECEIVE_COUNT, REGION, Env, sample

NIGHT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 23:00 EST in New York
MORNING = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # 08:00 EST


class FrozenClock:
    now = NIGHT


class _FrozenDatetime(datetime):
    """`datetime` whose now() is the test's clock; the use cases' default clocks call `datetime.now(UTC)`."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return FrozenClock.now.astimezone(tz) if tz else FrozenClock.now.replace(tzinfo=None)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> type[FrozenClock]:
    FrozenClock.now = NIGHT
    monkeypatch.setattr(dispatch_usecase, "datetime", _FrozenDatetime)
    monkeypatch.setattr(send_usecase, "datetime", _FrozenDatetime)
    return FrozenClock


def _non_urgent_shipment() -> dict[str, Any]:
    event = sample("shipment.created")
    event["data"]["customer"]["timezone"] = "America/New_York"
    event["data"]["notify"] = {"non_urgent": True}
    return event


def _sms_messages() -> list[Any]:
    """moto's own messages of the sms queue: their visibility and delay deadlines (epoch ms)."""
    from moto.sqs.models import sqs_backends

    return list(sqs_backends["123456789012"][REGION].queues["sms"]._messages)


def _notification(env: Env, event_id: str, channel: str) -> dict[str, str]:
    return env.notifications()[f"NOTIF#{event_id}#{channel}"]


def test_non_urgent_sms_at_night_is_held_until_eight_local_while_email_goes_now(
    env: Env, clock: type[FrozenClock]
) -> None:
    # Given a shipment.created marked non-urgent, dispatched at 23:00 in the customer's New York
    event = _non_urgent_shipment()
    env.publish("shipment-events", [json.dumps(event)])
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []

    # Then the SMS is recorded as waiting until 08:00 local (13:00 UTC), the email is not held
    sms = _notification(env, event["id"], "sms")
    assert (sms["status"], sms["held_until"]) == ("pending", MORNING.isoformat())
    assert "held_until" not in _notification(env, event["id"], "email")

    # When both senders get their first delivery
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    before = time.time()
    held = env.deliver("sms", send_sms.handler)

    # Then the email is sent at once; the SMS is not sent, not claimed, no attempt counted,
    # and its message stays on the queue, invisible for the 9 hours until 08:00
    assert len(env.outbox.emails()) == 1
    assert len(held["batchItemFailures"]) == 1
    assert env.outbox.sms() == []
    sms = _notification(env, event["id"], "sms")
    assert (sms["status"], sms["attempts"]) == ("pending", "0")
    [message] = _sms_messages()
    assert abs(message.visible_at / 1000 - before - 9 * 3600) < 60
    assert env.receive("sms")["Records"] == []

    # When 08:00 comes and SQS hands the message back
    clock.now = MORNING
    env.make_visible("sms")
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []

    # Then the SMS is sent, once
    assert [s["to"] for s in env.outbox.sms()] == [event["data"]["customer"]["phone"]]
    assert _notification(env, event["id"], "sms")["status"] == "sent"
    assert env.depth("sms") == env.depth("sms-dlq") == 0


def test_held_sms_on_its_last_receive_is_requeued_fresh_instead_of_going_to_the_dlq(
    env: Env, clock: type[FrozenClock]
) -> None:
    # Given a held SMS whose message has been received maxReceiveCount - 1 times already
    event = _non_urgent_shipment()
    env.publish("shipment-events", [json.dumps(event)])
    env.deliver("shipment-events", dispatch.handler)
    for _ in range(MAX_RECEIVE_COUNT - 1):
        assert len(env.deliver("sms", send_sms.handler)["batchItemFailures"]) == 1
        env.make_visible("sms")

    # When it is received the last time before SQS would park it
    before = time.time()
    last = env.deliver("sms", send_sms.handler)

    # Then that copy is acknowledged and a fresh one (never received) waits, delayed the 15 minutes SQS allows
    assert last["batchItemFailures"] == []
    [fresh] = _sms_messages()
    assert fresh.approximate_receive_count == 0
    assert abs(fresh.delayed_until / 1000 - before - 900) < 60
    assert json.loads(fresh.body)["not_before"] == MORNING.isoformat()
    assert env.depth("sms-dlq") == 0
    assert env.outbox.sms() == []
    assert _notification(env, event["id"], "sms")["status"] == "pending"


def test_order_confirmation_at_night_is_not_held(env: Env, clock: type[FrozenClock]) -> None:
    # Given an order confirmation at 23:00 in the customer's New York, even one marked non-urgent
    event = sample("order.placed")
    event["data"]["customer"]["timezone"] = "America/New_York"
    event["data"]["notify"] = {"non_urgent": True}
    env.publish("order-events", [json.dumps(event)])

    # When dispatch and the SMS sender run
    env.deliver("order-events", dispatch.handler)
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []

    # Then the SMS is sent at once and nothing records a hold
    sms = _notification(env, event["id"], "sms")
    assert sms["status"] == "sent"
    assert "held_until" not in sms
    assert len(env.outbox.sms()) == 1
