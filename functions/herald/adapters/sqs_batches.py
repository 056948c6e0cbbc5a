"""SendMessageBatch's limits, and the grouping that keeps within them (shared by the publisher and dispatch)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

MAX_BATCH_ENTRIES = 10
"""SendMessageBatch accepts at most 10 entries."""
MAX_BATCH_BYTES = 256 * 1024
"""...and at most 256 KiB of bodies plus message attributes per call."""

T = TypeVar("T")


def batches(items: Iterable[T], size: Callable[[T], int]) -> Iterator[list[T]]:
    """Consecutive groups within both limits, in order. An item larger than the byte limit goes alone."""
    batch: list[T] = []
    total = 0
    for item in items:
        item_size = size(item)
        if batch and (len(batch) == MAX_BATCH_ENTRIES or total + item_size > MAX_BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += item_size
    if batch:
        yield batch
