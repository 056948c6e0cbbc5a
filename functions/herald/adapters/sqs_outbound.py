"""The OutboundEvents port: one outbound event on the outbound-webhooks queue (the outbound-webhooks function
delivers it to the storefront)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from herald.domain.outbound import OutboundEvent


class SqsOutboundEvents:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def publish(self, event: Mapping[str, Any]) -> None:
        # Validated here, before SQS: a refused event raises to the caller (who answers the customer), and the
        # queue holds only events the function can deliver.
        parsed = OutboundEvent.model_validate(event)
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=parsed.body().decode("ascii"),
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": parsed.type.value},
                "event_id": {"DataType": "String", "StringValue": parsed.id},
            },
        )
