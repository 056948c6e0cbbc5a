"""Reading a platform payload field by field: each function names the path it read when the payload is not what
its platform documents, so an `IntakeRefused` says exactly what was wrong (and nothing is recorded).

Shared by the carrier translators; pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from herald.intake.updates import IntakeRefused, ShipmentUpdate, Translation

M = TypeVar("M")

# A carrier's free text (scan messages, courier notes) can be long; Herald's fields hold 1000 characters.
_TEXT_MAX = 1000


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise IntakeRefused(f"{where} is not an object")
    return value


def text(obj: Mapping[str, Any], key: str, where: str) -> str:
    """A required, non-empty string."""
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise IntakeRefused(f"{where}.{key} is missing or not a non-empty string")
    return value.strip()


def optional_text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """A string that may be absent or null; an empty one counts as absent. Clipped to what Herald stores."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeRefused(f"{where}.{key} is not a string")
    value = " ".join(value.split())
    return value[:_TEXT_MAX] or None


def optional_list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise IntakeRefused(f"{where}.{key} is not a list")
    return value


def parse_time(value: Any, where: str) -> datetime:
    """An ISO 8601 time with its offset (a `Z` is UTC). A time without an offset is refused: guessing the
    carrier's timezone would misplace the scan by hours."""
    if not isinstance(value, str):
        raise IntakeRefused(f"{where} is not a time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise IntakeRefused(f"{where} is not an ISO 8601 time: {value[:40]!r}") from exc
    if parsed.tzinfo is None:
        raise IntakeRefused(f"{where} has no UTC offset: {value[:40]!r}")
    return parsed


def optional_time(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = obj.get(key)
    return None if value is None else parse_time(value, f"{where}.{key}")


def parse_estimate(value: Any, where: str) -> datetime | date | None:
    """A delivery estimate: a time with an offset, or a calendar date (`2024-08-05`); None when absent."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise IntakeRefused(f"{where} is not an ISO 8601 date: {value!r}") from exc
    return parse_time(value, where)


def epoch(value: Any, where: str, *, millis: bool) -> datetime:
    """A Unix time in seconds (or milliseconds) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntakeRefused(f"{where} is not a Unix time")
    seconds = value / 1000 if millis else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise IntakeRefused(f"{where} is not a Unix time in range") from exc


def require_aware(received_at: datetime) -> datetime:
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at


def fits(make: Callable[[], M]) -> M:
    """A model built from the payload's values; a value Herald's model refuses (a tracking number of 300
    characters, a photo URL that is not https, a latitude of -117) is the payload's fault, so it is refused with
    pydantic's own words."""
    try:
        return make()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}" for error in exc.errors()
        )
        raise IntakeRefused(f"the payload's values do not fit a shipment update: {problems}") from exc


def build(make: Callable[[], ShipmentUpdate]) -> Translation:
    """One shipment update as a Translation (see `fits`)."""
    return Translation(updates=(fits(make),))
