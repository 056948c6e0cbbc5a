"""Lambda's SQS event source mapping, emulated: receive batches, invoke the function, delete what succeeded.

What Lambda does, and so what this does (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
- it long-polls the queue and gathers up to BatchSize records, waiting up to
  MaximumBatchingWindowInSeconds for a batch to fill;
- it runs up to ScalingConfig.MaximumConcurrency batches at once;
- it invokes the function synchronously with `{"Records": [...]}`;
- if the invocation fails, it deletes nothing: every record becomes visible again after the queue's
  visibility timeout, and SQS moves a record to the dead-letter queue once its receive count passes the
  RedrivePolicy's maxReceiveCount (SQS's job, not the poller's);
- with FunctionResponseTypes [ReportBatchItemFailures] it deletes every record the response does not
  list in `batchItemFailures`; a response it cannot read fails the whole batch;
- otherwise a successful invocation deletes the whole batch.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from herald_tools.local.stack import EventSource

logger = logging.getLogger(__name__)

# SQS returns at most ten messages per ReceiveMessage call.
MAX_MESSAGES_PER_RECEIVE = 10
# A poll that ends early when the worker is told to stop; one second keeps shutdown prompt.
LONG_POLL_SECONDS = 1
# Lambda starts five concurrent batches for an SQS source and scales up from there; locally, five
# is the concurrency of a source with no MaximumConcurrency.
DEFAULT_CONCURRENCY = 5
# Each concurrent batch is a thread with its own long poll against the emulator: more than this on a
# small machine only adds contention, so a larger MaximumConcurrency is capped locally.
LOCAL_CONCURRENCY_CAP = 10
# Lambda's synchronous invocation payload limit; a batch stops gathering once it reaches it.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# The record attributes Lambda passes through (FIFO and tracing ones only when SQS returns them).
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)

Invoke = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def region_of(arn: str) -> str:
    return arn.split(":")[3]


def lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """SQS API message attributes (StringValue/BinaryValue bytes) in the shape Lambda's event uses."""
    converted: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            # boto3 decodes binary values to bytes; the Lambda event carries them base64-encoded.
            entry["binaryValue"] = base64.b64encode(raw).decode("ascii") if isinstance(raw, bytes) else raw
        entry["stringListValues"] = list(value.get("StringListValues", []))
        entry["binaryListValues"] = [
            base64.b64encode(item).decode("ascii") if isinstance(item, bytes) else item
            for item in value.get("BinaryListValues", [])
        ]
        entry["dataType"] = value["DataType"]
        converted[name] = entry
    return converted


def lambda_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One SQS message from ReceiveMessage as a record of Lambda's SQS event."""
    received = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: received[name] for name in _RECORD_ATTRIBUTES if name in received},
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region_of(queue_arn),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {"Records": [lambda_record(message, queue_arn) for message in messages]}


def records_to_keep(response: Any, message_ids: Sequence[str], *, report_batch_item_failures: bool) -> set[str]:
    """The message ids a successful invocation leaves on the queue (the rest are deleted).

    Without ReportBatchItemFailures the response is not read: the whole batch succeeded. With it, an
    empty or null response or failure list means complete success; a response Lambda cannot read (not an
    object, a list that is not a list, an entry without a non-empty itemIdentifier of this batch) means
    the whole batch failed.
    """
    every_id = set(message_ids)
    if not report_batch_item_failures or response is None:
        return set()
    if not isinstance(response, Mapping):
        logger.warning("response is not a JSON object (%s): the whole batch failed", type(response).__name__)
        return every_id
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        logger.warning("batchItemFailures is not a list: the whole batch failed")
        return every_id
    keep: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or identifier not in every_id:
            logger.warning("invalid batchItemFailures entry %r: the whole batch failed", failure)
            return every_id
        keep.add(identifier)
    return keep


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    failed_invocations: int = 0
    records_kept: int = 0


