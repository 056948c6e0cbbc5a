"""Channels are data: a channel registered only here (push) goes end to end through the real dispatch use case and a
real Sender, with no branch of dispatch naming it; email and sms keep their wire format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest
from pydantic import BaseModel
from tests.memory_ledger import MemoryLedger
from tests.storefronts import MOTO_SENDER_ID, every_source

from herald.contract.models import Customer, Envelope, EventType, event_data
from herald.domain import policy
from herald.domain.channel_registry import CHANNELS, ChannelSpec, ReachOptions, Renderer, RenderOptions, Unreachable
from herald.domain.notification import Channel, ChannelMessage
from herald.domain.phone import to_e164
from herald.rendering.renderer import Renderer as TemplateRenderer
from herald.usecases.dispatch import Dispatcher, Outcome
from herald.usecases.ports import (
    Direct,
)
from herald.usecases.send import RetryPolicy, Sender, SendOutcome
from herald_tools.local.ports import accepting_twilio_test_numbers

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PUSH = Channel.define("push")


class PushContent(BaseModel):
    title: str
    body: str


def render_push(renderer: Renderer, event: Envelope, options: RenderOptions) -> BaseModel:
    """The test channel's renderer part: no templates, the order number is enough to prove it ran."""
    return PushContent(title=options.default_store_name, body=f"Order {event_data(event).order.number} is confirmed")


def device_of(customer: Customer, options: ReachOptions) -> str:
    """The test channel reaches a customer through the app they signed in to with their email address."""
    if not customer.email:
        raise Unreachable("customer has no app account")
    return f"device:{customer.email}"


PUSH_SPEC = ChannelSpec(
    PUSH,
    reach=device_of,
    render=render_push,
    content_field="push",
    template_files=(),
    queue_setting="push_queue_url",
    sender="tests.push.handler",
)


class ChannelQueues:
    """One queue per channel, holding the JSON bodies the SQS adapter would send."""

    def __init__(self) -> None:
        self.bodies: dict[Channel, list[str]] = {}

    def enqueue(self, messages: Sequence[ChannelMessage]) -> set[str]:
        for message in messages:
            self.bodies.setdefault(message.channel, []).append(message.model_dump_json(exclude_none=True))
        return set()


class FakePushProvider:
    name = "fake-push"
    channel = PUSH

    def __init__(self) -> None:
        self.sent: list[tuple[str, PushContent]] = []

    def send(self, message: ChannelMessage) -> str | None:
        self.sent.append((message.to, PushContent.model_validate(message.content("push"))))
        return f"push-{len(self.sent)}"


@pytest.fixture
def push(monkeypatch: pytest.MonkeyPatch) -> None:
    """Push registered for this test only, and sent first for an order confirmation."""
    monkeypatch.setitem(CHANNELS, PUSH, PUSH_SPEC)
    placed = policy.POLICIES[EventType.ORDER_PLACED]
    with_push = replace(placed, default_channels=placed.default_channels | {PUSH})
    monkeypatch.setattr(policy, "POLICIES", MappingProxyType({**policy.POLICIES, EventType.ORDER_PLACED: with_push}))


def dispatch(ledger: MemoryLedger, queues: ChannelQueues, name: str) -> None:
    dispatcher = Dispatcher(
        ledger,
        queues,
        TemplateRenderer(),
        storefronts=every_source(name="Our store", email_from="orders@herald.example"),
        clock=lambda: NOW,
        # The samples' customer phones are Twilio test numbers, which only the local wiring admits
        phone=accepting_twilio_test_numbers(to_e164),
    )
    result = dispatcher.plan((EVENTS / name).read_text(), "sqs-1", MOTO_SENDER_ID)
    assert result.outcome is Outcome.DISPATCHED
    assert dispatcher.complete([result]) == set()


@pytest.mark.usefixtures("push")
def test_a_channel_registered_as_data_is_dispatched_queued_and_sent_like_email_and_sms() -> None:
    # Given push registered (and in order.placed's defaults) and an order confirmation
    ledger, queues = MemoryLedger(), ChannelQueues()
    # When it is dispatched
    dispatch(ledger, queues, "order.placed.json")
    # Then push has a queue of its own beside email and sms, with its rendered content under its own field
    assert set(queues.bodies) == {Channel.EMAIL, Channel.SMS, PUSH}
    (body,) = queues.bodies[PUSH]
    assert json.loads(body)["push"] == {"title": "Our store", "body": "Order #1001 is confirmed"}
    # When the push message is read off its queue and sent through a Sender with the fake provider
    provider = FakePushProvider()
    sender = Sender(ledger, Direct(provider), lease_seconds=60, retry=RetryPolicy(), clock=lambda: NOW)
    result = sender.send(ChannelMessage.model_validate_json(body), receive_count=1)
    # Then the provider got the rendered content for the customer's device, and the ledger marks it sent
    assert result.outcome is SendOutcome.SENT
    assert result.provider == "fake-push"
    assert provider.sent == [
        ("device:jordan.rivera@example.com", PushContent(title="Our store", body="Order #1001 is confirmed"))
    ]
    assert ledger.status[json.loads(body)["notification_id"]] == "sent"


@pytest.mark.usefixtures("push")
def test_a_registered_channel_not_sent_first_is_kept_in_standby_for_fallback() -> None:
    # Given push registered and an event that does not send it first (a return request: email only)
    ledger, queues = MemoryLedger(), ChannelQueues()
    # When it is dispatched
    dispatch(ledger, queues, "return.requested.json")
    # Then push is rendered and recorded in standby, like sms, and nothing but email is queued
    standby = {p.channel for p in ledger.planned if p.standby}
    assert PUSH in standby
    assert set(queues.bodies) == {Channel.EMAIL}


def test_a_message_in_flight_before_channels_were_data_reads_and_writes_the_same() -> None:
    # Given an SMS message as dispatch queued it before (the enum-era wire format)
    body = (
        '{"notification_id":"shop|e1|sms","channel":"sms","source":"shop","event_id":"e1",'
        '"event_type":"order.placed","event_time":"2026-11-27T12:00:00+00:00","order_id":"o1","order_number":"#1",'
        '"to":"+15005550006","sms":{"body":"Hi","segments":1,"encoding":"GSM-7"},"escalation":false}'
    )
    # When a sender reads it
    message = ChannelMessage.model_validate_json(body)
    # Then it is the sms channel itself, its content is where it was, and it is written back byte for byte
    assert message.channel is Channel.SMS
    assert message.content("sms") == message.sms
    assert message.model_dump_json(exclude_none=True) == body


def test_a_name_that_is_no_channel_is_refused() -> None:
    # Given a message naming a channel nobody defined / When read / Then it is refused
    with pytest.raises(ValueError, match="fax"):
        Channel("fax")
