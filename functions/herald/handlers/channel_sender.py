"""What send-email and send-sms share: a concurrent SQS batch of notifications, each sent at most once."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.masking import mask_recipient
from herald.domain.notification import Channel, ChannelMessage
from herald.handlers.aws import aws_client
from herald.handlers.aws import queue_url as _queue_url
from herald.handlers.wiring import PORT_LEDGER, PORT_PROVIDER_ROUTER, port
from herald.observability import count, emit
from herald.usecases.ports import ProviderRouter
from herald.usecases.send import RetryPolicy, Sender, SendOutcome, SendResult

if TYPE_CHECKING:
    from herald.config import SenderSettings

# Lambda gives a small function a fraction of a vCPU; the default executor would size itself to that and
# serialise a batch of 10 provider calls. The calls wait on the network, so one thread per record.
_EXECUTOR = ThreadPoolExecutor(max_workers=10, thread_name_prefix="send")

# SQS limits for holding a message (quiet hours): a visibility timeout may reach 12 hours counted from the
# receive, so keep a minute's margin for the time since; a DelaySeconds at most 15 minutes.
MAX_VISIBILITY_SECONDS = 12 * 3600 - 60
MAX_DELAY_SECONDS = 900


class RetryLater(Exception):
    """Tells the batch processor this record failed; its visibility timeout was already set for the retry."""


@dataclass(frozen=True)
class SenderGraph:
    """What a sender's composition root builds: the use case, and what follows a refusal."""

    sender: Sender
    # e.g. send-sms turns Twilio's 21610 into a suppression; both senders ask for the other channel
    on_failed: Callable[[ChannelMessage, SendResult], None] | None = None


def sender_graph(
    config: SenderSettings,
    router: ProviderRouter,
    *,
    on_failed: Callable[[ChannelMessage, SendResult], None] | None = None,
) -> SenderGraph:
    """The part of the graph both senders share: the ledger and the router (each offered to port decorators)."""
    from herald.adapters.dynamodb_ledger import DynamoDbLedger

    ledger = DynamoDbLedger(aws_client("dynamodb"), config.table_name, ttl_days=config.ttl_days)
    retry = RetryPolicy(config.retry_base_seconds, config.retry_max_seconds, config.max_receive_count)
    sender = Sender(
        port(PORT_LEDGER, ledger),
        port(PORT_PROVIDER_ROUTER, router),
        lease_seconds=config.claim_lease_seconds,
        retry=retry,
    )
    return SenderGraph(sender, on_failed)


