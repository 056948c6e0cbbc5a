"""The outbound-webhooks use case (usecases.outbound) over fakes: what each answer becomes, what is recorded, what a
retry repeats, and how the request is signed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.storefronts import storefront

from herald.domain.outbound import CONTENT_TYPE, OutboundEvent, OutboundType, outbound_event
from herald.domain.storefront import StaticStorefronts
from herald.usecases.outbound import OutboundWebhooks, Outcome, SigningSecretUnusable
from herald.usecases.ports import EventBusRefused, WebhookAnswer, WebhookAttempt, WebhookNotAnswered
from herald.usecases.send import RetryPolicy
from herald.webhooks import standard_webhooks as sw

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
KEY, OLD_KEY = bytes(range(32)), bytes(range(100, 124))
URL = "https://acme.example/hooks/herald"
BUS = "arn:aws:events:us-east-1:444455556666:event-bus/acme-orders"
RETRY = RetryPolicy(base_seconds=60, max_seconds=3600, max_receive_count=4)


@dataclass
class Receiver:
    """Answers each POST with the next of `answers` (a status, or None for no answer), then 204."""

    answers: list[int | None] = field(default_factory=list)
    retry_after: str | None = None
    requests: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
        self.requests.append((url, body, dict(headers)))
        status = self.answers.pop(0) if self.answers else 204
        if status is None:
            raise WebhookNotAnswered("ReadTimeoutError")
        return WebhookAnswer(status, self.retry_after)


@dataclass
class Bus:
    refusals: list[EventBusRefused] = field(default_factory=list)
    put_events: list[tuple[str, str]] = field(default_factory=list)

    def put(self, bus_arn: str, event: OutboundEvent) -> None:
        if self.refusals:
            raise self.refusals.pop(0)
        self.put_events.append((bus_arn, event.id))


@dataclass
class Records:
    attempts: list[WebhookAttempt] = field(default_factory=list)

    def delivered_targets(self, event: OutboundEvent) -> frozenset[str]:
        return frozenset().union(*(a.delivered for a in self.attempts))

    def record(self, event: OutboundEvent, attempt: WebhookAttempt) -> None:
        self.attempts.append(attempt)


def world(outbound: dict[str, Any] | None = None, *, keys: list[bytes] | None = None) -> Any:
    entry = storefront("storefront/acme", outbound=outbound or {"url": URL, "secret_id": "herald/acme/outbound"})
    receiver, bus, records = Receiver(), Bus(), Records()
    secrets_read: list[str] = []

    def signing_keys(secret_id: str) -> list[bytes]:
        secrets_read.append(secret_id)
        return keys if keys is not None else [KEY]

    use_case = OutboundWebhooks(
        StaticStorefronts([entry]), signing_keys, receiver, bus, records, retry=RETRY, clock=lambda: NOW
    )
    return use_case, receiver, bus, records, secrets_read


def event(source: str = "storefront/acme") -> OutboundEvent:
    return OutboundEvent.model_validate(
        outbound_event(
            source,
            OutboundType.DELIVERY_DISPUTED,
            "1001",
            {"shipment_id": "shp_1", "answer": "not_received", "note": "call me at +1 415 555 0100"},
            "hrld_abc",
            time=NOW,
        )
    )


def test_a_2xx_answer_is_delivered_and_recorded_with_its_status() -> None:
    # Given a storefront whose receiver answers 204
    use_case, receiver, _, records, secrets_read = world()
    # When the event is delivered
    result = use_case.deliver(event(), receive_count=1)
    # Then it was posted once to the entry's URL, signed with the entry's secret
    assert result.outcome is Outcome.DELIVERED
    ((url, body, headers),) = receiver.requests
    assert url == URL
    assert secrets_read == ["herald/acme/outbound"]
    assert body == event().body()
    assert headers["Content-Type"] == CONTENT_TYPE
    assert headers["webhook-id"] == "hrld_abc"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert sw.verify([KEY], headers, body, now=int(NOW.timestamp())) == "hrld_abc"
    # And the attempt is recorded delivered with the receiver's status, the customer's phone masked
    (attempt,) = records.attempts
    assert (attempt.kind, attempt.status_code, attempt.delivered) == ("webhook_delivered", 204, {"webhook"})
    assert "HTTP 204" in str(attempt.reason)


def test_every_key_of_a_rotation_signs_the_request() -> None:
    # Given a secret holding the new key and the old one
    use_case, receiver, _, _, _ = world(keys=[KEY, OLD_KEY])
    # When the event is delivered
    use_case.deliver(event(), receive_count=1)
    # Then a receiver still on the old key verifies it, as does one on the new key
    ((_, body, headers),) = receiver.requests
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert sw.verify([OLD_KEY], headers, body, now=int(NOW.timestamp())) == "hrld_abc"
    assert sw.verify([KEY], headers, body, now=int(NOW.timestamp())) == "hrld_abc"


@pytest.mark.parametrize(
    ("answer", "receive_count", "delay"), [(500, 1, 60), (429, 2, 120), (503, 3, 240), (None, 1, 60), (408, 3, 240)]
)
def test_no_answer_408_429_and_5xx_are_retried_with_a_growing_delay(
    answer: int | None, receive_count: int, delay: int
) -> None:
    # Given a receiver that fails this attempt
    use_case, receiver, _, records, _ = world()
    receiver.answers = [answer]
    # When the event is delivered on its n-th receive (before the queue's last)
    result = use_case.deliver(event(), receive_count=receive_count)
    # Then it is retried after that attempt's back-off (60 s doubling), and recorded as retrying
    assert (result.outcome, result.retry_after_seconds, result.final_attempt) == (Outcome.RETRY, delay, False)
    (attempt,) = records.attempts
    assert (attempt.kind, attempt.status_code, attempt.final) == ("webhook_retrying", answer, False)
    assert ("no answer: ReadTimeoutError" if answer is None else f"HTTP {answer}: retried") == attempt.reason


def test_a_longer_retry_after_is_honoured_up_to_the_maximum() -> None:
    use_case, receiver, _, _, _ = world()
    receiver.answers, receiver.retry_after = [503], "600"
    assert use_case.deliver(event(), receive_count=1).retry_after_seconds == 600
    receiver.answers, receiver.retry_after = [503], "86400"
    assert use_case.deliver(event(), receive_count=1).retry_after_seconds == 3600


def test_the_last_receive_that_fails_is_recorded_failed_for_the_dlq() -> None:
    # Given a receiver still failing on the queue's last receive
    use_case, receiver, _, records, _ = world()
    receiver.answers = [502]
    # When that attempt fails
    result = use_case.deliver(event(), receive_count=RETRY.max_receive_count)
    # Then it is the final attempt (the handler lets SQS park it in the DLQ), recorded failed and final
    assert (result.outcome, result.final_attempt) == (Outcome.RETRY, True)
    (attempt,) = records.attempts
    assert (attempt.kind, attempt.final) == ("webhook_failed", True)
    assert "gave up after 4 attempts" in str(attempt.reason)


@pytest.mark.parametrize(
    ("status", "note"), [(400, "refused"), (404, "refused"), (410, "refused"), (301, "update the URL")]
)
def test_other_4xx_and_redirects_are_final_failures(status: int, note: str) -> None:
    # Given a receiver that refuses the request (or redirects it, which is never followed)
    use_case, receiver, _, records, _ = world()
    receiver.answers = [status]
    # When the event is delivered
    result = use_case.deliver(event(), receive_count=1)
    # Then it failed for good, recorded with the status: not retried
    assert result.outcome is Outcome.FAILED
    (attempt,) = records.attempts
    assert (attempt.kind, attempt.status_code, attempt.delivered) == ("webhook_failed", status, frozenset())
    assert note in str(attempt.reason)


@pytest.mark.parametrize(
    ("source", "why"),
    [("storefront/unknown", "has no registry entry"), ("storefront/plain", "has no outbound webhook in its registry")],
)
def test_a_storefront_without_outbound_is_skipped_with_the_reason(source: str, why: str) -> None:
    # Given a storefront with no entry, or one whose entry has no outbound webhook
    use_case, receiver, _, records, _ = world()
    use_case._storefronts = StaticStorefronts([storefront("storefront/plain")])
    # When its event is delivered
    result = use_case.deliver(event(source), receive_count=1)
    # Then nothing is posted, and the skip is recorded with why: not an error
    assert result.outcome is Outcome.SKIPPED
    assert receiver.requests == []
    (attempt,) = records.attempts
    assert attempt.kind == "webhook_skipped"
    assert f"storefront {source!r} {why}" in str(attempt.reason)


def test_a_signing_secret_that_cannot_be_used_is_retried_and_nothing_is_posted() -> None:
    # Given a secret the key reader cannot use (missing, denied, or not whsec_)
    use_case, receiver, _, records, _ = world()

    def unusable(secret_id: str) -> list[bytes]:
        raise SigningSecretUnusable("a signing secret starts with whsec_")

    use_case._signing_keys = unusable
    # When the event is delivered
    result = use_case.deliver(event(), receive_count=1)
    # Then it waits for the fix in its retries, and nothing unsigned went out
    assert result.outcome is Outcome.RETRY
    assert receiver.requests == []
    assert "signing secret herald/acme/outbound: a signing secret starts with whsec_" in str(records.attempts[0].reason)


def test_with_a_bus_the_event_is_put_there_too_and_a_retry_repeats_only_what_failed() -> None:
    # Given a storefront with a bus, whose bus takes the event while its receiver answers 500
    use_case, receiver, bus, records, _ = world({"url": URL, "secret_id": "herald/acme/outbound", "event_bus_arn": BUS})
    receiver.answers = [500]
    # When the event is delivered, then retried
    first = use_case.deliver(event(), receive_count=1)
    second = use_case.deliver(event(), receive_count=2)
    # Then the bus got it once, the receiver twice, and the second attempt is the delivery
    assert (first.outcome, second.outcome) == (Outcome.RETRY, Outcome.DELIVERED)
    assert bus.put_events == [(BUS, "hrld_abc")]
    assert len(receiver.requests) == 2
    assert [a.delivered for a in records.attempts] == [{"event_bus"}, {"webhook"}]
    # And a redelivery after both took it sends nothing more
    assert use_case.deliver(event(), receive_count=1).outcome is Outcome.ALREADY_DELIVERED
    assert len(receiver.requests) == 2


def test_a_bus_refusal_is_retried_or_final_as_eventbridge_says() -> None:
    use_case, receiver, bus, records, _ = world({"url": URL, "secret_id": "herald/acme/outbound", "event_bus_arn": BUS})
    bus.refusals = [EventBusRefused("PutEvents entry failed (ThrottlingException)", retryable=True)]
    assert use_case.deliver(event(), receive_count=1).outcome is Outcome.RETRY
    bus.refusals = [EventBusRefused("PutEvents entry failed (MalformedDetail)", retryable=False)]
    result = use_case.deliver(event(), receive_count=2)
    # The webhook went through on the first attempt; the bus's final refusal fails the event for good
    assert result.outcome is Outcome.FAILED
    assert len(receiver.requests) == 1
    assert "event bus: PutEvents entry failed (MalformedDetail)" in str(records.attempts[-1].reason)


def test_the_recorded_reason_masks_what_a_receiver_echoes() -> None:
    # Given a receiver that does not answer, with an error naming an address
    use_case, receiver, _, records, _ = world()

    def failing(url: str, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
        raise WebhookNotAnswered("connection reset while sending jane.doe@example.com's answer")

    receiver.post = failing  # type: ignore[method-assign]
    use_case.deliver(event(), receive_count=1)
    assert "jane.doe@example.com" not in str(records.attempts[0].reason)


def test_an_entry_whose_url_is_not_https_is_never_posted_to() -> None:
    # Given an entry written around the model (the registry's JSON edited by hand)
    use_case, receiver, _, records, _ = world()
    entry = storefront("storefront/acme", outbound={"url": URL, "secret_id": "s"})
    forged = entry.model_copy(update={"outbound": entry.outbound.model_copy(update={"url": "http://acme.example/h"})})  # type: ignore[union-attr]
    use_case._storefronts = StaticStorefronts([forged])
    # When its event is delivered, Then nothing is posted and it fails for good
    assert use_case.deliver(event(), receive_count=1).outcome is Outcome.FAILED
    assert receiver.requests == []
    assert "not https" in str(records.attempts[0].reason)


def test_the_body_sent_is_the_queued_event_byte_for_byte() -> None:
    use_case, receiver, _, _, _ = world()
    use_case.deliver(event(), receive_count=1)
    ((_, body, _),) = receiver.requests
    # The customer's note is the storefront's to read: masked in Herald's records, never in what it sends
    assert json.loads(body)["data"]["note"] == "call me at +1 415 555 0100"


def test_the_deployed_back_off_is_the_documented_one_and_spans_about_six_hours() -> None:
    # Given the function's settings as deployed (the template sets only the queue's maxReceiveCount)
    from tests.template import load_template

    from herald.config import OutboundWebhooksSettings
    from herald.domain.errors import retry_delay_seconds

    attempts = load_template()["Parameters"]["OutboundWebhooksMaxReceiveCount"]["Default"]
    settings = OutboundWebhooksSettings.from_environment({"HERALD_MAX_RECEIVE_COUNT": str(attempts)})
    # When each failed attempt but the last waits its back-off
    delays = [
        retry_delay_seconds(n, base=settings.retry_base_seconds, maximum=settings.retry_max_seconds)
        for n in range(1, attempts)
    ]
    # Then it is docs/outbound-webhooks.md's schedule: 60 s doubling up to an hour, about six hours in all
    assert delays[:3] == [60, 120, 240]
    assert max(delays) == 3600
    assert round(sum(delays) / 3600) == 6
