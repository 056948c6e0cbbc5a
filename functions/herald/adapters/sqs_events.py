"""Herald events put on Herald's own event queues (the intake relays what the platforms reported)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from herald.adapters.sqs_batches import batches
from herald.contract.event_types import EventType


class EventsNotAccepted(RuntimeError):
    """SQS refused some of the events: the request that carried them is answered 5xx, and the platform retries."""


class SqsEventPublisher:
    def __init__(self, client: Any, *, order_queue_url: str | None, shipment_queue_url: str) -> None:
        self._sqs = client
        # Order and return events share the order queue (docs/contract.md), shipment events have their own. A
        # publisher of shipment events only (the late-delivery function) is given no order queue.
        self._urls = {"shipment": shipment_queue_url}
        if order_queue_url:
            self._urls |= {"order": order_queue_url, "return": order_queue_url}

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        by_queue: dict[str, list[str]] = {}
        for event in events:
            family = EventType(event["type"]).family
            if family not in self._urls:
                raise ValueError(f"this publisher has no queue for {family} events")
            url = self._urls[family]
            by_queue.setdefault(url, []).append(json.dumps(event, separators=(",", ":")))
        failed: list[str] = []
        for url, bodies in by_queue.items():
            for chunk in batches(bodies, lambda body: len(body.encode())):
                entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
                response = self._sqs.send_message_batch(QueueUrl=url, Entries=entries)
                failed.extend(entry.get("Code", "?") for entry in response.get("Failed", []))
        if failed:
            raise EventsNotAccepted(f"{len(failed)} event(s) not accepted by SQS: {', '.join(sorted(set(failed)))}")
