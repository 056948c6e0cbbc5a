"""The claim/mark protocol of the sender over the real DynamoDB adapter (moto), with a scripted provider."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from herald.adapters.dynamodb_ledger import DynamoDbLedger
from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import Channel, ChannelMessage
from herald.usecases.ports import Direct
from herald.usecases.send import RetryPolicy, Sender, SendOutcome
from herald_tools.local.tables import create_notifications_table
from tests.messages import channel_message

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
MESSAGE = channel_message(Channel.SMS, event_time=T0.isoformat())


class ScriptedProvider:
    name = "scripted"
    channel = Channel.SMS

    def __init__(self, *outcomes: str | BaseException) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def send(self, message: ChannelMessage) -> str | None:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else f"SM{self.calls}"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ledger() -> Iterator[DynamoDbLedger]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_notifications_table(client, "t")
        yield DynamoDbLedger(client, "t")


def _sender(ledger: DynamoDbLedger, provider: ScriptedProvider, clock: Clock) -> Sender:
    return Sender(ledger, Direct(provider), lease_seconds=60, retry=RetryPolicy(10, 900, 3), clock=clock)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the sender can catch it."""


def test_second_delivery_of_a_sent_notification_is_a_duplicate(ledger: DynamoDbLedger) -> None:
    # Given a notification already sent
    provider, clock = ScriptedProvider(), Clock()
    assert _sender(ledger, provider, clock).send(MESSAGE, receive_count=1).outcome is SendOutcome.SENT
    # When SQS delivers it again
    result = _sender(ledger, provider, clock).send(MESSAGE, receive_count=2)
    # Then the provider is not called again
    assert result.outcome is SendOutcome.DUPLICATE
    assert provider.calls == 1


def test_a_live_claim_makes_a_concurrent_delivery_wait(ledger: DynamoDbLedger) -> None:
    # Given an instance that claimed the notification and is still calling the provider
    clock = Clock()
    ledger.claim(MESSAGE, lease_seconds=60, now=clock())
    # When a second copy arrives 10 s later
    clock.now += timedelta(seconds=10)
    result = _sender(ledger, ScriptedProvider(), clock).send(MESSAGE, receive_count=1)
    # Then it comes back after the lease instead of sending
    assert result.outcome is SendOutcome.IN_FLIGHT
    assert result.retry_after_seconds == 50


def test_crash_before_the_provider_call_sends_once_after_the_lease(ledger: DynamoDbLedger) -> None:
    # Given an instance that claimed the notification and died before calling the provider
    provider, clock = ScriptedProvider(Crash()), Clock()
    with pytest.raises(Crash):
        _sender(ledger, provider, clock).send(MESSAGE, receive_count=1)
    # When the message comes back after the lease has run out
    clock.now += timedelta(seconds=61)
    result = _sender(ledger, provider, clock).send(MESSAGE, receive_count=2)
    # Then it is sent, once
    assert result.outcome is SendOutcome.SENT
    assert provider.calls == 2


def test_crash_between_acceptance_and_mark_is_the_only_duplicate_window(
    ledger: DynamoDbLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the provider accepted the message and the process died before marking it sent
    provider, clock = ScriptedProvider(), Clock()
    monkeypatch.setattr(ledger, "mark_sent", lambda *a, **k: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        _sender(ledger, provider, clock).send(MESSAGE, receive_count=1)
    monkeypatch.undo()
    # When SQS redelivers it after the lease
    clock.now += timedelta(seconds=61)
    _sender(ledger, provider, clock).send(MESSAGE, receive_count=2)
    # Then the provider was called twice: the documented window (docs/architecture.md, delivery semantics), nowhere else
    assert provider.calls == 2


def test_permanent_error_is_recorded_and_never_retried(ledger: DynamoDbLedger) -> None:
    provider, clock = ScriptedProvider(ProviderError(ErrorKind.PERMANENT, "21211", "invalid To")), Clock()
    first = _sender(ledger, provider, clock).send(MESSAGE, receive_count=1)
    again = _sender(ledger, provider, clock).send(MESSAGE, receive_count=2)
    assert (first.outcome, first.error_code) == (SendOutcome.FAILED, "21211")
    assert again.outcome is SendOutcome.DUPLICATE
    assert provider.calls == 1


def test_retryable_error_backs_off_and_marks_the_last_attempt(ledger: DynamoDbLedger) -> None:
    throttled = ProviderError(ErrorKind.RETRYABLE, "20429", "too many requests")
    provider, clock = ScriptedProvider(throttled, throttled, throttled), Clock()
    results = [_sender(ledger, provider, clock).send(MESSAGE, receive_count=n) for n in (1, 2, 3)]
    assert [r.retry_after_seconds for r in results] == [10, 20, 40]
    assert [r.final_attempt for r in results] == [False, False, True]
