"""Outbound webhook attempts on the order's timeline: one item per outbound event, updated by each attempt.

pk=ORDER#<storefront source>#<order id> (the event's subject), sk=OUTBOUND#<event id>: the order's one Query
(usecases.timeline) returns it with the order's events and notifications. `kind` is the latest outcome
(webhook_delivered, webhook_retrying, webhook_failed, webhook_skipped); `delivered` the targets that took the
event (a retry skips them); `history` one line per attempt (at most the queue's maxReceiveCount, and copies).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from herald.adapters.dynamodb_ledger import order_pk
from herald.adapters.dynamodb_values import num_attr, str_attr
from herald.domain.keys import key
from herald.domain.masking import mask_text

if TYPE_CHECKING:
    from herald.domain.outbound import OutboundEvent
    from herald.usecases.ports import WebhookAttempt


def outbound_sk(event_id: str) -> str:
    return key("OUTBOUND", event_id)


class DynamoDbWebhookRecords:
    def __init__(self, client: Any, table_name: str, *, ttl_days: int = 90) -> None:
        self._client = client
        self._table = table_name
        self._ttl = timedelta(days=ttl_days)

    def _key(self, event: OutboundEvent) -> dict[str, dict[str, str]]:
        return {
            "pk": str_attr(order_pk(event.storefront_source, event.subject)),
            "sk": str_attr(outbound_sk(event.id)),
        }

    def delivered_targets(self, event: OutboundEvent) -> frozenset[str]:
        item = self._client.get_item(
            TableName=self._table,
            Key=self._key(event),
            ProjectionExpression="delivered",
            ConsistentRead=True,  # a retry right after an attempt must see what that attempt delivered
        ).get("Item", {})
        return frozenset(item.get("delivered", {}).get("SS", []))

    def record(self, event: OutboundEvent, attempt: WebhookAttempt) -> None:
        at = attempt.at.isoformat()
        line: dict[str, Any] = {"at": str_attr(at), "kind": str_attr(attempt.kind)}
        if attempt.status_code is not None:
            line["status_code"] = num_attr(attempt.status_code)
        if attempt.reason:
            line["reason"] = str_attr(mask_text(attempt.reason))
        sets = [
            "kind = :kind",
            "#status = :status",
            "event_id = :event_id",
            "event_type = :event_type",
            "#source = :source",
            "order_id = :order_id",
            "created_at = if_not_exists(created_at, :at)",
            "updated_at = :at",
            "expires_at = :expires",
            "history = list_append(if_not_exists(history, :empty), :line)",
        ]
        values: dict[str, Any] = {
            ":kind": str_attr(attempt.kind),
            ":status": str_attr(_status(attempt)),
            ":event_id": str_attr(event.id),
            ":event_type": str_attr(event.type.value),
            ":source": str_attr(event.storefront_source),
            ":order_id": str_attr(event.subject),
            ":at": str_attr(at),
            ":expires": num_attr(int((attempt.at + self._ttl).timestamp())),
            ":empty": {"L": []},
            ":line": {"L": [{"M": line}]},
            ":one": num_attr(1),
        }
        removes = []
        for name, value in (
            ("status_code", num_attr(attempt.status_code) if attempt.status_code is not None else None),
            ("reason", str_attr(mask_text(attempt.reason)) if attempt.reason else None),
        ):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        update = f"SET {', '.join(sets)} ADD attempts :one"
        if attempt.delivered:
            update += ", delivered :delivered"
            values[":delivered"] = {"SS": sorted(attempt.delivered)}
        if removes:
            update += f" REMOVE {', '.join(removes)}"
        self._client.update_item(
            TableName=self._table,
            Key=self._key(event),
            UpdateExpression=update,
            ExpressionAttributeNames={"#status": "status", "#source": "source"},
            ExpressionAttributeValues=values,
        )


def _status(attempt: WebhookAttempt) -> str:
    """The entry's status, as an operator reads it: the last word of its kind, `dlq` when retries ran out."""
    return "dlq" if attempt.final else attempt.kind.removeprefix("webhook_")
