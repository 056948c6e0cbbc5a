"""Suppressions in the notifications table: who opted out of (or cannot receive) which channel, per storefront.

Items: pk=`SUPPRESS#<source>`, sk=`sms#<E.164>` or `email#<lower-cased address>` (domain.suppression.recipient_key),
with `signal` (keyword, unsubscribe, group_unsubscribe, spamreport, bounce), `reason`, `at` and `strength`. One
item per (source, channel, recipient): a stronger signal replaces a weaker one, never the reverse, so a hard bounce
recorded after an unsubscribe wins and an unsubscribe arriving after a hard bounce changes nothing.

Beside each SMS recipient's suppression, `keyword#sms#<E.164>` keeps the latest keyword message applied for it
(`received_at_us`, `message_sid`), so an older STOP or START is never applied over a newer one.

Suppressions carry no TTL: an opt-out holds until the customer lifts it (START), however long that takes.
The recipient is in the key in plain: dispatch has to find it from the address it is about to write to.

Keys are built by domain.keys (a `#` or `\\` inside a source or an address is escaped). Before that, they were
joined raw: a suppression of a source or an address holding `#` may still sit at its old key, so reads also look
there, and lifting removes both (`_legacy_key`; never written any more). The every-storefront scope is
`SUPPRESS#*`, as before: `*` is a source the contract refuses, so no event's data can be recorded under it.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from herald.adapters.dynamodb_values import Item, condition_held, str_attr
from herald.domain.keys import key, split_key
from herald.domain.notification import Channel
from herald.domain.suppression import ANY_SOURCE, Suppression, SuppressionSignal, recipient_key, strength

MAX_BATCH_ATTEMPTS = 5  # BatchGetItem may leave keys unprocessed under throttling; retried with back-off


def suppression_pk(source: str) -> str:
    return key("SUPPRESS", source)


def _key(source: str, channel: Channel, recipient: str) -> Item:
    return {"pk": str_attr(suppression_pk(source)), "sk": str_attr(recipient_key(channel, recipient))}


def _legacy_key(source: str, channel: Channel, recipient: str) -> Item | None:
    """Where the same suppression was written before keys were escaped; None when that is the same key.

    Only a source or an address holding `#` or `\\` differs (an E.164 number never does). An opt-out recorded
    there must still stop messages, so it is read (and lifted) until an operator moves such items.
    """
    value = recipient.strip().lower() if channel is Channel.EMAIL else recipient.strip()
    old: Item = {"pk": str_attr("SUPPRESS#" + source), "sk": str_attr(channel.value + "#" + value)}
    return None if old == _key(source, channel, recipient) else old


class DynamoDbSuppressions:
    """Implements the SuppressionLookup port (dispatch) and the SuppressionStore port (webhooks)."""

    def __init__(self, client: Any, table_name: str, *, sleep: Any = time.sleep) -> None:
        self._db = client
        self._table = table_name
        self._sleep = sleep

    # --- writing (webhooks) ---------------------------------------------------------------------

    def suppress(self, suppression: Suppression) -> bool:
        """Record it. False when a stronger suppression of the same recipient is already there (kept as is)."""
        item: Item = {
            "pk": str_attr(suppression_pk(suppression.source)),
            "sk": str_attr(recipient_key(suppression.channel, suppression.recipient)),
            "kind": str_attr("suppression"),
            "source": str_attr(suppression.source),
            "channel": str_attr(suppression.channel.value),
            "signal": str_attr(suppression.signal.value),
            "reason": str_attr(suppression.reason[:300]),
            "at": str_attr(suppression.at),
            "strength": {"N": str(strength(suppression.signal))},
        }
        return condition_held(
            self._db.put_item,
            TableName=self._table,
            Item=item,
            ConditionExpression="attribute_not_exists(sk) OR strength <= :strength",
            ExpressionAttributeValues={":strength": item["strength"]},
        )

    def claim_keyword(self, source: str, recipient: str, *, received_at_us: int, message_sid: str) -> bool:
        """Record (received_at_us, message_sid) as the recipient's latest keyword unless a newer one is there.

        The same message claims again (its retry after a failure part way re-applies it); two messages received in
        the same microsecond are ordered by MessageSid, so every sandbox agrees which is the latest.
        Left as is: the claim and the suppression write that follows are two writes, so two keywords of one number
        handled at the same moment by two sandboxes could apply in the other order (a transaction would close it).
        """
        return condition_held(
            self._db.update_item,
            TableName=self._table,
            Key={
                "pk": str_attr(suppression_pk(source)),
                "sk": str_attr("keyword#" + recipient_key(Channel.SMS, recipient)),
            },
            UpdateExpression="SET received_at_us = :at, message_sid = :sid, kind = :kind",
            ConditionExpression=(
                "attribute_not_exists(sk) OR received_at_us < :at OR (received_at_us = :at AND message_sid <= :sid)"
            ),
            ExpressionAttributeValues={
                ":at": {"N": str(received_at_us)},
                ":sid": str_attr(message_sid),
                ":kind": str_attr("keyword_order"),
            },
        )

    def lift(self, source: str, channel: Channel, recipient: str, *, signals: Collection[SuppressionSignal]) -> bool:
        """Remove the recipient's suppression if its signal is one of `signals`. True when one was removed.

        START lifts only a keyword opt-out, never a hard bounce; a SendGrid resubscribe only a group unsubscribe.
        """
        values = {f":s{i}": str_attr(signal.value) for i, signal in enumerate(signals)}
        if not values:
            return False
        removed = False
        for item_key in (_key(source, channel, recipient), _legacy_key(source, channel, recipient)):
            if item_key is None:
                continue
            removed |= condition_held(
                self._db.delete_item,
                TableName=self._table,
                Key=item_key,
                ConditionExpression=f"attribute_exists(sk) AND #signal IN ({', '.join(values)})",
                ExpressionAttributeNames={"#signal": "signal"},
                ExpressionAttributeValues=values,
            )
        return removed

    # --- reading (dispatch) ---------------------------------------------------------------------

    def suppressions(self, source: str, recipients: Mapping[Channel, str]) -> dict[Channel, list[Suppression]]:
        """Every suppression of each recipient for `source` and for every source, in one BatchGetItem.

        Strongly consistent: a STOP recorded a moment ago must stop the next SMS.
        """
        sources = [source] if source == ANY_SOURCE else [source, ANY_SOURCE]
        keys = [
            item_key
            for channel, recipient in recipients.items()
            for s in sources
            for item_key in (_key(s, channel, recipient), _legacy_key(s, channel, recipient))
            if item_key is not None
        ]
        found: dict[Channel, list[Suppression]] = {}
        if not keys:
            return found
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(MAX_BATCH_ATTEMPTS):
            response = self._db.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                suppression = _from_item(item)
                found.setdefault(suppression.channel, []).append(suppression)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            self._sleep(0.05 * 2**attempt)
        # Dispatching without knowing would risk messaging someone who said STOP: fail, and SQS redelivers.
        raise RuntimeError("DynamoDB left suppression keys unprocessed after retries")

    def get(self, source: str, channel: Channel, recipient: str) -> Suppression | None:
        for item_key in (_key(source, channel, recipient), _legacy_key(source, channel, recipient)):
            if item_key is None:
                continue
            item = self._db.get_item(TableName=self._table, Key=item_key, ConsistentRead=True).get("Item")
            if item:
                return _from_item(item)
        return None


def _from_item(item: Item) -> Suppression:
    parts = split_key(item["sk"]["S"])
    if len(parts) == 2:
        channel_name, recipient = parts
    else:  # an item at its legacy key: the address after the first `#`, raw
        channel_name, _, recipient = item["sk"]["S"].partition("#")
    return Suppression(
        source=item["source"]["S"],
        channel=Channel(channel_name),
        recipient=recipient,
        signal=SuppressionSignal(item["signal"]["S"]),
        reason=item.get("reason", {}).get("S", ""),
        at=item.get("at", {}).get("S", ""),
    )
