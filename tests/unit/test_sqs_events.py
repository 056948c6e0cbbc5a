"""The intake's publisher: a refused entry is never reported as published."""

from __future__ import annotations

from typing import Any

import pytest

from herald.adapters.sqs_events import EventsNotAccepted, SqsEventPublisher


class RefusingSqs:
    """An SQS client whose SendMessageBatch refuses its first entry, as SQS reports a partial failure."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        first = request["Entries"][0]["Id"]
        return {"Successful": [], "Failed": [{"Id": first, "Code": "InternalError", "SenderFault": False}]}


def test_a_partly_refused_batch_raises_so_the_platform_retries() -> None:
    # Given SQS refuses an entry of the batch
    sqs = RefusingSqs()
    publisher = SqsEventPublisher(sqs, order_queue_url="orders", shipment_queue_url="shipments")
    # When an order event and a shipment event are published
    events = [{"id": "a", "type": "order.placed"}, {"id": "b", "type": "shipment.in_transit"}]
    # Then the publisher raises (the intake answers 5xx, the platform retries the same ids)
    with pytest.raises(EventsNotAccepted, match="InternalError"):
        publisher.publish(events)
    # And each event went to its family's queue
    assert sorted(call["QueueUrl"] for call in sqs.calls) == ["orders", "shipments"]


def test_the_refusal_names_the_refused_events_and_the_other_queues_batch_is_still_sent() -> None:
    """Given SQS refuses a whole call to the order queue (an SDK error) and takes the shipment queue's batch
    When an order event and two shipment events are published
    Then the publisher raises naming the order event only (the use case parks what it must), after sending the
    shipment queue's batch."""
    from botocore.exceptions import ClientError

    class OneQueueDown:
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send_message_batch(self, **request: Any) -> dict[str, Any]:
            if request["QueueUrl"] == "orders":
                raise ClientError({"Error": {"Code": "KMS.ThrottlingException"}}, "SendMessageBatch")
            self.sent.extend(entry["Id"] for entry in request["Entries"])
            return {"Successful": [{"Id": entry["Id"]} for entry in request["Entries"]], "Failed": []}

    sqs = OneQueueDown()
    publisher = SqsEventPublisher(sqs, order_queue_url="orders", shipment_queue_url="shipments")
    events = [
        {"id": "a", "type": "order.placed"},
        {"id": "b", "type": "shipment.in_transit"},
        {"id": "c", "type": "shipment.delayed"},
    ]
    with pytest.raises(EventsNotAccepted, match=r"KMS\.ThrottlingException") as refused:
        publisher.publish(events)
    assert refused.value.refused_ids == {"a"}
    assert sqs.sent == ["0", "1"]


def test_a_failed_entry_is_named_by_its_events_id() -> None:
    # Given SQS fails the first entry of each batch; When two shipment events are published
    publisher = SqsEventPublisher(RefusingSqs(), order_queue_url="orders", shipment_queue_url="shipments")
    with pytest.raises(EventsNotAccepted) as refused:
        publisher.publish([{"id": "b", "type": "shipment.in_transit"}, {"id": "c", "type": "shipment.delayed"}])
    # Then the refusal names the first one's id, not its entry's
    assert refused.value.refused_ids == {"b"}
