"""The dead-letter queues: what is parked there and why, and moving it back once the cause is fixed.

Peeking never deletes: messages are received with a short visibility timeout (so paging sees each once) and
made visible again at once when the peek ends. Redrive receives a batch, sends it to the working queue and
deletes from the DLQ only what was sent (SQS's StartMessageMoveTask would do the same server-side, but the
local emulator does not implement it, and a batch loop can report progress message by message).

A redriven notification goes through the sender's claim again: one that was sent meanwhile (or before it was
parked) is acknowledged as a duplicate and sends nothing; one parked as `dlq` is claimed and sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from herald_tools.ops.resources import DeadLetterQueue

RECEIVE_BATCH = 10  # SQS's most per ReceiveMessage / SendMessageBatch / DeleteMessageBatch
PEEK_VISIBILITY_SECONDS = 30  # long enough to page through the queue; reset to 0 when the peek ends
REDRIVE_VISIBILITY_SECONDS = 60  # a batch being moved stays hidden while it is sent and deleted


@dataclass(frozen=True)
class QueueDepth:
    queue: DeadLetterQueue
    visible: int
    in_flight: int


@dataclass
class ParkedMessage:
    """One DLQ message and why it is there, as far as the table knows."""

    message_id: str
    receive_count: int
    sent_at: str | None
    kind: str  # notification, event or unreadable
    identity: dict[str, str] = field(default_factory=dict)
    status: str | None = None
    error_code: str | None = None
    reason: str | None = None
    attempts: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RedriveResult:
    moved: list[str] = field(default_factory=list)  # message ids sent back to the working queue
    failed: list[tuple[str, str]] = field(default_factory=list)  # (message id, why) left in the DLQ


def depths(sqs: Any, queues: list[DeadLetterQueue]) -> list[QueueDepth]:
    result = []
    for queue in queues:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        result.append(
            QueueDepth(
                queue,
                int(attributes.get("ApproximateNumberOfMessages", 0)),
                int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            )
        )
    return result


def peek(sqs: Any, queue_url: str, *, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages of the queue, left in it (visible again when this returns)."""
    seen: dict[str, dict[str, Any]] = {}
    receipts: list[str] = []
    try:
        while len(seen) < limit:
            batch = _receive(sqs, queue_url, min(RECEIVE_BATCH, limit - len(seen)), PEEK_VISIBILITY_SECONDS)
            new = [m for m in batch if m["MessageId"] not in seen]
            receipts.extend(m["ReceiptHandle"] for m in batch)
            if not new:
                break
            for message in new:
                seen[message["MessageId"]] = message
    finally:
        _make_visible(sqs, queue_url, receipts)
    return list(seen.values())[:limit]


