"""Channel queues on SQS: the only code that sends Herald's internal messages to SQS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from herald.adapters.sqs_batches import MAX_BATCH_BYTES, batches
from herald.domain.notification import Channel, ChannelMessage

__all__ = ["MAX_BATCH_BYTES", "SqsChannelQueue"]


class SqsChannelQueue:
    def __init__(self, client: Any, queue_urls: Mapping[Channel, str]) -> None:
        self._sqs = client
        self._urls = dict(queue_urls)

    def enqueue(self, messages: Sequence[ChannelMessage]) -> set[str]:
        # Grouped by channel, in the order channels first appear: a batch goes to one queue.
        by_channel: dict[Channel, list[tuple[str, str]]] = {}
        for m in messages:
            by_channel.setdefault(m.channel, []).append((m.notification_id, m.model_dump_json(exclude_none=True)))
        failed: set[str] = set()
        for channel, bodies in by_channel.items():
            for chunk in batches(bodies, _entry_size):
                failed |= self._send_batch(self._urls[channel], chunk)
        return failed

    def _send_batch(self, queue_url: str, chunk: list[tuple[str, str]]) -> set[str]:
        entries = [
            {
                "Id": str(index),
                "MessageBody": body,
                "MessageAttributes": {"notification_id": {"DataType": "String", "StringValue": nid}},
            }
            for index, (nid, body) in enumerate(chunk)
        ]
        try:
            response = self._sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError):
            # botocore has already retried throttling and connection errors; the whole chunk failed,
            # and the events that produced it will be redelivered and resumed.
            return {nid for nid, _ in chunk}
        return {chunk[int(entry["Id"])][0] for entry in response.get("Failed", [])}


def _entry_size(entry: tuple[str, str]) -> int:
    nid, body = entry
    return len(body.encode()) + len(nid) + 64  # the notification_id attribute counts toward the limit too
