"""The provider circuit breaker's shared state in the notifications table: the only code that knows its item layout.

Every function instance of a channel reads and writes one item per (channel, primary provider):

    pk           S  CIRCUIT#<channel>
    sk           S  <primary provider name>
    kind         S  "circuit"
    state        S  "closed" | "open"         (no item: closed; the first retryable failure creates it)
    failures     N  consecutive retryable failures of the primary (0 after a success)
    opened_at    N  epoch seconds: when it opened, or when the last probe failed (the wait starts again)
    probe_until  N  epoch seconds: the instance that claimed the probe holds it until then (absent: nobody)
    updated_at   S  ISO 8601 of the last write
    last_error   S  "<code>: <message>" of the last retryable failure, cut short

No `expires_at`: a TTL deletion would silently close an open circuit. Every transition is a conditional write,
so whatever the number of instances, one of them wins each switch (and reports it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from herald.adapters.dynamodb_values import Item, condition_held, num_attr, str_attr
from herald.domain.circuit import CircuitState, CircuitStatus, epoch_seconds
from herald.domain.keys import key

LAST_ERROR_MAX_CHARS = 200


def circuit_pk(channel: str) -> str:
    return key("CIRCUIT", channel)


def _int(item: Item, name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return None if value is None else int(Decimal(value))


def state_from_item(item: Item) -> CircuitState:
    if not item:
        return CircuitState()
    return CircuitState(
        status=CircuitStatus(item.get("state", {}).get("S", CircuitStatus.CLOSED.value)),
        failures=_int(item, "failures") or 0,
        opened_at=_int(item, "opened_at"),
        probe_until=_int(item, "probe_until"),
        last_error=item.get("last_error", {}).get("S"),
    )


class DynamoDbCircuit:
    """The state of one channel's circuit over its primary provider, over a boto3 low-level DynamoDB client."""

    def __init__(self, client: Any, table_name: str, channel: str, primary_name: str) -> None:
        self._db = client
        self._table = table_name
        self._key: Item = {"pk": str_attr(circuit_pk(channel)), "sk": str_attr(primary_name)}

    def snapshot(self) -> CircuitState:
        # Strongly consistent: an instance that just lost a conditional write reads the winner's state.
        response = self._db.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        return state_from_item(response.get("Item", {}))

    def record_failure(self, now: datetime, error: str) -> CircuitState:
        """Count one retryable failure of the primary; return the state after it."""
        response = self._db.update_item(
            TableName=self._table,
            Key=self._key,
            UpdateExpression=(
                "SET #kind = :kind, #state = if_not_exists(#state, :closed), updated_at = :now, last_error = :error "
                "ADD failures :one"
            ),
            ExpressionAttributeNames={"#kind": "kind", "#state": "state"},
            ExpressionAttributeValues={
                ":kind": str_attr("circuit"),
                ":closed": str_attr(CircuitStatus.CLOSED.value),
                ":now": str_attr(now.isoformat()),
                ":error": str_attr(error[:LAST_ERROR_MAX_CHARS]),
                ":one": num_attr(1),
            },
            ReturnValues="ALL_NEW",
        )
        return state_from_item(response["Attributes"])

    def open_if_closed(self, now: datetime, *, min_failures: int) -> bool:
        """Open the circuit; False when it is already open, or a success reset the count meanwhile."""
        return self._update(
            "SET #state = :open, opened_at = :at, updated_at = :now REMOVE probe_until",
            "(attribute_not_exists(#state) OR #state = :closed) AND failures >= :min",
            {
                ":open": str_attr(CircuitStatus.OPEN.value),
                ":closed": str_attr(CircuitStatus.CLOSED.value),
                ":at": num_attr(epoch_seconds(now)),
                ":now": str_attr(now.isoformat()),
                ":min": num_attr(min_failures),
            },
        )

    def reset(self, now: datetime) -> bool:
        """failures = 0 after a success on the primary; False when the circuit is open (or was never written)."""
        return self._update(
            "SET failures = :zero, updated_at = :now",
            "#state = :closed",
            {":zero": num_attr(0), ":now": str_attr(now.isoformat()), ":closed": str_attr(CircuitStatus.CLOSED.value)},
        )

    def claim_probe(self, now: datetime, *, lease_seconds: int, probe_after_seconds: int) -> bool:
        """Become the one instance that probes the primary; False when another holds the probe or it is not time.

        The wait is checked here too: the caller decided on a cached snapshot, and a failed probe may have
        restarted the wait since.
        """
        at = epoch_seconds(now)
        return self._update(
            "SET probe_until = :until, updated_at = :now",
            "#state = :open AND (attribute_not_exists(opened_at) OR opened_at <= :due) "
            "AND (attribute_not_exists(probe_until) OR probe_until < :at)",
            {
                ":open": str_attr(CircuitStatus.OPEN.value),
                ":due": num_attr(at - probe_after_seconds),
                ":at": num_attr(at),
                ":until": num_attr(at + lease_seconds),
                ":now": str_attr(now.isoformat()),
            },
        )

    def close_after_probe(self, now: datetime) -> bool:
        """The probe got an answer from the primary: close. False when it was closed already."""
        return self._update(
            "SET #state = :closed, failures = :zero, updated_at = :now REMOVE opened_at, probe_until",
            "#state = :open",
            {
                ":open": str_attr(CircuitStatus.OPEN.value),
                ":closed": str_attr(CircuitStatus.CLOSED.value),
                ":zero": num_attr(0),
                ":now": str_attr(now.isoformat()),
            },
        )

    def reopen(self, now: datetime, error: str) -> bool:
        """The probe failed: stay open, wait again from now, and let the next probe be claimed."""
        return self._update(
            "SET opened_at = :at, updated_at = :now, last_error = :error REMOVE probe_until ADD failures :one",
            "#state = :open",
            {
                ":open": str_attr(CircuitStatus.OPEN.value),
                ":at": num_attr(epoch_seconds(now)),
                ":now": str_attr(now.isoformat()),
                ":error": str_attr(error[:LAST_ERROR_MAX_CHARS]),
                ":one": num_attr(1),
            },
        )

    def _update(self, update: str, condition: str, values: Item) -> bool:
        """One conditional UpdateItem; False when its condition did not hold."""
        return condition_held(
            self._db.update_item,
            TableName=self._table,
            Key=self._key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values,
        )