def explain(message: dict[str, Any], *, dynamodb: Any, table_name: str) -> ParkedMessage:
    """Why a message is parked: the notification record's error for channel messages, the contract's
    rejection or the event record's state for events."""
    attributes = message.get("Attributes", {})
    parked = ParkedMessage(
        message_id=message["MessageId"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=attributes.get("SentTimestamp"),
        kind="unreadable",
    )
    try:
        body = json.loads(message["Body"])
    except ValueError as error:
        parked.reason = f"body is not JSON: {error}"
        return parked
    if not isinstance(body, dict):
        parked.reason = "body is not a JSON object"
        return parked
    if "notification_id" in body and "channel" in body:
        _explain_notification(parked, body, dynamodb, table_name)
    else:
        _explain_event(parked, message["Body"], dynamodb, table_name)
    return parked


def _explain_notification(parked: ParkedMessage, body: dict[str, Any], dynamodb: Any, table_name: str) -> None:
    from herald.adapters.dynamodb_ledger import notification_sk, order_pk

    parked.kind = "notification"
    parked.identity = {
        name: str(body.get(name, "")) for name in ("notification_id", "channel", "source", "order_id", "event_id")
    }
    if not all(body.get(name) for name in ("source", "order_id", "event_id", "channel")):
        parked.reason = "channel message without source, order_id, event_id or channel"
        return
    key = {
        "pk": {"S": order_pk(body["source"], body["order_id"])},
        "sk": {"S": notification_sk(body["event_id"], body["channel"])},
    }
    item = dynamodb.get_item(TableName=table_name, Key=key).get("Item")
    if item is None:
        parked.reason = "no notification record (expired, or never dispatched)"
        return
    parked.status = item.get("status", {}).get("S")
    parked.error_code = item.get("error_code", {}).get("S")
    parked.reason = item.get("reason", {}).get("S")
    if "attempts" in item:
        parked.attempts = int(item["attempts"]["N"])


def _explain_event(parked: ParkedMessage, raw: str, dynamodb: Any, table_name: str) -> None:
    from herald.adapters.dynamodb_ledger import event_sk, order_pk
    from herald.contract.models import event_data
    from herald.contract.parsing import EventRejected, parse_event

    parked.kind = "event"
    try:
        event = parse_event(raw)
    except EventRejected as rejected:
        parked.identity = {
            "source": rejected.source or "",
            "event_id": rejected.event_id or "",
            "event_type": rejected.event_type or "",
        }
        parked.status = "rejected"
        parked.reason = rejected.reason
        return
    order_id = event_data(event).order.id
    parked.identity = {
        "source": event.source,
        "event_id": event.id,
        "event_type": event.type.value,
        "order_id": order_id,
    }
    key = {"pk": {"S": order_pk(event.source, order_id)}, "sk": {"S": event_sk(event.id)}}
    item = dynamodb.get_item(TableName=table_name, Key=key).get("Item")
    if item is None:
        parked.reason = "valid event with no dispatch record: dispatch failed before recording it"
        return
    parked.status = item.get("status", {}).get("S")
    parked.reason = item.get("reason", {}).get("S") or (
        "dispatch started but did not finish" if parked.status == "dispatching" else None
    )


def redrive(
    sqs: Any,
    queue: DeadLetterQueue,
    *,
    on_progress: Callable[[int], None] = lambda _: None,
    limit: int | None = None,
) -> RedriveResult:
    """Move the DLQ's messages back to its working queue, at most `limit` (default: the depth at the start,
    so messages that fail again and come back during the redrive are not moved twice in one run)."""
    if not queue.source_url:
        raise ValueError(f"{queue.name} DLQ has no working queue to redrive to")
    if limit is None:
        (depth,) = depths(sqs, [queue])
        limit = depth.visible
    result = RedriveResult()
    while len(result.moved) + len(result.failed) < limit:
        wanted = min(RECEIVE_BATCH, limit - len(result.moved) - len(result.failed))
        batch = _receive(sqs, queue.url, wanted, REDRIVE_VISIBILITY_SECONDS)
        if not batch:
            break
        entries = []
        for index, message in enumerate(batch):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=queue.source_url, Entries=entries)
        sent = [batch[int(ok["Id"])] for ok in response.get("Successful", [])]
        if sent:
            sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)],
            )
        unsent = []
        for failure in response.get("Failed", []):
            message = batch[int(failure["Id"])]
            result.failed.append((message["MessageId"], failure.get("Message") or failure.get("Code", "?")))
            unsent.append(message["ReceiptHandle"])
        # What could not be sent stays in the DLQ, visible again for the next attempt.
        _make_visible(sqs, queue.url, unsent)
        result.moved.extend(m["MessageId"] for m in sent)
        on_progress(len(batch))
    return result


def _receive(sqs: Any, url: str, count: int, visibility: int) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=count,
        VisibilityTimeout=visibility,
        # A short poll samples only some SQS servers and can answer empty while messages wait: poll briefly.
        WaitTimeSeconds=1,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def _make_visible(sqs: Any, url: str, receipts: list[str]) -> None:
    for start in range(0, len(receipts), RECEIVE_BATCH):
        chunk = receipts[start : start + RECEIVE_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0} for i, r in enumerate(chunk)],
        )