class ChannelSender:
    """The handler side of a sender: the SQS batch, the back-off and holds on the queue, the reports."""

    def __init__(self, channel: Channel, logger: Logger, root: Callable[[], SenderGraph]) -> None:
        self.channel = channel
        self.logger = logger
        self._root = root

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        graph = self._root()
        # Two copies of one notification in the same batch (at-least-once delivery) go one after the other:
        # the second then finds the first's mark and is acknowledged as a duplicate at once.
        locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        locks_guard = threading.Lock()

        def send_serialised(record: SQSRecord) -> None:
            with locks_guard:
                lock = locks[_notification_key(record)]
            with lock:
                self._send_logged(graph, record)

        async def send_record(record: SQSRecord) -> None:
            await asyncio.get_running_loop().run_in_executor(_EXECUTOR, send_serialised, record)

        # Report a batch that failed entirely as item failures too: our retries already set each message's delay.
        processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return dict(async_process_partial_response(event, send_record, processor, context))

    def _send_logged(self, graph: SenderGraph, record: SQSRecord) -> None:
        try:
            self._send_one(graph, record)
        except RetryLater:
            raise
        except Exception:
            # Logged here with the record's id, then re-raised: the batch processor reports the record as
            # failed, SQS redelivers it, and after maxReceiveCount it is parked in the DLQ.
            self.logger.exception("record failed", extra={"sqs_message_id": record.message_id})
            raise

    def _send_one(self, graph: SenderGraph, record: SQSRecord) -> None:
        # A body that is not a ChannelMessage is a poison message: the exception fails this record only,
        # and after maxReceiveCount receives SQS parks it in the DLQ.
        message = ChannelMessage.model_validate_json(record.body)
        self.logger.thread_safe_append_keys(correlation_id=message.order_id, notification_id=message.notification_id)
        try:
            result = graph.sender.send(message, receive_count=int(record.attributes.approximate_receive_count))
            self._report(message, result)
            if (result.outcome is SendOutcome.FAILED or result.failed_before) and graph.on_failed is not None:
                graph.on_failed(message, result)
            if result.outcome is SendOutcome.HELD:
                self._hold(record, message, result)
                return
            if result.outcome in (SendOutcome.RETRY, SendOutcome.IN_FLIGHT):
                # Back-off through the visibility timeout: the function does not sleep, the message waits.
                # The SQS client is only needed here and for holds: built on first use, off the cold start.
                sqs = aws_client("sqs")
                sqs.change_message_visibility(
                    QueueUrl=_queue_url(sqs, record.event_source_arn),
                    ReceiptHandle=record.receipt_handle,
                    VisibilityTimeout=result.retry_after_seconds,
                )
                raise RetryLater(f"{result.outcome}: retry in {result.retry_after_seconds}s ({result.error_code})")
        finally:
            self.logger.thread_safe_remove_keys(["correlation_id", "notification_id"])

    def _hold(self, record: SQSRecord, message: ChannelMessage, result: SendResult) -> None:
        """Keep a message that is not due yet out of sight until it is, without spending its receives.

        Usually: hide it (visibility timeout) and report it failed, so SQS hands it back when due. On the
        receive that reached maxReceiveCount a failure would park it in the DLQ instead, so put a fresh copy
        (receive count 0) on the queue, delayed as far as SQS allows, and acknowledge this one.
        """
        sqs = aws_client("sqs")
        queue_url = _queue_url(sqs, record.event_source_arn)
        if result.final_attempt:
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=record.body,
                DelaySeconds=min(result.held_seconds, MAX_DELAY_SECONDS),
                MessageAttributes={"notification_id": {"DataType": "String", "StringValue": message.notification_id}},
            )
            return
        sqs.change_message_visibility(
            QueueUrl=queue_url,
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=min(result.held_seconds, MAX_VISIBILITY_SECONDS),
        )
        raise RetryLater(f"held: not before {message.not_before}")

    def _report(self, message: ChannelMessage, result: SendResult) -> None:
        self.logger.info(
            f"{self.channel} {result.outcome}",
            extra={
                "outcome": result.outcome.value,
                "event_type": message.event_type,
                "to": mask_recipient(message.to),
                "provider_message_id": result.provider_message_id,
                "error_code": result.error_code,
                "reason": result.reason,
                "final_attempt": result.final_attempt,
                "not_before": message.not_before,
            },
        )
        names = {
            SendOutcome.SENT: "NotificationsSent",
            SendOutcome.FAILED: "NotificationsFailed",
            SendOutcome.RETRY: "NotificationsRetried",
            SendOutcome.DUPLICATE: "NotificationsDuplicate",
            SendOutcome.IN_FLIGHT: "NotificationsInFlight",
            SendOutcome.HELD: "NotificationsHeld",
        }
        count(names[result.outcome], channel=self.channel.value, event_type=message.event_type)
        if result.outcome is SendOutcome.SENT:
            latency = datetime.now(UTC) - datetime.fromisoformat(message.event_time)
            emit(
                "EventToProviderLatency",
                latency.total_seconds() * 1000,
                MetricUnit.Milliseconds,
                channel=self.channel.value,
            )


def _notification_key(record: SQSRecord) -> str:
    """The notification a record carries, read from its body (a copy may come without message attributes)."""
    try:
        document = json.loads(record.body)
    except ValueError:
        return record.body  # a poison message: it fails on its own anyway
    key = document.get("notification_id") if isinstance(document, dict) else None
    return str(key) if key else record.body
