"""Herald events put on Herald's own event queues (the intake relays what the platforms reported)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from herald.adapters.sqs_batches import batches
from herald.contract.event_types import EventType
from herald.usecases.ports import EventsRefused


class EventsNotAccepted(EventsRefused):
    """SQS refused some of the events: the request that carried them is answered 5xx, and the platform retries."""


class SqsEventPublisher:
    def __init__(self, client: Any, *, order_queue_url: str | None, shipment_queue_url: str | None) -> None:
        self._sqs = client
        # Order and return events share the order queue (docs/contract.md), shipment events have their own. A
        # publisher of shipment events only (the late-delivery function) is given no order queue, one of return
        # events only (the order page's returns) no shipment queue.
        self._urls: dict[str, str] = {"shipment": shipment_queue_url} if shipment_queue_url else {}
        if order_queue_url:
            self._urls |= {"order": order_queue_url, "return": order_queue_url}

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Every event, a batch per queue; then, when SQS refused any (entries in `Failed`, or a call that raised),
        EventsNotAccepted naming the refused events' ids, after the other batches were still sent."""
        by_queue: dict[str, list[tuple[str, str]]] = {}
        for event in events:
            family = EventType(event["type"]).family
            if family not in self._urls:
                raise ValueError(f"this publisher has no queue for {family} events")
            url = self._urls[family]
            by_queue.setdefault(url, []).append((str(event["id"]), json.dumps(event, separators=(",", ":"))))
        codes: list[str] = []
        refused: list[str] = []
        for url, pairs in by_queue.items():
            for chunk in batches(pairs, lambda pair: len(pair[1].encode())):
                entries = [{"Id": str(i), "MessageBody": body} for i, (_, body) in enumerate(chunk)]
                try:
                    response = self._sqs.send_message_batch(QueueUrl=url, Entries=entries)
                except ClientError as error:  # the whole call refused: none of its entries were taken
                    codes.append(error.response.get("Error", {}).get("Code", "?"))
                    refused.extend(event_id for event_id, _ in chunk)
                    continue
                for entry in response.get("Failed", []):
                    codes.append(entry.get("Code", "?"))
                    refused.append(chunk[int(entry["Id"])][0])
        if refused:
            raise EventsNotAccepted(
                f"{len(refused)} event(s) not accepted by SQS: {', '.join(sorted(set(codes)))}", refused
            )
