"""What every benchmark shares: where the repository is, how figures are summarised and reported."""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO / "events"
TEMPLATE = REPO / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1): a value that was actually measured, never an interpolation."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def machine() -> str:
    return f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}"


def emit_json(result: dict[str, Any]) -> None:
    """The last line a benchmark prints: its figures as one JSON object, for run_all.py to collect."""
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=True))


def load_event(event_type: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS_DIR / f"{event_type}.json").read_text())
    return document
