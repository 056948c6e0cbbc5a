"""The SQS poller's pure parts (Lambda's event shape, batch settling) and its loop over a fake SQS client."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import Any

import pytest

from herald_tools.local.poller import (
    LOCAL_CONCURRENCY_CAP,
    SqsPoller,
    lambda_message_attributes,
    lambda_record,
    records_to_keep,
    sqs_event,
)
from herald_tools.local.stack import EventSource

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"
QUEUE_URL = "http://127.0.0.1:5000/123456789012/orders"


def sqs_message(index: int, body: str = "hello") -> dict[str, Any]:
    """A message as boto3's ReceiveMessage returns it."""
    return {
        "MessageId": f"id-{index}",
        "ReceiptHandle": f"rh-{index}",
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
        "Body": body,
        "Attributes": {
            "SenderId": "AIDAEXAMPLE",
            "SentTimestamp": "1700000000000",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1700000000100",
        },
    }


def source(**overrides: Any) -> EventSource:
    settings: dict[str, Any] = {
        "queue_arn": QUEUE_ARN,
        "queue_url": QUEUE_URL,
        "batch_size": 10,
        "max_concurrency": None,
        "batching_window_seconds": 0,
        "report_batch_item_failures": True,
        "enabled": True,
    }
    settings.update(overrides)
    return EventSource(**settings)


