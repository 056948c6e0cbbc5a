"""The publisher: validates before sending, routes by family, batches within SQS limits, retries failed entries."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from herald.adapters.sqs_batches import MAX_BATCH_BYTES
from herald.contract.models import EventType
from herald.contract.parsing import parse_event
from herald_tools.publisher import (
    MAX_ENTRY_ATTEMPTS,
    Accepted,
    Publisher,
    PublisherConfigError,
    region_from_queue_url,
)

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
REGION = "us-east-1"


def sample(event_type: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS_DIR / f"{event_type}.json").read_text())
    event.update(changes)
    return event


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    return {name: sqs.create_queue(QueueName=f"herald-{name}-events")["QueueUrl"] for name in ("order", "shipment")}


class Spy:
    """Forwards to the real (moto) client and remembers each SendMessageBatch call's entries."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[list[dict[str, Any]]] = []

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.calls.append(copy.deepcopy(kwargs["Entries"]))
        return self.client.send_message_batch(**kwargs)


class FailingEntries(Spy):
    """Answers `Failed` for the entry ids in `fail`, the given number of times each; sends the others."""

    def __init__(self, client: Any, fail: dict[str, int], *, sender_fault: bool) -> None:
        super().__init__(client)
        self.fail = dict(fail)
        self.sender_fault = sender_fault

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.calls.append(copy.deepcopy(kwargs["Entries"]))
        failing = [e for e in kwargs["Entries"] if self.fail.get(e["Id"], 0) > 0]
        for entry in failing:
            self.fail[entry["Id"]] -= 1
        sent = [e for e in kwargs["Entries"] if e not in failing]
        response = self.client.send_message_batch(QueueUrl=kwargs["QueueUrl"], Entries=sent) if sent else {}
        code = "InvalidParameterValue" if self.sender_fault else "InternalError"
        return {
            "Successful": response.get("Successful", []),
            "Failed": [
                {"Id": e["Id"], "SenderFault": self.sender_fault, "Code": code, "Message": "simulated"} for e in failing
            ],
        }


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if not batch:
            return messages
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )


def publisher(queues: dict[str, str], client: Any) -> Publisher:
    return Publisher(order_queue_url=queues["order"], shipment_queue_url=queues["shipment"], sqs_client=client)


def numbered(count: int) -> list[dict[str, Any]]:
    return [sample("order.placed", id=f"evt_bulk_{i}") for i in range(count)]


def test_order_and_return_events_go_to_the_order_queue_and_shipment_events_to_the_shipment_queue(
    sqs: Any, queues: dict[str, str]
) -> None:
    # Given one event of each of the 16 types
    events = [sample(t.value) for t in EventType]
    # When they are published
    report = publisher(queues, sqs).publish(events)
    # Then all are accepted, and each queue holds exactly its families, with type and source attributes
    assert report.ok
    assert len(report.accepted) == len(EventType) == 16
    order = drain(sqs, queues["order"])
    shipment = drain(sqs, queues["shipment"])
    order_types = sorted(m["MessageAttributes"]["type"]["StringValue"] for m in order)
    shipment_types = sorted(m["MessageAttributes"]["type"]["StringValue"] for m in shipment)
    assert order_types == sorted(t.value for t in EventType if t.family in ("order", "return"))
    assert shipment_types == sorted(t.value for t in EventType if t.family == "shipment")
    assert {m["MessageAttributes"]["source"]["StringValue"] for m in order + shipment} == {"storefront/acme-outdoor"}
    assert {a.queue for a in report.accepted if a.event_type.startswith("shipment.")} == {"shipment"}
    assert {a.queue for a in report.accepted if not a.event_type.startswith("shipment.")} == {"order"}


