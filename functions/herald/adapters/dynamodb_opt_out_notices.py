"""Which notification told a number how to opt out, per storefront (usecases.opt_out_notice's OptOutNotices).

Items: pk=`OPTOUT_NOTICE#<source>`, sk=`sms#<sha256 of the E.164 number>` (the number is never needed back, so it
is not kept in plain), with `notification_id`, `at` and `expires_at`. Both writes are UpdateItems with a condition,
atomic in DynamoDB: of two concurrent first SMS, exactly one claims the notice.

The item expires with the table's TTL: after that long without an SMS, the next one says how to opt out again,
a reminder after a long silence rather than a first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from herald.adapters.dynamodb_values import condition_held, num_attr, str_attr
from herald.domain.keys import key


class DynamoDbOptOutNotices:
    def __init__(
        self, client: Any, table_name: str, *, ttl_days: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = client
        self._table = table_name
        self._ttl_seconds = ttl_days * 86_400
        self._clock = clock

    def claim(self, source: str, number: str, notification_id: str) -> bool:
        now = self._clock()
        return condition_held(
            self._db.update_item,
            TableName=self._table,
            Key=_key(source, number),
            UpdateExpression=(
                "SET notification_id = :me, #at = :now, expires_at = :expires, #kind = :kind REMOVE released"
            ),
            # Free, already ours (a retry of the same SMS), or given back by an SMS the provider refused for good.
            ConditionExpression="attribute_not_exists(pk) OR notification_id = :me OR released = :yes",
            ExpressionAttributeNames={"#at": "at", "#kind": "kind"},
            ExpressionAttributeValues={
                ":me": str_attr(notification_id),
                ":now": str_attr(now.isoformat()),
                ":expires": num_attr(int(now.timestamp()) + self._ttl_seconds),
                ":kind": str_attr("opt_out_notice"),
                ":yes": {"BOOL": True},
            },
        )

    def release(self, source: str, number: str, notification_id: str) -> None:
        condition_held(
            self._db.update_item,
            TableName=self._table,
            Key=_key(source, number),
            UpdateExpression="SET released = :yes",
            ConditionExpression="notification_id = :me",
            ExpressionAttributeValues={":me": str_attr(notification_id), ":yes": {"BOOL": True}},
        )


def _key(source: str, number: str) -> dict[str, Any]:
    digest = hashlib.sha256(number.strip().encode("utf-8")).hexdigest()
    return {"pk": str_attr(key("OPTOUT_NOTICE", source)), "sk": str_attr(key("sms", digest))}