class SqsPoller:
    """Runs one SQS event source mapping: batches from `source.queue_url` into `invoke`."""

    def __init__(
        self,
        aws_client_factory: Callable[[str], Any],
        source: EventSource,
        invoke: Invoke,
        *,
        function_name: str,
        concurrency_cap: int = LOCAL_CONCURRENCY_CAP,
    ) -> None:
        self._client_factory = aws_client_factory
        self.source = source
        self._invoke = invoke
        self.function_name = function_name
        wanted = source.max_concurrency or DEFAULT_CONCURRENCY
        self.concurrency = max(1, min(wanted, concurrency_cap))
        if self.concurrency < wanted:
            logger.info("%s: MaximumConcurrency %d capped to %d locally", function_name, wanted, self.concurrency)
        self.stats = PollerStats()
        self._stats_lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; batches in flight finish (and are settled) before this returns."""
        if not self.source.enabled:
            logger.info("%s: event source %s is disabled; not polling", self.function_name, self.source.queue_arn)
            stop.wait()
            return
        # One client per concurrent batch, created here (client creation is not thread-safe).
        clients = [self._client_factory("sqs") for _ in range(self.concurrency)]
        threads = [
            threading.Thread(
                target=self._loop, args=(client, stop), name=f"poll-{self.function_name}-{index}", daemon=True
            )
            for index, client in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self, client: Any, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once(client, stop)
            except Exception:
                # The emulator refused or dropped a request: Lambda's poller keeps polling too.
                logger.exception("%s: polling %s failed; retrying", self.function_name, self.source.queue_url)
                stop.wait(1.0)

    def poll_once(self, client: Any, stop: threading.Event) -> int:
        """Gather one batch, invoke the function with it and settle it. Returns the batch's size."""
        messages = self._gather(client, stop)
        if not messages:
            return 0
        event = sqs_event(messages, self.source.queue_arn)
        ids = [message["MessageId"] for message in messages]
        try:
            response = self._invoke(event)
        except Exception:
            logger.exception(
                "%s: invocation failed; its %d records return after the visibility timeout",
                self.function_name,
                len(messages),
            )
            self._count(len(messages), failed=True, kept=len(messages))
            return len(messages)
        keep = records_to_keep(response, ids, report_batch_item_failures=self.source.report_batch_item_failures)
        self._delete(client, [m for m in messages if m["MessageId"] not in keep])
        self._count(len(messages), failed=False, kept=len(keep))
        return len(messages)

    def _gather(self, client: Any, stop: threading.Event) -> list[dict[str, Any]]:
        batch_size = self.source.batch_size
        window = self.source.batching_window_seconds
        messages: list[dict[str, Any]] = []
        payload = 0
        deadline: float | None = None
        while len(messages) < batch_size and payload < MAX_PAYLOAD_BYTES and not stop.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            # Once the window is running, poll no longer than what is left of it.
            wait = LONG_POLL_SECONDS if remaining is None else min(LONG_POLL_SECONDS, int(remaining))
            received = client.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(batch_size - len(messages), MAX_MESSAGES_PER_RECEIVE),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(received)
            payload += sum(len(message["Body"].encode()) for message in received)
            if not messages:
                continue
            if window <= 0:
                # No batching window: invoke with whatever the first non-empty receive returned.
                break
            if deadline is None:
                deadline = time.monotonic() + window
            elif not received and wait == 0:
                # A short poll found nothing; don't spin on the emulator for the rest of the window.
                stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return messages

    def _delete(self, client: Any, messages: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_MESSAGES_PER_RECEIVE):
            chunk = messages[start : start + MAX_MESSAGES_PER_RECEIVE]
            result = client.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(chunk)],
            )
            for failure in result.get("Failed", []):
                # The record stays, and comes back: at-least-once, as with Lambda.
                logger.warning("%s: could not delete a record: %s", self.function_name, failure.get("Message"))

    def _count(self, records: int, *, failed: bool, kept: int) -> None:
        with self._stats_lock:
            self.stats.batches += 1
            self.stats.records += records
            self.stats.failed_invocations += int(failed)
            self.stats.records_kept += kept