def test_the_body_is_the_published_json_compact_and_utf8(sqs: Any, queues: dict[str, str]) -> None:
    # Given an event with non-ASCII text
    event = sample("order.placed", id="evt_utf8")
    event["data"]["customer"]["name"] = "Zoë Ångström"
    # When it is published
    report = publisher(queues, sqs).publish([event])
    # Then the message body is the compact JSON of the event, characters kept as UTF-8
    (message,) = drain(sqs, queues["order"])
    assert message["Body"] == json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    assert "Zoë Ångström" in message["Body"]
    assert report.accepted == [
        Accepted(0, "storefront/acme-outdoor", "evt_utf8", "order.placed", "order", message["MessageId"])
    ]


def test_strings_bytes_and_parsed_envelopes_are_published_too(sqs: Any, queues: dict[str, str]) -> None:
    # Given the same kind of event as text, as bytes and as a parsed model
    text = json.dumps(sample("order.placed", id="evt_text"))
    raw = json.dumps(sample("order.placed", id="evt_bytes")).encode()
    envelope = parse_event(json.dumps(sample("shipment.delivered", id="evt_model")))
    # When they are published
    report = publisher(queues, sqs).publish([text, raw, envelope])
    # Then all three arrive; the text is sent as given, the model as its JSON
    assert report.ok
    bodies = {json.loads(m["Body"])["id"]: m["Body"] for m in drain(sqs, queues["order"])}
    assert bodies == {"evt_text": text, "evt_bytes": raw.decode()}
    (delivered,) = drain(sqs, queues["shipment"])
    assert parse_event(delivered["Body"]) == envelope


def test_25_events_are_sent_in_three_batches_of_at_most_ten(sqs: Any, queues: dict[str, str]) -> None:
    # Given 25 order events and a client that records its calls
    spy = Spy(sqs)
    # When they are published
    report = publisher(queues, spy).publish(numbered(25))
    # Then three calls of 10, 10 and 5 entries with ids unique within each call carry all 25
    assert [len(call) for call in spy.calls] == [10, 10, 5]
    assert all(len({e["Id"] for e in call}) == len(call) for call in spy.calls)
    assert len(report.accepted) == 25
    assert report.ok
    assert len(drain(sqs, queues["order"])) == 25


def test_large_events_are_split_so_no_batch_exceeds_256_kib(sqs: Any, queues: dict[str, str]) -> None:
    # Given ten events of about 60 KiB each (a producer's own field, ignored by Herald, pads them)
    events = numbered(10)
    for event in events:
        event["data"]["order"]["x_notes"] = "n" * 60_000
    spy = Spy(sqs)
    # When they are published
    report = publisher(queues, spy).publish(events)
    # Then every call stays within 256 KiB, so more than one call is needed, and all ten arrive
    sizes = [sum(len(e["MessageBody"].encode()) for e in call) for call in spy.calls]
    assert len(spy.calls) == 3
    assert all(size <= MAX_BATCH_BYTES for size in sizes)
    assert report.ok
    assert len(drain(sqs, queues["order"])) == 10


def test_an_entry_sqs_fails_without_sender_fault_is_retried_and_sent_once(sqs: Any, queues: dict[str, str]) -> None:
    # Given a client that fails the third entry once with a server-side error
    flaky = FailingEntries(sqs, {"m2": 1}, sender_fault=False)
    # When five events are published
    report = publisher(queues, flaky).publish(numbered(5))
    # Then only that entry is re-sent, and every event arrives exactly once
    assert [[e["Id"] for e in call] for call in flaky.calls] == [["m0", "m1", "m2", "m3", "m4"], ["m2"]]
    assert report.ok
    assert [a.index for a in report.accepted] == [0, 1, 2, 3, 4]
    ids = sorted(json.loads(m["Body"])["id"] for m in drain(sqs, queues["order"]))
    assert ids == sorted(f"evt_bulk_{i}" for i in range(5))


