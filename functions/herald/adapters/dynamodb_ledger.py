"""The notifications table in DynamoDB: the only code that knows its item layout.

One table, two access patterns:
- "claim this one notification": pk=ORDER#<source>#<order id>, sk=NOTIF#<event id>#<channel>, conditional writes;
- "all messages of order X": Query pk=ORDER#<source>#<order id> (events and notifications together).
Shipment progress lives at pk=SHIPMENT#<source>#<shipment id>, sk=STATE; rejected events at pk=REJECTED#<source>;
platform reports the intake ignored at pk=IGNORED#<source>#<order id> (the order the join found: its timeline reads
them) or pk=IGNORED#<source> (no order known), sk=<platform>#<report id>.
Every item carries `expires_at` (epoch seconds) for the table's TTL. Every key is built by domain.keys.key, which
escapes `#` inside a part: an order id or a source holding `#` cannot reach another order's items.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from herald.adapters.dynamodb_values import Item, conditional_failed, num_attr, old_item, put_if_absent, str_attr, text
from herald.domain.keys import key, key_prefix
from herald.domain.masking import mask_recipient, mask_text
from herald.domain.notification import ESCALATION_PART, ChannelMessage, NotificationStatus
from herald.domain.shipment_states import Move, ShipmentState, move, sources_of
from herald.usecases.ports import (
    Accepted,
    Claim,
    EventClaim,
    IgnoredReport,
    PlannedNotification,
    Rejection,
    ShipmentAdvance,
    ShipmentNotice,
    ShipmentPosition,
)

if TYPE_CHECKING:
    from herald.contract.models import Envelope, Order


# Free text an event carries (a carrier's or a storefront's words): stored masked, as every stored free text is.
_FREE_TEXT = {
    "delay": ("detail",),
    "exception": ("detail",),
    "attempt": ("reason",),
    "proof": ("location", "received_by"),
    "return": ("reason",),
    "cancellation": ("reason",),
}
# The blocks of an event that say who and where to (the customer, the store, how to notify): not a step's details.
_NOT_DETAILS = ("order", "customer", "store", "notify")


def event_details(event: Envelope) -> str:
    """The event's own blocks as compact JSON (its shipment, delay, proof, return...), free text masked."""
    from herald.contract.models import event_data

    data = event_data(event).model_dump(mode="json", by_alias=True, exclude_none=True)
    details = {name: block for name, block in data.items() if name not in _NOT_DETAILS}
    for block, fields in _FREE_TEXT.items():
        values = details.get(block)
        if isinstance(values, dict):
            for field in fields:
                if isinstance(values.get(field), str):
                    values[field] = mask_text(values[field])
    return json.dumps(details, separators=(",", ":"), sort_keys=True)


def order_pk(source: str, order_id: str) -> str:
    return key("ORDER", source, order_id)


def notification_sk(event_id: str, channel: str, *, escalation: bool = False) -> str:
    # An escalation is its own notification (sent at most once), beside the one it escalates.
    return key("NOTIF", event_id, channel, *([ESCALATION_PART] if escalation else []))


def notification_sk_prefix(event_id: str) -> str:
    """The start of every notification sort key of one event (its channels and their escalations)."""
    return key_prefix("NOTIF", event_id)


def event_sk(event_id: str) -> str:
    return key("EVENT", event_id)


def shipment_pk(source: str, shipment_id: str) -> str:
    return key("SHIPMENT", source, shipment_id)


def rejection_pk(source: str | None) -> str:
    return key("REJECTED", source or "unknown")


def ignored_pk(source: str, order_id: str | None = None) -> str:
    """Beside the order's own partition, not in it: the intake may write these and never an order's records."""
    return key("IGNORED", source, order_id) if order_id is not None else key("IGNORED", source)


