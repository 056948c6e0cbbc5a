"""Make moto's DynamoDB writes atomic, as DynamoDB's are.

Herald's guarantees rest on conditional writes: one claim per notification, one circuit switch per outage, one
fallback per failure. DynamoDB evaluates a write's condition and applies it atomically; moto evaluates and applies
in plain Python, so two threads (a sender's concurrent batch, the threaded moto server) can both see the condition
hold and both write: a notification claimed twice, a failover logged twice. That would be the emulator's flaw, not
Herald's, so the local runtime and the handler tests run every DynamoDB write of moto under one lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

# The backend's writing operations: each reads what its condition needs and writes, in one call.
WRITE_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_LOCK = threading.RLock()  # re-entrant: a transaction's backend call may use the single-item ones inside it
_MARK = "_herald_atomic"


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return operation(*args, **kwargs)

    setattr(locked, _MARK, True)
    return locked


def make_dynamodb_writes_atomic() -> None:
    """Wrap moto's DynamoDB backend writes in one process-wide lock (idempotent: wrapping twice wraps once)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITE_OPERATIONS:
        operation = getattr(DynamoDBBackend, name)
        if not getattr(operation, _MARK, False):
            setattr(DynamoDBBackend, name, _atomic(operation))