def test_an_entry_that_keeps_failing_is_rejected_with_the_sqs_code_after_bounded_attempts(
    sqs: Any, queues: dict[str, str]
) -> None:
    # Given a client that always fails one entry with a server-side error
    flaky = FailingEntries(sqs, {"m1": 100}, sender_fault=False)
    # When two events are published
    report = publisher(queues, flaky).publish(numbered(2))
    # Then that entry was offered MAX_ENTRY_ATTEMPTS times and is reported with the SQS code and message
    assert len(flaky.calls) == MAX_ENTRY_ATTEMPTS
    assert not report.ok
    (rejected,) = report.rejected
    assert (rejected.index, rejected.event_id, rejected.reason) == (1, "evt_bulk_1", "SQS InternalError: simulated")
    assert [a.event_id for a in report.accepted] == ["evt_bulk_0"]


def test_an_entry_failed_by_the_senders_fault_is_not_retried(sqs: Any, queues: dict[str, str]) -> None:
    # Given a client that fails one entry as the sender's fault
    flaky = FailingEntries(sqs, {"m0": 1}, sender_fault=True)
    # When it is published
    report = publisher(queues, flaky).publish(numbered(2))
    # Then it is reported at once, without a second call
    assert len(flaky.calls) == 1
    assert [r.reason for r in report.rejected] == ["SQS InvalidParameterValue: simulated"]
    assert len(drain(sqs, queues["order"])) == 1


def test_invalid_events_are_reported_with_the_reason_and_never_sent(sqs: Any, queues: dict[str, str]) -> None:
    # Given valid events around invalid ones
    no_customer = sample("order.cancelled", id="evt_no_customer")
    del no_customer["data"]["customer"]
    events: list[Any] = [
        sample("order.placed"),
        "{not json",
        sample("order.placed", type="order.shipped", id="evt_unknown"),
        no_customer,
        b"\xff\xfe",
        {"id": "evt_nan", "value": float("nan")},
        sample("shipment.created"),
    ]
    spy = Spy(sqs)
    # When they are published
    report = publisher(queues, spy).publish(events)
    # Then only the two valid ones were sent, and each invalid one is reported at its position with why
    sent = [json.loads(e["MessageBody"])["id"] for call in spy.calls for e in call]
    assert sorted(sent) == ["evt_1001_placed", "evt_shp_1001_1_created"]
    reasons = {r.index: (r.event_id, r.reason) for r in report.rejected}
    assert sorted(reasons) == [1, 2, 3, 4, 5]
    assert reasons[1][1].startswith("body is not valid JSON")
    assert reasons[2] == ("evt_unknown", "unknown event type 'order.shipped'")
    assert reasons[3] == ("evt_no_customer", "invalid order.cancelled event: data.customer: Field required")
    assert reasons[4][1].startswith("body is not UTF-8")
    assert reasons[5][0] == "evt_nan"
    assert reasons[5][1].startswith("event is not JSON")
    assert [a.index for a in report.accepted] == [0, 6]


def test_a_failed_call_reports_every_entry_of_its_batch(sqs: Any, queues: dict[str, str]) -> None:
    # Given a shipment queue URL that does not exist
    broken = Publisher(
        order_queue_url=queues["order"],
        shipment_queue_url=queues["shipment"] + "-missing",
        sqs_client=sqs,
    )
    # When order and shipment events are published
    report = broken.publish([sample("order.placed"), sample("shipment.created"), sample("shipment.delivered")])
    # Then the order event is accepted and both shipment events are rejected with the SQS error
    assert [a.index for a in report.accepted] == [0]
    assert [r.index for r in report.rejected] == [1, 2]
    assert all(r.reason.startswith("SQS call failed:") for r in report.rejected)


