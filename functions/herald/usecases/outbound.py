"""Deliver one outbound event to its storefront: signed POST to its webhook URL, and PutEvents on its bus.

The storefront's registry entry says where (`outbound`). Each target that took the event is recorded on the order's
timeline (WebhookRecords), so a retry repeats only what did not go through; every attempt is recorded with its
outcome. Retryable outcomes (no answer, 408, 429, 5xx, an unreadable secret, a throttled bus) come back through the
queue's visibility timeout with a growing delay until the queue's maxReceiveCount, after which SQS parks the message
in the DLQ; a permanent refusal (another 4xx, a redirect) is recorded failed at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from herald.domain.errors import retry_delay_seconds
from herald.domain.masking import mask_text
from herald.domain.outbound import CONTENT_TYPE, OutboundEvent, Verdict, retry_after_seconds, verdict
from herald.usecases.ports import (
    EventBusRefused,
    StorefrontDirectory,
    StorefrontEventBus,
    WebhookAttempt,
    WebhookNotAnswered,
    WebhookRecords,
    WebhookTransport,
)
from herald.usecases.send import RetryPolicy
from herald.webhooks import standard_webhooks

WEBHOOK = "webhook"
EVENT_BUS = "event_bus"
USER_AGENT = "Herald-Webhooks/1.0"


class SigningSecretUnusable(Exception):
    """The storefront's signing secret cannot be read or parsed (raised by the key reader the handler gives)."""


class Outcome(StrEnum):
    DELIVERED = "delivered"
    ALREADY_DELIVERED = "already_delivered"  # a redelivered message whose every target took it before
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    reason: str | None = None
    status_code: int | None = None
    retry_after_seconds: int = 0
    final_attempt: bool = False


@dataclass(frozen=True)
class _Part:
    verdict: Verdict
    reason: str
    status_code: int | None = None
    retry_after: int | None = None


class OutboundWebhooks:
    def __init__(
        self,
        storefronts: StorefrontDirectory,
        signing_keys: Callable[[str], Sequence[bytes]],
        transport: WebhookTransport,
        bus: StorefrontEventBus,
        records: WebhookRecords,
        *,
        retry: RetryPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._storefronts = storefronts
        self._signing_keys = signing_keys
        self._transport = transport
        self._bus = bus
        self._records = records
        self._retry = retry
        self._clock = clock

    def deliver(self, event: OutboundEvent, *, receive_count: int) -> DeliveryResult:
        entry = self._storefronts.get(event.storefront_source)
        if entry is None or entry.outbound is None:
            why = "no registry entry" if entry is None else "no outbound webhook in its registry entry"
            reason = f"storefront {event.storefront_source!r} has {why}"
            self._records.record(event, WebhookAttempt("webhook_skipped", reason, self._clock()))
            return DeliveryResult(Outcome.SKIPPED, reason)
        outbound = entry.outbound
        wanted = {WEBHOOK} | ({EVENT_BUS} if outbound.event_bus_arn else set())
        done = self._records.delivered_targets(event)
        if wanted <= done:
            return DeliveryResult(Outcome.ALREADY_DELIVERED, "every target took it before")
        parts: dict[str, _Part] = {}
        if outbound.event_bus_arn and EVENT_BUS not in done:
            parts[EVENT_BUS] = self._put_on_bus(outbound.event_bus_arn, event)
        if WEBHOOK not in done:
            parts[WEBHOOK] = self._post(outbound.url, outbound.secret_id, event)
        return self._conclude(event, parts, receive_count)

    def _post(self, url: str, secret_id: str, event: OutboundEvent) -> _Part:
        if not url.startswith("https://"):
            # The registry's model refuses any other URL; an entry written around it is still never sent to.
            return _Part(Verdict.PERMANENT, "refused: the webhook URL is not https://")
        try:
            keys = self._signing_keys(secret_id)
        except SigningSecretUnusable as error:
            return _Part(Verdict.RETRY, f"signing secret {secret_id}: {error}")
        body = event.body()
        # The attempt's time, not the event's: the receiver's replay window is counted from it (the specification).
        timestamp = int(self._clock().timestamp())
        headers = {
            **standard_webhooks.headers(keys, event.id, timestamp, body),
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
        }
        try:
            answer = self._transport.post(url, body, headers)
        except WebhookNotAnswered as error:
            return _Part(Verdict.RETRY, f"no answer: {error}")
        found = verdict(answer.status)
        reason = {
            Verdict.DELIVERED: f"HTTP {answer.status}",
            Verdict.RETRY: f"HTTP {answer.status}: retried",
            Verdict.PERMANENT: f"HTTP {answer.status}: refused"
            + (" (redirects are not followed: update the URL)" if 300 <= answer.status < 400 else ""),
        }[found]
        wait = retry_after_seconds(answer.retry_after, maximum=self._retry.max_seconds)
        return _Part(found, reason, answer.status, wait)

    def _put_on_bus(self, bus_arn: str, event: OutboundEvent) -> _Part:
        try:
            self._bus.put(bus_arn, event)
        except EventBusRefused as error:
            return _Part(Verdict.RETRY if error.retryable else Verdict.PERMANENT, f"event bus: {error.reason}")
        return _Part(Verdict.DELIVERED, "event bus: put")

    def _conclude(self, event: OutboundEvent, parts: dict[str, _Part], receive_count: int) -> DeliveryResult:
        delivered = frozenset(target for target, part in parts.items() if part.verdict is Verdict.DELIVERED)
        reason = mask_text("; ".join(part.reason for part in parts.values()))
        status = parts[WEBHOOK].status_code if WEBHOOK in parts else None
        now = self._clock()
        if any(part.verdict is Verdict.RETRY for part in parts.values()):
            final = receive_count >= self._retry.max_receive_count
            if final:
                reason = f"{reason}; gave up after {receive_count} attempts: the message goes to the DLQ"
            self._records.record(
                event,
                WebhookAttempt(
                    "webhook_failed" if final else "webhook_retrying", reason, now, status, delivered, final=final
                ),
            )
            backoff = retry_delay_seconds(receive_count, base=self._retry.base_seconds, maximum=self._retry.max_seconds)
            asked = max((part.retry_after or 0 for part in parts.values()), default=0)
            return DeliveryResult(
                Outcome.RETRY, reason, status, retry_after_seconds=max(backoff, asked), final_attempt=final
            )
        if any(part.verdict is Verdict.PERMANENT for part in parts.values()):
            self._records.record(event, WebhookAttempt("webhook_failed", reason, now, status, delivered))
            return DeliveryResult(Outcome.FAILED, reason, status)
        self._records.record(event, WebhookAttempt("webhook_delivered", reason, now, status, delivered))
        return DeliveryResult(Outcome.DELIVERED, reason, status)
