"""In-memory stand-ins for the intake's ports (usecases.ports IntakeLinks, EventPublisher, IgnoredReports), for
unit tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from herald.usecases.ports import IgnoredReport, LinkKey, Parked


class MemoryLinks:
    def __init__(self) -> None:
        self.links: dict[tuple[str, LinkKey], dict[str, Any]] = {}
        self.waiting: dict[tuple[str, LinkKey], dict[str, Parked]] = {}

    def record(self, source: str, link: LinkKey, blocks: Mapping[str, Any]) -> None:
        self.links[(source, link)] = dict(blocks)

    def find(self, source: str, link: LinkKey) -> dict[str, Any] | None:
        return self.links.get((source, link))

    def park(self, source: str, link: LinkKey, parked: Parked) -> None:
        self.waiting.setdefault((source, link), {})[parked.update_id] = parked

    def parked(self, source: str, link: LinkKey) -> list[Parked]:
        return list(self.waiting.get((source, link), {}).values())

    def unpark(self, source: str, link: LinkKey, update_id: str) -> None:
        self.waiting.get((source, link), {}).pop(update_id, None)


class MemoryPublisher:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events.extend(dict(event) for event in events)


class MemoryIgnored:
    def __init__(self) -> None:
        self.reports: list[IgnoredReport] = []

    def record_ignored(self, report: IgnoredReport) -> None:
        self.reports.append(report)
