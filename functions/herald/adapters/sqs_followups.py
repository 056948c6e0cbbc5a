"""The follow-up queue on SQS: deadline checks delayed with DelaySeconds, fallback requests sent at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from herald.adapters.sqs_batches import batches
from herald.domain.notification import ChannelMessage
from herald.domain.redundancy import MAX_DEADLINE_SECONDS, FollowUpKind, FollowUpRequest


class SqsFollowUpQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def schedule_deadlines(self, messages: Sequence[ChannelMessage], delay_seconds: int) -> set[str]:
        # SQS holds a message back at most 15 minutes: the template bounds the deadline to that.
        delay = max(0, min(delay_seconds, MAX_DEADLINE_SECONDS))
        bodies = [
            (
                message.notification_id,
                FollowUpRequest(
                    kind=FollowUpKind.DEADLINE,
                    source=message.source,
                    order_id=message.order_id,
                    event_id=message.event_id,
                    channel=message.channel.value,
                    reason=f"no delivery reported within {delay_seconds} s",
                    message=message,
                ).model_dump_json(exclude_none=True),
            )
            for message in messages
        ]
        failed: set[str] = set()
        for chunk in batches(bodies, lambda entry: len(entry[1].encode()) + 64):
            entries = [
                {"Id": str(index), "MessageBody": body, "DelaySeconds": delay} for index, (_, body) in enumerate(chunk)
            ]
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError):
                # botocore retried already; the events are redelivered and their dispatch resumed.
                failed |= {nid for nid, _ in chunk}
                continue
            failed |= {chunk[int(entry["Id"])][0] for entry in response.get("Failed", [])}
        return failed

    def request(self, request: FollowUpRequest) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=request.model_dump_json(exclude_none=True))
