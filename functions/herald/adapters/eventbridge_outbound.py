"""The StorefrontEventBus port: PutEvents of an outbound event on the storefront's own EventBridge bus.

The bus is in the storefront's account: its resource policy lets Herald's account put events on it, and the
function's role may call PutEvents with Source `herald` only (template.yaml). The entry's Detail is the whole
CloudEvent (so a rule may match on `detail.type`, `detail.subject`, ...), its DetailType the event's type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from herald.usecases.ports import EventBusRefused

if TYPE_CHECKING:
    from herald.domain.outbound import OutboundEvent

SOURCE = "herald"
# Errors a later try may get past: EventBridge's own throttling and failures.
_RETRYABLE = frozenset({"ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable"})


class EventBridgeStorefrontBus:
    def __init__(self, client: Any) -> None:
        self._events = client

    def put(self, bus_arn: str, event: OutboundEvent) -> None:
        entry = {
            "EventBusName": bus_arn,
            "Source": SOURCE,
            "DetailType": event.type.value,
            "Detail": event.body().decode("ascii"),
            "Time": event.time,
        }
        try:
            response = self._events.put_events(Entries=[entry])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            # AccessDenied (the bus's policy does not admit Herald yet) is retried too: an operator may fix it
            # before the retries run out, and the DLQ keeps the event when they do not.
            raise EventBusRefused(f"PutEvents refused ({code})", retryable=True) from None
        except BotoCoreError as error:
            raise EventBusRefused(f"PutEvents not answered ({type(error).__name__})", retryable=True) from None
        failed = [e for e in response.get("Entries", []) if e.get("ErrorCode")]
        if response.get("FailedEntryCount") or failed:
            code = failed[0].get("ErrorCode", "error") if failed else "error"
            raise EventBusRefused(f"PutEvents entry failed ({code})", retryable=code in _RETRYABLE)
