"""Send one notification through its provider, at most once.

claim (conditional write) -> provider call -> mark. A crash between the provider's acceptance and the
mark is the only window for a duplicate: the claim's lease expires and a redelivery sends again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from herald.domain.errors import ProviderError, retry_delay_seconds
from herald.domain.notification import ChannelMessage, NotificationStatus
from herald.usecases.ports import NotificationLedger, ProviderRouter


class SendOutcome(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # already sent or permanently failed: nothing to do
    FAILED = "failed"  # permanent provider error, recorded with its code
    RETRY = "retry"  # retryable provider error: come back after `retry_after_seconds`
    IN_FLIGHT = "in_flight"  # another instance holds the claim: come back when its lease ends
    HELD = "held"  # not before `not_before` (quiet hours): come back then; no claim, no attempt counted


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    provider_message_id: str | None = None
    provider: str | None = None  # SENT: which provider took it (the secondary on failover or escalation)
    error_code: str | None = None
    reason: str | None = None
    retry_after_seconds: int = 0
    final_attempt: bool = False
    # HELD only: seconds until `not_before`, uncapped (the channel handler caps it to what SQS allows).
    held_seconds: int = 0
    failed_before: bool = False  # DUPLICATE of a notification that permanently failed (error_code is its code)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: int = 10
    max_seconds: int = 900
    max_receive_count: int = 5  # the channel queue's maxReceiveCount: the receive that reaches it is the last


class Sender:
    def __init__(
        self,
        ledger: NotificationLedger,
        provider: ProviderRouter,
        *,
        lease_seconds: int,
        retry: RetryPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._provider = provider
        self._lease = lease_seconds
        self._retry = retry
        self._clock = clock

    def send(self, message: ChannelMessage, *, receive_count: int) -> SendResult:
        held = self._held(message, receive_count)
        if held is not None:
            return held
        claim = self._ledger.claim(message, lease_seconds=self._lease, now=self._clock())
        if not claim.claimed:
            if claim.status is NotificationStatus.SENDING:
                return SendResult(SendOutcome.IN_FLIGHT, retry_after_seconds=max(1, claim.lease_remaining_seconds))
            if claim.status is NotificationStatus.FAILED:
                # Failed earlier: what followed the failure (a suppression, a fallback request) may not have
                # happened if the instance died; the caller repeats it (every follow-up is idempotent).
                return SendResult(
                    SendOutcome.DUPLICATE,
                    reason="notification already failed",
                    error_code=claim.error_code,
                    failed_before=True,
                )
            return SendResult(SendOutcome.DUPLICATE, reason=f"notification already {claim.status}")

        try:
            accepted = self._provider.send(message)
        except ProviderError as error:
            return self._record_error(message, error, receive_count)
        self._ledger.mark_sent(message, accepted, now=self._clock())
        return SendResult(
            SendOutcome.SENT,
            provider_message_id=accepted.message_id,
            provider=accepted.provider,
            reason=accepted.route_reason,
        )

    def _held(self, message: ChannelMessage, receive_count: int) -> SendResult | None:
        """A message whose `not_before` is still ahead: checked before the claim, so holding it touches nothing.

        `final_attempt` says this receive is the queue's last before the DLQ: the caller must then re-enqueue
        a fresh copy rather than let the hold itself park the message.
        """
        if message.not_before is None:
            return None
        remaining = (datetime.fromisoformat(message.not_before) - self._clock()).total_seconds()
        if remaining <= 0:
            return None
        return SendResult(
            SendOutcome.HELD,
            reason=f"held until {message.not_before}",
            held_seconds=math.ceil(remaining),  # rounded up: never wake before the time
            final_attempt=receive_count >= self._retry.max_receive_count,
        )

    def _record_error(self, message: ChannelMessage, error: ProviderError, receive_count: int) -> SendResult:
        now = self._clock()
        if not error.retryable:
            self._ledger.mark_failed(message, code=error.code, reason=error.message, now=now)
            return SendResult(SendOutcome.FAILED, error_code=error.code, reason=error.message)
        final = receive_count >= self._retry.max_receive_count
        self._ledger.mark_retrying(message, code=error.code, reason=error.message, final=final, now=now)
        delay = retry_delay_seconds(receive_count, base=self._retry.base_seconds, maximum=self._retry.max_seconds)
        return SendResult(
            SendOutcome.RETRY,
            error_code=error.code,
            reason=error.message,
            retry_after_seconds=delay,
            final_attempt=final,
        )