class DynamoDbLedger:
    """Implements both DispatchLedger and NotificationLedger over one boto3 DynamoDB client."""

    def __init__(self, client: Any, table_name: str, *, ttl_days: int = 90) -> None:
        self._db = client
        self._table = table_name
        self._ttl = timedelta(days=ttl_days)

    # --- dispatch -------------------------------------------------------------------------

    def begin_event(self, event: Envelope, now: datetime) -> EventClaim:
        order = _order(event)
        item: Item = {
            "pk": str_attr(order_pk(event.source, order.id)),
            "sk": str_attr(event_sk(event.id)),
            "kind": str_attr("event"),
            "source": str_attr(event.source),
            "event_id": str_attr(event.id),
            "event_type": str_attr(event.type.value),
            "event_time": str_attr(event.time.isoformat()),
            "order_id": str_attr(order.id),
            "order_number": str_attr(order.number),
            "status": str_attr("dispatching"),
            "received_at": str_attr(now.isoformat()),
            "expires_at": num_attr(self._expires(now)),
            # What the order page shows of this step (a shipment's status, estimate, proof; a return's state).
            "details": str_attr(event_details(event)),
        }
        try:
            response = self._db.put_item(
                TableName=self._table,
                Item=item,
                # A half-finished dispatch (crash, failed enqueue) is resumed; a finished one is a duplicate.
                ConditionExpression="attribute_not_exists(sk) OR #status = :dispatching",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":dispatching": str_attr("dispatching")},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if conditional_failed(error):
                return EventClaim.DUPLICATE
            raise
        return EventClaim.RESUME if response.get("Attributes") else EventClaim.NEW

    def record_rejection(self, rejection: Rejection) -> None:
        item: Item = {
            "pk": str_attr(rejection_pk(rejection.source)),
            "sk": str_attr(key(rejection.received_at.isoformat(), rejection.message_id)),
            "kind": str_attr("rejection"),
            "reason": str_attr(mask_text(rejection.reason)),
            "message_id": str_attr(rejection.message_id),
            "expires_at": num_attr(self._expires(rejection.received_at)),
        }
        for name, value in (
            ("source", rejection.source),
            ("event_id", rejection.event_id),
            ("event_type", rejection.event_type),
        ):
            if value:
                item[name] = str_attr(value)
        self._db.put_item(TableName=self._table, Item=item)

    def record_ignored(self, report: IgnoredReport) -> None:
        """One item per (platform, report id): a platform's retry of the report overwrites it. Free text masked."""
        item: Item = {
            "pk": str_attr(ignored_pk(report.source, report.order_id)),
            "sk": str_attr(key(report.platform, report.report_id)),
            "kind": str_attr("ignored"),
            "source": str_attr(report.source),
            "platform": str_attr(report.platform),
            "report_id": str_attr(report.report_id),
            "reason": str_attr(mask_text(report.reason)[:500]),
            "received_at": str_attr(report.received_at.isoformat()),
            "expires_at": num_attr(self._expires(report.received_at)),
        }
        for name, value in (
            ("status", mask_text(report.status) if report.status else None),
            ("order_id", report.order_id),
            ("tracking_number", report.tracking_number),
            ("shipment_id", report.shipment_id),
        ):
            if value:
                item[name] = str_attr(value)
        self._db.put_item(TableName=self._table, Item=item)

    def advance_shipment(self, position: ShipmentPosition) -> ShipmentAdvance:
        """Move the shipment's state to this event, or say why it is superseded.

        One conditional write whose condition is domain.shipment_states' column of the new state: the states
        after which it is notified whatever its time, and those after which it is notified only when not older
        than the status last notified (its loops). Atomic: two events of one shipment racing cannot both pass
        from the same state. The contract keeps event times at most a day ahead of Herald's clock.
        """
        names = {"#state": "state", "#t": "event_time_ms", "#last": "last_event_id"}
        values: Item = {
            ":state": str_attr(position.state.value),
            ":t": num_attr(int(position.time.timestamp() * 1000)),
            ":id": str_attr(position.event_id),
        }
        # No state yet (a first event; an item written before the states, under ranks) or this very event again
        # (a redelivery resuming its dispatch).
        allowed = ["attribute_not_exists(sk)", "attribute_not_exists(#state)", "#last = :id"]
        for kind in Move:
            sources = sorted(sources_of(position.state, kind))
            if not sources:
                continue
            placeholders = []
            for state in sources:
                placeholders.append(f":{kind.value}_{state.value}")
                values[placeholders[-1]] = str_attr(state.value)
            listed = f"#state IN ({', '.join(placeholders)})"
            allowed.append(listed if kind is Move.NOTIFIED else f"({listed} AND #t <= :t)")
        # The state item expires with the records of the shipment's latest event (the table's TTL), refreshed
        # by each event that advances it: no shipment's state outlives the notifications it ordered.
        values[":expires"] = num_attr(self._expires(datetime.now(UTC)))
        update = "SET #state = :state, #t = :t, #last = :id, expires_at = :expires"
        if position.records_digest is not None:
            # The digest of the join's and the page's records this event keeps; the old one comes back with the
            # answer (ALL_OLD: the small state item as it was, at no extra cost), so dispatch skips rewriting records
            # that did not change.
            update += ", records_digest = :digest"
            values[":digest"] = str_attr(position.records_digest)
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key={"pk": str_attr(shipment_pk(position.source, position.shipment_id)), "sk": str_attr("STATE")},
                UpdateExpression=update,
                ConditionExpression=" OR ".join(allowed),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise
            return ShipmentAdvance(superseded=self._superseded_reason(position, old_item(error)))
        previous = text(response.get("Attributes") or {}, "records_digest")
        return ShipmentAdvance(records_unchanged=previous is not None and previous == position.records_digest)

    def last_notice(self, source: str, shipment_id: str) -> ShipmentNotice | None:
        """The shipment's last notified state (the late-delivery check: is the promising notice still the last?)."""
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": str_attr(shipment_pk(source, shipment_id)), "sk": str_attr("STATE")},
            ProjectionExpression="#state, last_event_id",
            ExpressionAttributeNames={"#state": "state"},
            ConsistentRead=True,
        ).get("Item")
        if not item or "state" not in item or "last_event_id" not in item:
            return None
        return ShipmentNotice(ShipmentState(item["state"]["S"]), item["last_event_id"]["S"])

    @staticmethod
    def _superseded_reason(position: ShipmentPosition, current: Item) -> str:
        last = current.get("last_event_id", {}).get("S", "?")
        state = ShipmentState(current["state"]["S"])
        if move(state, position.state) is Move.IF_LATER:
            return f"shipment already notified of {state.value}, reported later (event {last})"
        return f"{position.state.value} does not follow {state.value}, already notified (event {last})"

    def record_notifications(
        self, event: Envelope, planned: Sequence[PlannedNotification], now: datetime
    ) -> list[ChannelMessage]:
        pending = []
        order = _order(event)
        for plan in planned:
            item: Item = {
                "pk": str_attr(order_pk(event.source, order.id)),
                "sk": str_attr(notification_sk(event.id, plan.channel.value)),
                "kind": str_attr("notification"),
                "source": str_attr(event.source),
                "event_id": str_attr(event.id),
                "event_type": str_attr(event.type.value),
                "channel": str_attr(plan.channel.value),
                "order_id": str_attr(order.id),
                "attempts": num_attr(0),
                "created_at": str_attr(now.isoformat()),
                "updated_at": str_attr(now.isoformat()),
                "expires_at": num_attr(self._expires(now)),
            }
            if plan.message is not None and plan.standby:
                # A fallback: the rendered message waits here; the follow-up function queues it only if the
                # other channel fails (standby -> pending, conditionally, so at most once).
                item |= {
                    "notification_id": str_attr(plan.message.notification_id),
                    "status": str_attr(NotificationStatus.STANDBY.value),
                    "recipient": str_attr(mask_recipient(plan.message.to)),
                    "message": str_attr(plan.message.model_dump_json(exclude_none=True)),
                }
            elif plan.message is not None:
                item |= {
                    "notification_id": str_attr(plan.message.notification_id),
                    "status": str_attr(NotificationStatus.PENDING.value),
                    "recipient": str_attr(mask_recipient(plan.message.to)),
                }
                if plan.message.not_before:
                    # Held for the customer's quiet hours: the timeline shows when it will go.
                    item["held_until"] = str_attr(plan.message.not_before)
            elif plan.suppressed_by is not None:
                # The customer's opt-out (or an undeliverable address) stopped it: what and since when.
                item |= {
                    "status": str_attr(NotificationStatus.SUPPRESSED.value),
                    "reason": str_attr(plan.skipped_reason or ""),
                    "suppression_signal": str_attr(plan.suppressed_by.signal.value),
                    "suppression_source": str_attr(plan.suppressed_by.source),
                    "recipient": str_attr(mask_recipient(plan.suppressed_by.recipient)),
                }
            else:
                item |= {
                    "status": str_attr(NotificationStatus.SKIPPED.value),
                    "reason": str_attr(plan.skipped_reason or ""),
                }
            existing = put_if_absent(self._db, self._table, item)
            # Recorded by an earlier, unfinished dispatch of this event: queue it again only if it never left
            # "pending"; the sender's claim stops a second send either way.
            if existing is not None and text(existing, "status") != NotificationStatus.PENDING:
                continue
            if plan.message is not None and not plan.standby:
                pending.append(plan.message)
        return pending

    def finish_event(self, event: Envelope, outcome: str, reason: str | None, now: datetime) -> None:
        values: Item = {":status": str_attr(str(outcome)), ":now": str_attr(now.isoformat())}
        update = "SET #status = :status, finished_at = :now"
        if reason:
            update += ", reason = :reason"
            values[":reason"] = str_attr(mask_text(reason))
        self._db.update_item(
            TableName=self._table,
            Key={"pk": str_attr(order_pk(event.source, _order(event).id)), "sk": str_attr(event_sk(event.id))},
            UpdateExpression=update,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    # --- send -----------------------------------------------------------------------------

    def claim(self, message: ChannelMessage, *, lease_seconds: int, now: datetime) -> Claim:
        epoch = int(now.timestamp())
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key=self._notification_key(message),
                UpdateExpression=(
                    "SET #status = :sending, lease_until = :lease, attempts = if_not_exists(attempts, :zero) + :one,"
                    " updated_at = :now, notification_id = :nid, channel = :channel, event_type = :type,"
                    " expires_at = if_not_exists(expires_at, :expires)"
                ),
                # Claimable: waiting, waiting for a retry, replayed from the DLQ, or held by an instance
                # whose lease ran out (it crashed). Never: sending under a live lease, sent, failed.
                ConditionExpression=(
                    "attribute_not_exists(sk) OR #status IN (:pending, :retrying, :dlq)"
                    " OR (#status = :sending AND lease_until < :epoch)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":sending": str_attr(NotificationStatus.SENDING.value),
                    ":pending": str_attr(NotificationStatus.PENDING.value),
                    ":retrying": str_attr(NotificationStatus.RETRYING.value),
                    ":dlq": str_attr(NotificationStatus.DLQ.value),
                    ":lease": num_attr(epoch + lease_seconds),
                    ":epoch": num_attr(epoch),
                    ":zero": num_attr(0),
                    ":one": num_attr(1),
                    ":now": str_attr(now.isoformat()),
                    ":nid": str_attr(message.notification_id),
                    ":channel": str_attr(message.channel.value),
                    ":type": str_attr(message.event_type),
                    ":expires": num_attr(self._expires(now)),
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise
            current = old_item(error)
            status = current.get("status", {}).get("S")
            lease_until = int(current.get("lease_until", {}).get("N", epoch))
            return Claim(
                claimed=False,
                status=NotificationStatus(status) if status else None,
                attempts=int(current.get("attempts", {}).get("N", 0)),
                lease_remaining_seconds=max(0, lease_until - epoch),
                error_code=current.get("error_code", {}).get("S"),
            )
        return Claim(claimed=True, status=None, attempts=int(response["Attributes"]["attempts"]["N"]))

    def mark_sent(self, message: ChannelMessage, accepted: Accepted, *, now: datetime) -> None:
        values: Item = {
            ":status": str_attr(NotificationStatus.SENT.value),
            ":now": str_attr(now.isoformat()),
            ":provider": str_attr(accepted.provider),
        }
        update = "SET #status = :status, sent_at = :now, updated_at = :now, provider = :provider"
        if accepted.message_id:
            update += ", provider_message_id = :pmid"
            values[":pmid"] = str_attr(accepted.message_id)
        if accepted.route_reason:
            # Failover or escalation: the timeline says why the secondary provider took it.
            update += ", route_reason = :route"
            values[":route"] = str_attr(accepted.route_reason)
        self._update_status(message, update + " REMOVE lease_until", values)

    def mark_failed(self, message: ChannelMessage, *, code: str, reason: str, now: datetime) -> None:
        self._update_status(
            message,
            "SET #status = :status, error_code = :code, reason = :reason, updated_at = :now REMOVE lease_until",
            {
                ":status": str_attr(NotificationStatus.FAILED.value),
                ":code": str_attr(code),
                ":reason": str_attr(mask_text(reason)[:500]),
                ":now": str_attr(now.isoformat()),
            },
        )

    def mark_retrying(self, message: ChannelMessage, *, code: str, reason: str, final: bool, now: datetime) -> None:
        status = NotificationStatus.DLQ if final else NotificationStatus.RETRYING
        self._update_status(
            message,
            "SET #status = :status, error_code = :code, reason = :reason, updated_at = :now REMOVE lease_until",
            {
                ":status": str_attr(status.value),
                ":code": str_attr(code),
                ":reason": str_attr(mask_text(reason)[:500]),
                ":now": str_attr(now.isoformat()),
            },
        )

    # --- reading --------------------------------------------------------------------------

    def order_items(self, source: str, order_id: str) -> list[Item]:
        """Every event and notification item of one order, in key order."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": str_attr(order_pk(source, order_id))},
        }
        while True:
            page = self._db.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def ignored_reports(self, source: str, order_id: str | None = None) -> list[Item]:
        """The reports the intake ignored for this order (on its timeline), or for no known order of the source."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": str_attr(ignored_pk(source, order_id))},
        }
        while True:
            page = self._db.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _update_status(self, message: ChannelMessage, update: str, values: Item) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=self._notification_key(message),
            UpdateExpression=update,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    @staticmethod
    def _notification_key(message: ChannelMessage) -> Item:
        return {
            "pk": str_attr(order_pk(message.source, message.order_id)),
            "sk": str_attr(notification_sk(message.event_id, message.channel.value, escalation=message.escalation)),
        }

    def _expires(self, now: datetime) -> int:
        return int((now + self._ttl).timestamp())


def _order(event: Envelope) -> Order:
    """The event's order. The contract models are imported here, not with this module: only dispatch hands
    events in, and it has built them already; the senders share this adapter and never need them (about
    50 ms of their cold start)."""
    from herald.contract.models import event_data

    return event_data(event).order
