"""The follow-up function's view of the notifications table (layout: adapters/dynamodb_ledger.py).

Reads one event's notifications; moves a standby notification to pending (channel fallback); records an
escalation notification beside the one it escalates. Every write is conditional, so a follow-up request handled
twice (SQS delivers at least once) queues each message at most once more, and the sender's claim does the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from herald.adapters.dynamodb_ledger import ESCALATION_SUFFIX, notification_sk, order_pk
from herald.domain.masking import mask_recipient
from herald.domain.notification import ChannelMessage, NotificationStatus
from herald.domain.redundancy import NotificationView
from herald.usecases.followup import RecordedNotification

Item = dict[str, dict[str, Any]]

_PENDING = NotificationStatus.PENDING.value
_STANDBY = NotificationStatus.STANDBY.value


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _text(item: Item, name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return str(value) if value is not None else None


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
                ":pk": _s(order_pk(source, order_id)),
                ":prefix": _s(f"NOTIF#{event_id}#"),
            },
        }
        recorded = []
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                # The prefix alone would also match an event id that continues with "#...".
                if _text(item, "event_id") == event_id:
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
                    ":pending": _s(_PENDING),
                    ":standby": _s(_STANDBY),
                    ":failed": _s(failed_channel),
                    ":reason": _s(reason[:300]),
                    ":now": _s(now.isoformat()),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old: Item = error.response.get("Item", {})  # type: ignore[assignment]
            # Activated by an earlier attempt that may have failed to queue it: queue it again.
            return _text(old, "status") == _PENDING and "fallback_of" in old
        return True

    def suppress_standby(self, message: ChannelMessage, *, reason: str, now: datetime) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_key(message),
                UpdateExpression="SET #status = :suppressed, reason = :reason, updated_at = :now",
                ConditionExpression="#status = :standby",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":suppressed": _s(NotificationStatus.SUPPRESSED.value),
                    ":standby": _s(_STANDBY),
                    ":reason": _s(reason[:300]),
                    ":now": _s(now.isoformat()),
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # It has moved on already (activated by another request): nothing to suppress.

    def record_escalation(self, message: ChannelMessage, *, escalates: str, reason: str, now: datetime) -> bool:
        item: Item = {
            "pk": _s(order_pk(message.source, message.order_id)),
            "sk": _s(notification_sk(message.event_id, message.channel.value, escalation=True)),
            "kind": _s("notification"),
            "notification_id": _s(message.notification_id),
            "source": _s(message.source),
            "event_id": _s(message.event_id),
            "event_type": _s(message.event_type),
            "channel": _s(message.channel.value),
            "order_id": _s(message.order_id),
            "status": _s(_PENDING),
            "recipient": _s(mask_recipient(message.to)),
            "escalation_of": _s(escalates),
            "reason": _s(reason[:300]),
            "attempts": {"N": "0"},
            "created_at": _s(now.isoformat()),
            "updated_at": _s(now.isoformat()),
            "expires_at": {"N": str(int((now + self._ttl).timestamp()))},
        }
        try:
            self._db.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(sk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old: Item = error.response.get("Item", {})  # type: ignore[assignment]
            return _text(old, "status") == _PENDING  # recorded, maybe not queued: queue it again
        return True


def _key(message: ChannelMessage) -> Item:
    return {
        "pk": _s(order_pk(message.source, message.order_id)),
        "sk": _s(notification_sk(message.event_id, message.channel.value, escalation=message.escalation)),
    }


def _recorded(item: Item) -> RecordedNotification:
    body = _text(item, "message")
    return RecordedNotification(
        view=NotificationView(
            channel=_text(item, "channel") or "",
            status=_text(item, "status") or "",
            delivery_status=_text(item, "delivery_status"),
            escalation=(_text(item, "sk") or "").endswith(ESCALATION_SUFFIX),
            route_reason=_text(item, "route_reason"),
        ),
        message=ChannelMessage.model_validate_json(body) if body else None,
    )
