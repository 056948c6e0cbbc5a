"""The follow-up function's view of the notifications table (layout: adapters/dynamodb_ledger.py).

Reads one event's notifications; moves a standby notification to pending (channel fallback); records an
escalation notification beside the one it escalates. Every write is conditional, so a follow-up request handled
twice (SQS delivers at least once) queues each message at most once more, and the sender's claim does the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from herald.adapters.dynamodb_ledger import notification_sk, notification_sk_prefix, order_pk
from herald.adapters.dynamodb_values import (
    Item,
    condition_held,
    conditional_failed,
    old_item,
    put_if_absent,
    str_attr,
    text,
)
from herald.domain.keys import split_key
from herald.domain.masking import mask_recipient
from herald.domain.notification import ESCALATION_PART, ChannelMessage, NotificationStatus
from herald.domain.redundancy import NotificationView
from herald.usecases.followup import RecordedNotification

_PENDING = NotificationStatus.PENDING.value
_STANDBY = NotificationStatus.STANDBY.value


class DynamoDbFollowUps:
    def __init__(self, client: Any, table_name: str, *, ttl_days: int = 90) -> None:
        self._db = client
        self._table = table_name
        self._ttl = timedelta(days=ttl_days)

    def event_notifications(self, source: str, order_id: str, event_id: str) -> list[RecordedNotification]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": str_attr(order_pk(source, order_id)),
                ":prefix": str_attr(notification_sk_prefix(event_id)),
            },
        }
        recorded = []
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                # Belt and braces: the escaped prefix already matches this event's notifications only.
                if text(item, "event_id") == event_id:
                    recorded.append(_recorded(item))
            if "LastEvaluatedKey" not in page:
                return recorded
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def activate_standby(self, message: ChannelMessage, *, failed_channel: str, reason: str, now: datetime) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_key(message),
                UpdateExpression=(
                    "SET #status = :pending, fallback_of = :failed, fallback_reason = :reason,"
                    " fallback_at = :now, updated_at = :now"
                ),
                ConditionExpression="#status = :standby",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": str_attr(_PENDING),
                    ":standby": str_attr(_STANDBY),
                    ":failed": str_attr(failed_channel),
                    ":reason": str_attr(reason[:300]),
                    ":now": str_attr(now.isoformat()),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise
            old = old_item(error)
            # Activated by an earlier attempt that may have failed to queue it: queue it again.
            return text(old, "status") == _PENDING and "fallback_of" in old
        return True

    def suppress_standby(self, message: ChannelMessage, *, reason: str, now: datetime) -> None:
        # A condition that does not hold means the standby has moved on (activated by another request): then
        # there is nothing to suppress.
        condition_held(
            self._db.update_item,
            TableName=self._table,
            Key=_key(message),
            UpdateExpression="SET #status = :suppressed, reason = :reason, updated_at = :now",
            ConditionExpression="#status = :standby",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":suppressed": str_attr(NotificationStatus.SUPPRESSED.value),
                ":standby": str_attr(_STANDBY),
                ":reason": str_attr(reason[:300]),
                ":now": str_attr(now.isoformat()),
            },
        )

    def record_escalation(self, message: ChannelMessage, *, escalates: str, reason: str, now: datetime) -> bool:
        item: Item = {
            "pk": str_attr(order_pk(message.source, message.order_id)),
            "sk": str_attr(notification_sk(message.event_id, message.channel.value, escalation=True)),
            "kind": str_attr("notification"),
            "notification_id": str_attr(message.notification_id),
            "source": str_attr(message.source),
            "event_id": str_attr(message.event_id),
            "event_type": str_attr(message.event_type),
            "channel": str_attr(message.channel.value),
            "order_id": str_attr(message.order_id),
            "status": str_attr(_PENDING),
            "recipient": str_attr(mask_recipient(message.to)),
            "escalation_of": str_attr(escalates),
            "reason": str_attr(reason[:300]),
            "attempts": {"N": "0"},
            "created_at": str_attr(now.isoformat()),
            "updated_at": str_attr(now.isoformat()),
            "expires_at": {"N": str(int((now + self._ttl).timestamp()))},
        }
        existing = put_if_absent(self._db, self._table, item)
        # Recorded before and still pending: maybe never queued (a failed attempt), so queue it again.
        return existing is None or text(existing, "status") == _PENDING


def _key(message: ChannelMessage) -> Item:
    return {
        "pk": str_attr(order_pk(message.source, message.order_id)),
        "sk": str_attr(notification_sk(message.event_id, message.channel.value, escalation=message.escalation)),
    }


def _recorded(item: Item) -> RecordedNotification:
    body = text(item, "message")
    return RecordedNotification(
        view=NotificationView(
            channel=text(item, "channel") or "",
            status=text(item, "status") or "",
            delivery_status=text(item, "delivery_status"),
            escalation=split_key(text(item, "sk") or "")[-1] == ESCALATION_PART,
            route_reason=text(item, "route_reason"),
        ),
        message=ChannelMessage.model_validate_json(body) if body else None,
    )
