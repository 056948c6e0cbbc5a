"""The order pages' items in the notifications table.

- PAGE#<token> / PAGE: the order a page token opens (storefront, order id) and what the page shows of the order
  itself (its number, items, total; the customer's locale and zone, never their contact), written by dispatch with
  each event (the latest event's blocks win) and expiring `PAGE_LINK_DAYS` after the order's last message.
- ORDER#<source>#<order id> / ANSWER#<nonce>: a customer's answer about a delivery, or a return they started
  (`return_started`: its items, reason, refund or exchange, the note masked), beside the order's events and
  notifications so `herald timeline` shows it. The form's nonce is in the key and the write is conditional: a
  replayed form post records nothing, and a second answer (a new form) is a second item, never an overwrite.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from herald.adapters.dynamodb_ledger import order_pk
from herald.adapters.dynamodb_values import num_attr, put_if_absent, str_attr
from herald.domain.keys import key
from herald.domain.masking import mask_text
from herald.usecases.ports import OrderPageRecord, RecordedAnswer, StartedReturn


def page_pk(token: str) -> str:
    return key("PAGE", token)


class DynamoDbOrderPages:
    def __init__(self, client: Any, table_name: str, *, link_days: int) -> None:
        self._db = client
        self._table = table_name
        self._link_days = link_days

    def record_page(self, token: str, record: OrderPageRecord, now: datetime) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": str_attr(page_pk(token)),
                "sk": str_attr("PAGE"),
                "kind": str_attr("order_page"),
                "source": str_attr(record.source),
                "order_id": str_attr(record.order_id),
                "blocks": str_attr(json.dumps(record.blocks, separators=(",", ":"), sort_keys=True)),
                "updated_at": str_attr(now.isoformat()),
                "expires_at": num_attr(int((now + timedelta(days=self._link_days)).timestamp())),
            },
        )

    def page(self, token: str, now: datetime) -> OrderPageRecord | None:
        """The page a token opens, or None when it was never issued or has expired (TTL deletes lazily)."""
        item = self._db.get_item(
            TableName=self._table, Key={"pk": str_attr(page_pk(token)), "sk": str_attr("PAGE")}, ConsistentRead=True
        ).get("Item")
        if not item or int(item["expires_at"]["N"]) < now.timestamp():
            return None
        return OrderPageRecord(item["source"]["S"], item["order_id"]["S"], json.loads(item["blocks"]["S"]))

    def record_answer(self, source: str, order_id: str, nonce: str, answer: RecordedAnswer, now: datetime) -> bool:
        """Record the answer once per form nonce. False when that form was already posted (a replay)."""
        item: dict[str, Any] = {
            "pk": str_attr(order_pk(source, order_id)),
            "sk": str_attr(key("ANSWER", nonce)),
            "kind": str_attr(answer.kind),
            "source": str_attr(source),
            "order_id": str_attr(order_id),
            "shipment_id": str_attr(answer.shipment_id),
            "answer": str_attr(answer.answer),
            "evidence": str_attr(json.dumps(answer.evidence, separators=(",", ":"), sort_keys=True)),
            "received_at": str_attr(now.isoformat()),
            "expires_at": num_attr(int((now + timedelta(days=self._link_days)).timestamp())),
        }
        for name, value in (("reason", answer.reason), ("note", answer.note)):
            if value:
                item[name] = str_attr(mask_text(value))  # the customer's own words: stored masked
        return put_if_absent(self._db, self._table, item) is None

    def record_return(self, source: str, order_id: str, nonce: str, started: StartedReturn, now: datetime) -> bool:
        """Record the started return once per form nonce. False when that form was already posted (a replay)."""
        item: dict[str, Any] = {
            "pk": str_attr(order_pk(source, order_id)),
            # The answers' keys: one nonce space for every form of the page, so no form's token posts another's.
            "sk": str_attr(key("ANSWER", nonce)),
            "kind": str_attr("return_started"),
            "source": str_attr(source),
            "order_id": str_attr(order_id),
            "return_id": str_attr(started.return_id),
            "items": str_attr(json.dumps(started.items, separators=(",", ":"), sort_keys=True)),
            "reason": str_attr(started.reason),
            "resolution": str_attr(started.resolution),
            "received_at": str_attr(now.isoformat()),
            "expires_at": num_attr(int((now + timedelta(days=self._link_days)).timestamp())),
        }
        if started.note:
            item["note"] = str_attr(mask_text(started.note))  # the customer's own words: stored masked
        return put_if_absent(self._db, self._table, item) is None
