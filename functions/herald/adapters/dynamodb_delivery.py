"""Delivery reports in the notifications table: provider callbacks applied to notification items.

The notification item (written by dynamodb_ledger) gains, beside the send pipeline's `status`:
- `delivery_status` / `delivery_rank`: the provider's latest state, only ever replaced by a higher rank;
- `delivery_error_code`, `delivery_reason`, `delivery_updated_at`;
- `history`: the provider reports in arrival order (bounded), and `delivery_events`, the set of report ids
  already recorded, so a repeated callback records nothing.
`status` is left to the senders: a callback can arrive before `mark_sent` (Twilio's first callbacks come
within a second), and two writers on one attribute would let `mark_sent` undo a delivery.

Two more item kinds live here: `WEBHOOK#<key>` replay-guard records and `INBOUND#<number>` inbound SMS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from herald.adapters.dynamodb_ledger import notification_sk, order_pk
from herald.adapters.dynamodb_values import (
    Item,
    condition_held,
    conditional_failed,
    num_attr,
    old_item,
    put_if_absent,
    str_attr,
)
from herald.domain.delivery_states import ProviderStatus, rank
from herald.domain.keys import key as key_of
from herald.domain.masking import mask_recipient, mask_text
from herald.usecases.delivery_status import ApplyOutcome, InboundMessage, InboundReceipt, NotificationRef

PROVIDER_MESSAGE_INDEX = "by_provider_message_id"
MAX_HISTORY = 50  # a message opened hundreds of times must not grow its item towards DynamoDB's 400 KB


def _to_attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, bool | str):
        return str_attr(str(value))
    if isinstance(value, int | float):
        return num_attr(value)
    if isinstance(value, dict):
        return {"M": {k: _to_attribute(v) for k, v in value.items()}}
    raise TypeError(f"unsupported history value {value!r}")


class DynamoDbDelivery:
    """Implements the DeliveryLedger port and the webhooks' ReplayGuard over one DynamoDB client."""

    def __init__(self, client: Any, table_name: str, *, ttl_days: int = 90) -> None:
        self._db = client
        self._table = table_name
        self._ttl_seconds = ttl_days * 86_400

    # --- finding the notification ---------------------------------------------------------------

    def find_by_provider_message_id(self, provider_message_ids: Sequence[str]) -> NotificationRef | None:
        """The notification a provider message id was recorded on (the sparse GSI), trying each candidate."""
        for candidate in provider_message_ids:
            page = self._db.query(
                TableName=self._table,
                IndexName=PROVIDER_MESSAGE_INDEX,
                KeyConditionExpression="provider_message_id = :id",
                ExpressionAttributeValues={":id": str_attr(candidate)},
            )
            for item in page.get("Items", []):
                if item.get("kind", {}).get("S") == "notification":
                    return NotificationRef(
                        source=item["source"]["S"],
                        order_id=item["order_id"]["S"],
                        event_id=item["event_id"]["S"],
                        channel=item["channel"]["S"],
                    )
        return None

    # --- applying a report ----------------------------------------------------------------------

    def apply_status(self, ref: NotificationRef, status: ProviderStatus, now: datetime) -> ApplyOutcome:
        entry = _to_attribute(status.history_entry(now.isoformat()))
        values: Item = {
            ":channel": str_attr(ref.channel),
            ":key": str_attr(status.event_key),
            ":keys": {"SS": [status.event_key]},
            ":entry": {"L": [entry]},
            ":empty": {"L": []},
        }
        names = {"#channel": "channel"}
        if status.state is not None:
            advanced = self._advance(ref, status, now, names, values)
            if advanced is not None:
                return advanced
        return self._record_only(ref, names, values)

    def _advance(
        self, ref: NotificationRef, status: ProviderStatus, now: datetime, names: dict[str, str], values: Item
    ) -> ApplyOutcome | None:
        """Move the state forward. None when the report is new but does not outrank the current state."""
        assert status.state is not None
        update = (
            "SET delivery_status = :state, delivery_rank = :rank, delivery_updated_at = :now,"
            " history = list_append(if_not_exists(history, :empty), :entry)"
        )
        advance_values: Item = {
            **values,
            ":state": str_attr(status.state.value),
            ":rank": num_attr(rank(status.state)),
            ":now": str_attr(now.isoformat()),
        }
        if status.error_code:
            update += ", delivery_error_code = :code"
            advance_values[":code"] = str_attr(status.error_code)
        if status.reason:
            update += ", delivery_reason = :reason"
            advance_values[":reason"] = str_attr(status.reason[:500])
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(ref),
                UpdateExpression=update + " ADD delivery_events :keys",
                ConditionExpression=(
                    "attribute_exists(sk) AND #channel = :channel AND NOT contains(delivery_events, :key)"
                    " AND (attribute_not_exists(delivery_rank) OR delivery_rank < :rank)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=advance_values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise
            current = old_item(error)
            refused = self._refusal(ref, current, status.event_key)
            return refused  # None: new, but a lower or equal rank - history only
        return ApplyOutcome.ADVANCED

    def _record_only(self, ref: NotificationRef, names: dict[str, str], values: Item) -> ApplyOutcome:
        """Keep a report that does not move the state (out of order, a repeat terminal, unknown) in the history."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(ref),
                UpdateExpression=(
                    "SET history = list_append(if_not_exists(history, :empty), :entry) ADD delivery_events :keys"
                ),
                ConditionExpression=(
                    "attribute_exists(sk) AND #channel = :channel AND NOT contains(delivery_events, :key)"
                    " AND (attribute_not_exists(history) OR size(history) < :max)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":max": num_attr(MAX_HISTORY)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise
            current = old_item(error)
            refused = self._refusal(ref, current, values[":key"]["S"])
            if refused is not None:
                return refused
            # The history is full: count what it could not keep, so the timeline can say so.
            self._db.update_item(
                TableName=self._table,
                Key=self._key(ref),
                UpdateExpression="ADD history_overflow :one",
                ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeValues={":one": num_attr(1)},
            )
        return ApplyOutcome.RECORDED

    @staticmethod
    def _refusal(ref: NotificationRef, current: Item, event_key: str) -> ApplyOutcome | None:
        if not current or current.get("channel", {}).get("S") != ref.channel:
            return ApplyOutcome.NOT_FOUND
        if event_key in current.get("delivery_events", {}).get("SS", []):
            return ApplyOutcome.DUPLICATE
        return None

    # --- replay guard ---------------------------------------------------------------------------

    def seen(self, key: str) -> bool:
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": str_attr(key_of("WEBHOOK", key)), "sk": str_attr("REPLAY")},
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in response

    def first_use(self, key: str, *, expires_at: int) -> bool:
        return condition_held(
            self._db.put_item,
            TableName=self._table,
            Item={
                "pk": str_attr(key_of("WEBHOOK", key)),
                "sk": str_attr("REPLAY"),
                "kind": str_attr("webhook_replay_guard"),
                "expires_at": num_attr(expires_at),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    # --- inbound messages -----------------------------------------------------------------------

    def record_inbound(self, message: InboundMessage, now: datetime) -> InboundReceipt:
        """Record an inbound SMS once per MessageSid; a repeat reads back when it was first received and whether
        its keyword was handled. The record's TTL (the table's, 90 days by default) is far beyond Twilio's
        retries (seconds to minutes, connection overrides included)."""
        item: Item = {
            "pk": str_attr(key_of("INBOUND", message.to)),
            "sk": str_attr(key_of("SMS", message.message_sid)),
            "kind": str_attr("inbound_sms"),
            "message_sid": str_attr(message.message_sid),
            "to": str_attr(message.to),
            # The customer's number is personal data: stored masked, plus a hash to match it later
            # (opt-out look-ups hash the recipient the same way).
            "from_masked": str_attr(mask_recipient(message.from_)),
            "from_hash": str_attr(phone_hash(message.from_)),
            # What the customer typed may quote an address or a number: stored masked, as logs are.
            "body": str_attr(mask_text(message.body[:1600])),
            "received_at": str_attr(now.isoformat()),
            "received_at_us": num_attr(_microseconds(now)),
            "expires_at": num_attr(int(now.timestamp()) + self._ttl_seconds),
        }
        if message.account_sid:
            item["account_sid"] = str_attr(message.account_sid)
        existing = put_if_absent(self._db, self._table, item)
        if existing is None:
            return InboundReceipt(first=True, received_at_us=_microseconds(now), handled=False)
        # Recorded before this change carried no received_at_us: its first arrival is unknown, so it sorts first.
        first_seen = int(existing.get("received_at_us", {}).get("N", "0"))
        return InboundReceipt(first=False, received_at_us=first_seen, handled="handled_at" in existing)

    def mark_inbound_handled(self, message: InboundMessage, now: datetime) -> None:
        """The message's handlers ran to the end: a repeat of it changes nothing."""
        self._db.update_item(
            TableName=self._table,
            Key={"pk": str_attr(key_of("INBOUND", message.to)), "sk": str_attr(key_of("SMS", message.message_sid))},
            UpdateExpression="SET handled_at = :now",
            ConditionExpression="attribute_exists(sk)",
            ExpressionAttributeValues={":now": str_attr(now.isoformat())},
        )

    # --- reading --------------------------------------------------------------------------------

    def notification(self, ref: NotificationRef) -> Item | None:
        response = self._db.get_item(TableName=self._table, Key=self._key(ref), ConsistentRead=True)
        item: Item | None = response.get("Item")
        return item

    @staticmethod
    def _key(ref: NotificationRef) -> Item:
        return {
            "pk": str_attr(order_pk(ref.source, ref.order_id)),
            "sk": str_attr(notification_sk(ref.event_id, ref.channel)),
        }


def _microseconds(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def phone_hash(number: str) -> str:
    """A stable look-up key for a phone number (E.164). It keeps the number out of plain sight in the table,
    not secret: the space of phone numbers is small enough to enumerate."""
    return hashlib.sha256(number.strip().encode("utf-8")).hexdigest()