def test_a_character_sqs_refuses_is_escaped_without_changing_the_event(sqs: Any, queues: dict[str, str]) -> None:
    # Given an event whose text holds U+FFFF, which SQS does not accept in a body
    event = sample("order.placed", id="evt_nonchar")
    event["data"]["customer"]["name"] = "Jordan\uffff"
    spy = Spy(sqs)
    # When it is published
    report = publisher(queues, spy).publish([event])
    # Then the body escapes it and still decodes to the same event
    body = spy.calls[0][0]["MessageBody"]
    assert "\uffff" not in body
    assert "\\uffff" in body
    assert json.loads(body) == event
    assert report.ok


def test_from_stack_reads_the_queue_urls_from_the_stack_outputs(sqs: Any) -> None:
    # Given a deployed stack with the two queues as outputs
    template = {
        "Resources": {"Order": {"Type": "AWS::SQS::Queue"}, "Shipment": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "OrderEventsQueueUrl": {"Value": {"Ref": "Order"}},
            "ShipmentEventsQueueUrl": {"Value": {"Ref": "Shipment"}},
        },
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="herald", TemplateBody=json.dumps(template))
    # When a publisher is made from it and publishes
    made = Publisher.from_stack("herald", cloudformation_client=cloudformation, sqs_client=sqs)
    report = made.publish([sample("shipment.created")])
    # Then it used the stack's shipment queue
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="herald")["Stacks"][0]["Outputs"]
    }
    assert made.queue_urls == {"order": outputs["OrderEventsQueueUrl"], "shipment": outputs["ShipmentEventsQueueUrl"]}
    assert report.ok
    assert len(drain(sqs, outputs["ShipmentEventsQueueUrl"])) == 1


def test_from_stack_names_what_is_missing(sqs: Any) -> None:
    # Given a stack without the outputs, and no stack at all
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    template = {"Resources": {"Order": {"Type": "AWS::SQS::Queue"}}}
    cloudformation.create_stack(StackName="bare", TemplateBody=json.dumps(template))
    # When publishers are made from them / Then the error says which output or stack is missing
    with pytest.raises(PublisherConfigError, match="OrderEventsQueueUrl or ShipmentEventsQueueUrl"):
        Publisher.from_stack("bare", cloudformation_client=cloudformation)
    with pytest.raises(PublisherConfigError, match="cannot read stack 'nope'"):
        Publisher.from_stack("nope", cloudformation_client=cloudformation)


def test_from_env_reads_both_queue_urls_and_names_a_missing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the two variables set / Then the publisher uses them
    monkeypatch.setenv("HERALD_ORDER_EVENTS_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/o")
    monkeypatch.setenv("HERALD_SHIPMENT_EVENTS_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/s")
    assert Publisher.from_env().queue_urls == {
        "order": "https://sqs.eu-west-1.amazonaws.com/1/o",
        "shipment": "https://sqs.eu-west-1.amazonaws.com/1/s",
    }
    # Given one missing / Then the error names it
    monkeypatch.delenv("HERALD_SHIPMENT_EVENTS_QUEUE_URL")
    with pytest.raises(PublisherConfigError, match="HERALD_SHIPMENT_EVENTS_QUEUE_URL"):
        Publisher.from_env()


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/q", "eu-west-1"),
        ("https://us-east-2.queue.amazonaws.com/123456789012/q", "us-east-2"),
        ("http://127.0.0.1:5000/123456789012/q", None),
    ],
)
def test_the_region_is_read_from_an_aws_queue_url(url: str, region: str | None) -> None:
    # Given a queue URL / Then its region (or none for a local endpoint) is read from it
    assert region_from_queue_url(url) == region


def test_the_lazily_created_client_uses_the_queue_urls_region_and_botocore_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a publisher without a client for queues in eu-west-1
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    made = Publisher(
        order_queue_url="https://sqs.eu-west-1.amazonaws.com/1/o",
        shipment_queue_url="https://sqs.eu-west-1.amazonaws.com/1/s",
    )
    # When the client is first needed / Then it targets that region with botocore's standard retries
    client = made.sqs
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}  # type: ignore[attr-defined]
    assert made.sqs is client
