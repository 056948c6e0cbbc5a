"""What a sender does after a provider refused a notification for good: ask for the event's other channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from herald.domain.notification import ChannelMessage
from herald.handlers.wiring import Once
from herald.usecases.send import SendResult

if TYPE_CHECKING:  # loaded on the first refusal only: the senders' cold start does not pay for it
    from herald.usecases.followup import FallbackOnFailure


class FallbackRequests:
    """A refusal (an invalid address, an unroutable number, an opted-out recipient) is a failed channel too.

    Without a follow-up queue there is no channel fallback, and a refusal asks for nothing.
    """

    def __init__(self, followup_queue_url: str | None) -> None:
        self._requests: Once[FallbackOnFailure] | None = None
        if followup_queue_url:
            url = followup_queue_url
            self._requests = Once(lambda: _fallback_on_failure(url))

    def __call__(self, message: ChannelMessage, result: SendResult) -> None:
        if self._requests is not None:
            self._requests().on_send_failed(message, result.error_code)


def _fallback_on_failure(followup_queue_url: str) -> FallbackOnFailure:
    from herald.adapters.sqs_followups import SqsFollowUpQueue
    from herald.handlers.aws import aws_client
    from herald.usecases.followup import FallbackOnFailure

    return FallbackOnFailure(SqsFollowUpQueue(aws_client("sqs"), followup_queue_url))
