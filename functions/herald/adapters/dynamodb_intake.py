"""What the intake joins platform reports to, and the reports that came too early (usecases.intake's IntakeLinks).

Items, one partition each (an order's link is read by every later report of that order, never scanned):
- pk=`LINK#<source>#<kind>#<value>`, sk=`link`: the blocks (order, customer, store, shipment) of the last Herald
  event seen for that order, shipment id or tracking number, as JSON, with `expires_at`.
- pk=`PARKED#<source>#<kind>#<value>`, sk=`<update id>`: a report waiting for its order or shipment, with a
  shorter `expires_at` (PARKED_DAYS): a scan for a parcel nobody ever announces is not kept for ever.

The blocks hold the customer's contact (the intake must know whom to tell): they expire with the notifications.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from herald.adapters.dynamodb_values import num_attr, str_attr, text
from herald.domain.keys import key
from herald.usecases.ports import LinkKey, Parked

PARKED_DAYS = 14  # a carrier may scan a parcel days before the storefront reports its fulfillment


class DynamoDbIntakeLinks:
    def __init__(
        self, client: Any, table_name: str, *, ttl_days: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = client
        self._table = table_name
        self._ttl_seconds = ttl_days * 86_400
        self._clock = clock

    def record(self, source: str, link: LinkKey, blocks: Mapping[str, Any]) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": str_attr(key("LINK", source, link.kind, link.value)),
                "sk": str_attr("link"),
                "blocks": str_attr(json.dumps(blocks, separators=(",", ":"), sort_keys=True)),
                "expires_at": num_attr(self._expires(self._ttl_seconds)),
            },
        )

    def find(self, source: str, link: LinkKey) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": str_attr(key("LINK", source, link.kind, link.value)), "sk": str_attr("link")},
            ConsistentRead=True,  # a scan right after its shipment was recorded must find it
        )
        blocks = text(response.get("Item") or {}, "blocks")
        return json.loads(blocks) if blocks is not None else None

    def park(self, source: str, link: LinkKey, report: Parked) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": str_attr(key("PARKED", source, link.kind, link.value)),
                "sk": str_attr(report.update_id),
                "body": str_attr(report.body),
                "expires_at": num_attr(self._expires(PARKED_DAYS * 86_400)),
            },
        )

    def parked(self, source: str, link: LinkKey) -> list[Parked]:
        found: list[Parked] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": str_attr(key("PARKED", source, link.kind, link.value))},
            "ConsistentRead": True,
        }
        now = int(self._clock().timestamp())
        while True:
            page = self._db.query(**request)
            for item in page.get("Items", []):
                # TTL deletes within days, not at the second: an expired item may still be read.
                if int(item.get("expires_at", {}).get("N", now + 1)) > now:
                    found.append(Parked(update_id=item["sk"]["S"], body=item["body"]["S"]))
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def unpark(self, source: str, link: LinkKey, update_id: str) -> None:
        self._db.delete_item(
            TableName=self._table,
            Key={"pk": str_attr(key("PARKED", source, link.kind, link.value)), "sk": str_attr(update_id)},
        )

    def _expires(self, seconds: int) -> int:
        return int(self._clock().timestamp()) + seconds
