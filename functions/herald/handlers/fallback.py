"""What a sender does after a provider refused a notification for good: ask for the event's other channel."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from herald.domain.notification import ChannelMessage
from herald.usecases.send import SendResult

if TYPE_CHECKING:  # loaded on the first refusal only: the senders' cold start does not pay for it
    from herald.usecases.followup import FallbackOnFailure


@cache
def _fallback_requests() -> FallbackOnFailure | None:
    from herald.adapters.sqs_followups import SqsFollowUpQueue
    from herald.config import settings
    from herald.handlers.aws import aws_client
    from herald.usecases.followup import FallbackOnFailure

    url = settings().followup_queue_url
    return FallbackOnFailure(SqsFollowUpQueue(aws_client("sqs"), url)) if url else None


def ask_for_fallback(message: ChannelMessage, result: SendResult) -> None:
    """A refusal (an invalid address, an unroutable number, an opted-out recipient) is a failed channel too."""
    requests = _fallback_requests()
    if requests is not None:
        requests.on_send_failed(message, result.error_code)
