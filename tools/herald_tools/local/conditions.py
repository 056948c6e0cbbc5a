"""What the demo's stories wait for, read from the emulated deployment, each with a deadline.

A story step that depends on something having happened (a circuit opened, a probe being due, an opt-out
recorded) waits for that condition, never for a number of seconds: on a loaded machine retries, probes and
callbacks take longer, and a sleep that was long enough on a quiet one lets the story run ahead of itself.
A condition not met by its deadline stops the demo with a message naming it and what was last seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from herald.adapters.dynamodb_circuit import circuit_pk, state_from_item
from herald.domain.circuit import CircuitState, CircuitStatus
from herald.domain.keys import key_prefix
from herald.domain.notification import Channel, NotificationStatus
from herald.domain.suppression import recipient_key

DEFAULT_TIMEOUT_SECONDS = 90.0  # generous: a loaded 2-core machine takes several times a quiet one's time
POLL_SECONDS = 0.1
# A notification in one of these is still on its way: queued, at the provider, or waiting for a retry.
UNSETTLED = frozenset({NotificationStatus.PENDING, NotificationStatus.SENDING, NotificationStatus.RETRYING})

T = TypeVar("T")


class ConditionNotMet(RuntimeError):
    """A story's condition did not hold by its deadline: the demo cannot go on telling that story."""


def wait_for(
    what: str,
    observe: Callable[[], T],
    holds: Callable[[T], bool],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Observe until `holds(observation)`; return that observation. ConditionNotMet names `what` and the last one."""
    deadline = clock() + timeout
    while True:
        seen = observe()
        if holds(seen):
            return seen
        if clock() >= deadline:
            raise ConditionNotMet(f"gave up after {timeout:g}s waiting for {what}; last seen: {seen}")
        sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Deployment:
    """The parts of a running deployment the conditions read: its table and its circuit's probe interval."""

    dynamodb: Any  # a boto3 DynamoDB client on the emulator
    table: str
    probe_seconds: int  # FailoverProbeSeconds
    epoch: Callable[[], float] = time.time  # the functions' clock: circuit times are epoch seconds

    def circuit(self, channel: str) -> CircuitState:
        """The channel's circuit as the senders share it (no item yet: closed)."""
        response = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": circuit_pk(channel)}},
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return state_from_item(items[0] if items else {})

    def probe_due(self, state: CircuitState) -> bool:
        """Open, its probe interval passed (in the whole seconds the claim compares), and no probe claimed."""
        now = int(self.epoch())
        return (
            state.status is CircuitStatus.OPEN
            and (state.opened_at or 0) <= now - self.probe_seconds
            and (state.probe_until is None or state.probe_until < now)
        )

    def unsettled(self, channel: str) -> list[str]:
        """Event ids of the channel's notifications still on their way (queued, sending, waiting for a retry)."""
        found: list[str] = []
        for item in self._scan({"kind": "notification", "channel": channel}):
            if item.get("status", {}).get("S") in UNSETTLED:
                found.append(item.get("event_id", {}).get("S", "?"))
        return found

    def suppressed(self, channel: str, recipient: str) -> bool:
        """Whether an opt-out of `recipient` on `channel` is recorded, for any storefront."""
        items = self._scan({"sk": recipient_key(Channel(channel), recipient)}, pk_prefix=key_prefix("SUPPRESS"))
        return bool(items)

    def records(self, source: str) -> dict[str, dict[str, str]]:
        """What dispatch recorded for the storefront's events, by event id: each event's record (its type, status,
        reason, order) or its rejection (status "rejected"), as plain strings."""
        found: dict[str, dict[str, str]] = {}
        for kind in ("event", "rejection"):
            for item in self._scan({"kind": kind, "source": source}):
                plain = {name: str(next(iter(value.values()))) for name, value in item.items()}
                if kind == "rejection":
                    plain["status"] = "rejected"
                if "event_id" in plain:
                    found[plain["event_id"]] = plain
        return found

    def rejection(self, message_id: str) -> str | None:
        """The reason a function recorded for rejecting the SQS message `message_id`, or None."""
        items = self._scan({"kind": "rejection", "message_id": message_id})
        return items[0]["reason"]["S"] if items else None

    def _scan(self, equal: dict[str, str], *, pk_prefix: str | None = None) -> list[dict[str, Any]]:
        return scan_items(self.dynamodb, self.table, equal, pk_prefix=pk_prefix)


def scan_items(
    dynamodb: Any, table: str, equal: dict[str, str], *, pk_prefix: str | None = None
) -> list[dict[str, Any]]:
    """The table's items whose string attributes equal `equal` (and whose pk starts with `pk_prefix`), every page
    of a consistent Scan: the local table is small, and a scan needs no index the template would not otherwise
    have (the demo's conditions and report read the table this way)."""
    names = {f"#a{i}": name for i, name in enumerate(equal)}
    values = {f":v{i}": {"S": value} for i, value in enumerate(equal.values())}
    clauses = [f"#a{i} = :v{i}" for i in range(len(equal))]
    if pk_prefix is not None:
        names["#pk"], values[":prefix"] = "pk", {"S": pk_prefix}
        clauses.append("begins_with(#pk, :prefix)")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": " AND ".join(clauses),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
