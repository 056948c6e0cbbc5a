"""Reading a file of events (what `herald publish` and `herald demo` take): JSON, a JSON array, or JSON Lines.

Its own module so that the CLI and the demo both read files the same way without importing each other.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})


class EventsFileError(Exception):
    """The file cannot be read, or holds nothing: a usage problem, not a rejected event."""


Origin = str
Item = dict[str, Any] | str
_NOT_JSON = object()


def read_events(path: Path) -> list[tuple[Origin, Item]]:
    """The events in one file, each with where it came from (`file`, `file[3]` or `file:12`).

    A file is one JSON object, a JSON array of them, or JSON Lines (one event per line; detected by
    the `.jsonl`/`.ndjson` suffix or by a first line that is JSON on its own). A file that is none
    of these is one event whose body is the whole text: the publisher rejects it with the JSON error.
    `-` reads standard input.
    """
    name = str(path)
    try:
        text = sys.stdin.read() if name == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventsFileError(f"cannot read {name}: {exc}") from None
    if not text.strip():
        raise EventsFileError(f"{name} holds no events")
    if path.suffix.lower() not in JSON_LINES_SUFFIXES:
        try:
            document = json.loads(text)
        except ValueError:
            document = _NOT_JSON
        if isinstance(document, list):
            return [(f"{name}[{i}]", _item(element)) for i, element in enumerate(document)]
        if document is not _NOT_JSON:
            return [(name, _item(document))]
        if not _first_line_is_json(text):
            return [(name, text)]
    return [(f"{name}:{number}", line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _item(document: Any) -> Item:
    # Anything but an object still goes to the publisher, which rejects it with the contract's reason.
    return document if isinstance(document, dict) else json.dumps(document)


def _first_line_is_json(text: str) -> bool:
    first = next(line for line in text.splitlines() if line.strip())
    try:
        json.loads(first)
    except ValueError:
        return False
    return True