class FakeSqs:
    """Just enough of an SQS client: messages handed out in order, deletions recorded."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.visible = list(messages)
        self.receives: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.lock = threading.Lock()

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        with self.lock:
            self.receives.append(kwargs)
            count = min(kwargs["MaxNumberOfMessages"], 10)
            taken, self.visible = self.visible[:count], self.visible[count:]
        if not taken and kwargs["WaitTimeSeconds"]:
            time.sleep(0.01)  # a long poll that found nothing (shortened)
        return {"Messages": taken} if taken else {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        assert QueueUrl == QUEUE_URL
        assert len(Entries) <= 10
        with self.lock:
            self.deleted.extend(entry["ReceiptHandle"] for entry in Entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}


def test_a_message_becomes_a_record_in_lambdas_sqs_event_shape():
    # Given a received message with a string and a binary attribute
    message = sqs_message(1, '{"a": 1}')
    message["MessageAttributes"] = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\xff\x00"},
    }
    message["MD5OfMessageAttributes"] = "abc"
    # When it is turned into a Lambda record
    record = lambda_record(message, QUEUE_ARN)
    # Then it has Lambda's keys and values, the region coming from the queue's ARN
    assert record == {
        "messageId": "id-1",
        "receiptHandle": "rh-1",
        "body": '{"a": 1}',
        "attributes": message["Attributes"],
        "messageAttributes": {
            "kind": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "raw": {
                "binaryValue": base64.b64encode(b"\xff\x00").decode(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": message["MD5OfBody"],
        "md5OfMessageAttributes": "abc",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "eu-west-1",
    }


def test_only_the_attributes_lambda_passes_through_are_kept_and_fifo_ones_when_present():
    # Given a FIFO message with the attributes SQS returns for AttributeNames=["All"]
    message = sqs_message(1)
    message["Attributes"].update({"MessageGroupId": "g", "SequenceNumber": "1", "SqsManagedSseEnabled": "true"})
    # When it becomes a record
    attributes = lambda_record(message, QUEUE_ARN)["attributes"]
    # Then the FIFO attributes stay and the rest of SQS's attributes are dropped
    assert attributes["MessageGroupId"] == "g"
    assert attributes["SequenceNumber"] == "1"
    assert "SqsManagedSseEnabled" not in attributes
    # And a message without message attributes has an empty mapping and no attribute checksum
    assert lambda_record(sqs_message(2), QUEUE_ARN)["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in lambda_record(sqs_message(2), QUEUE_ARN)


def test_string_list_attribute_values_are_passed_through():
    # Given list-valued attributes (reserved by SQS, but part of Lambda's shape)
    converted = lambda_message_attributes(
        {"l": {"DataType": "String", "StringListValues": ["a"], "BinaryListValues": [b"\x01"]}}
    )
    # Then the lists are kept, binary ones base64-encoded
    assert converted == {"l": {"stringListValues": ["a"], "binaryListValues": ["AQ=="], "dataType": "String"}}


IDS = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("response", "keep"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}, {"a", "c"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, set(IDS)),
        ({"batchItemFailures": [{"id": "a"}]}, set(IDS)),
        ({"batchItemFailures": ["a"]}, set(IDS)),
        ({"batchItemFailures": "a"}, set(IDS)),
        ("not an object", set(IDS)),
    ],
)
def test_a_report_batch_item_failures_response_keeps_exactly_what_lambda_would(response, keep):
    # Given a batch of three and the function's response
    # When the batch is settled with ReportBatchItemFailures
    # Then the listed records stay, and an unreadable response keeps the whole batch
    assert records_to_keep(response, IDS, report_batch_item_failures=True) == keep


def test_without_report_batch_item_failures_the_response_is_not_read():
    # Given a response listing failures, on a mapping without ReportBatchItemFailures
    response = {"batchItemFailures": [{"itemIdentifier": "a"}]}
    # Then everything is deleted
    assert records_to_keep(response, IDS, report_batch_item_failures=False) == set()
    assert records_to_keep("garbage", IDS, report_batch_item_failures=False) == set()


def run_once(fake: FakeSqs, src: EventSource, invoke: Any) -> int:
    poller = SqsPoller(lambda service: fake, src, invoke, function_name="fn")
    return poller.poll_once(fake, threading.Event())


def test_a_successful_batch_is_deleted_in_chunks_of_ten():
    # Given 25 messages and a batch size of 25 with a batching window (so receives are combined)
    fake = FakeSqs([sqs_message(i) for i in range(25)])
    events: list[dict[str, Any]] = []
    # When one batch is polled and the function succeeds
    size = run_once(fake, source(batch_size=25, batching_window_seconds=1), lambda e: events.append(e))
    # Then one invocation got all 25 records from receives of at most ten
    assert size == 25
    assert [len(e["Records"]) for e in events] == [25]
    assert [call["MaxNumberOfMessages"] for call in fake.receives] == [10, 10, 5]
    # And all of them were deleted
    assert sorted(fake.deleted) == sorted(f"rh-{i}" for i in range(25))


def test_receives_ask_for_every_attribute_and_long_poll():
    # Given one message
    fake = FakeSqs([sqs_message(1)])
    # When it is polled
    run_once(fake, source(), lambda e: None)
    # Then the receive asked for all system and message attributes with a one-second long poll
    assert fake.receives[0] == {
        "QueueUrl": QUEUE_URL,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 1,
        "AttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }


def test_without_a_batching_window_the_first_non_empty_receive_is_the_batch():
    # Given 15 messages, batch size 20, no window
    fake = FakeSqs([sqs_message(i) for i in range(15)])
    sizes: list[int] = []
    # When a batch is polled
    run_once(fake, source(batch_size=20), lambda e: sizes.append(len(e["Records"])))
    # Then the function got the first receive's ten, without waiting for more
    assert sizes == [10]


def test_a_batching_window_ends_a_partial_batch_when_it_expires():
    # Given two messages and a batch size of five with a one-second window
    fake = FakeSqs([sqs_message(1), sqs_message(2)])
    sizes: list[int] = []
    started = time.monotonic()
    # When a batch is polled
    run_once(fake, source(batch_size=5, batching_window_seconds=1), lambda e: sizes.append(len(e["Records"])))
    # Then it waited about the window for more, and invoked with the two it had
    assert sizes == [2]
    assert 0.9 <= time.monotonic() - started < 3


def test_an_invocation_that_raises_deletes_nothing():
    # Given a batch whose function raises
    fake = FakeSqs([sqs_message(i) for i in range(3)])

    def invoke(event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    poller = SqsPoller(lambda service: fake, source(), invoke, function_name="fn")
    # When it is polled
    poller.poll_once(fake, threading.Event())
    # Then no record is deleted, and the failure is counted
    assert fake.deleted == []
    assert (poller.stats.failed_invocations, poller.stats.records_kept) == (1, 3)


def test_reported_failures_stay_and_the_rest_is_deleted():
    # Given a function that reports the second record as failed
    fake = FakeSqs([sqs_message(i) for i in range(3)])
    # When the batch is settled
    run_once(fake, source(), lambda e: {"batchItemFailures": [{"itemIdentifier": "id-1"}]})
    # Then the other two are deleted
    assert sorted(fake.deleted) == ["rh-0", "rh-2"]


def test_an_unknown_item_identifier_fails_the_whole_batch():
    # Given a function that reports a message id that is not in its batch
    fake = FakeSqs([sqs_message(i) for i in range(3)])
    # When the batch is settled
    run_once(fake, source(), lambda e: {"batchItemFailures": [{"itemIdentifier": "not-mine"}]})
    # Then nothing is deleted
    assert fake.deleted == []


def test_concurrency_follows_maximum_concurrency_with_a_local_cap():
    # Given sources with and without ScalingConfig.MaximumConcurrency
    def concurrency(value: int | None) -> int:
        return SqsPoller(lambda s: None, source(max_concurrency=value), lambda e: None, function_name="f").concurrency

    # Then the poller runs that many batches at once, five by default, and never more than the cap
    assert concurrency(2) == 2
    assert concurrency(None) == 5
    assert concurrency(1000) == LOCAL_CONCURRENCY_CAP


def test_run_polls_with_concurrent_batches_until_stopped():
    # Given a queue of 40 messages, batch size 2 and a maximum concurrency of 3
    fake = FakeSqs([sqs_message(i) for i in range(40)])
    active = 0
    peak = 0
    lock = threading.Lock()

    def invoke(event: dict[str, Any]) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1

    poller = SqsPoller(lambda service: fake, source(batch_size=2, max_concurrency=3), invoke, function_name="fn")
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,))
    # When it runs until the queue is empty, then is stopped
    thread.start()
    deadline = time.monotonic() + 5
    while len(fake.deleted) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=5)
    # Then every message was processed and deleted once, with up to three batches at a time
    assert not thread.is_alive()
    assert sorted(fake.deleted) == sorted(f"rh-{i}" for i in range(40))
    assert 1 < peak <= 3
    assert poller.stats.records == 40


def test_a_disabled_source_is_not_polled():
    # Given a disabled event source
    fake = FakeSqs([sqs_message(1)])
    poller = SqsPoller(lambda service: fake, source(enabled=False), lambda e: None, function_name="fn")
    stop = threading.Event()
    stop.set()
    # When it runs (until stopped)
    poller.run(stop)
    # Then it never received anything
    assert fake.receives == []


def test_an_event_holds_one_record_per_message_in_order():
    # Given three messages
    messages = [sqs_message(i) for i in range(3)]
    # Then the event lists their records in receive order
    assert [r["messageId"] for r in sqs_event(messages, QUEUE_ARN)["Records"]] == ["id-0", "id-1", "id-2"]
