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
