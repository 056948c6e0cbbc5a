"""SQS-wrapped copies of the sample events, for `sam local invoke -e` and handler tests.

`python -m herald_tools.contract.samples [--check] [--events events]` reads the hand-written samples
(`events/<type>.json`, `events/invalid/*.json`, `events/edge/*.json`) and writes, under
`events/sqs/`, the Lambda SQS event each would arrive in: one record per file, named after it
(`order.placed.json`, `invalid.bad-json.json`, `edge.html-in-name.order.placed.json`), plus
`batch.order-events.json`, a batch mixing valid and invalid messages (partial batch failure).
Order and return events go to the order events queue, shipment events to the shipment events
queue, as the publisher routes them. `--check` writes nothing and exits 1 when a copy is stale.

The output is deterministic (ids and timestamps derive from the samples) so `--check` can compare.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from herald_tools.contract.generated import generator_main

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ORDER_EVENTS_QUEUE = "herald-order-events"
SHIPMENT_EVENTS_QUEUE = "herald-shipment-events"
# The example sender id of the SQS documentation: the principal that sent the message.
SENDER_ID = "AIDAIENQZJOLO23YVJ4VO"
# Used when a body has no readable `time` (bad JSON): any fixed instant keeps the output stable.
FALLBACK_SENT_AT = datetime(2026, 11, 27, 14, 3, 12, tzinfo=UTC)
SQS_DIR = "sqs"
SUBDIRS = ("invalid", "edge")
# The mixed batch: what one poll of the order events queue could return.
BATCH_NAME = "batch.order-events"
BATCH_MEMBERS = ("order.placed", "invalid.unknown-type", "order.cancelled", "invalid.bad-json", "return.requested")


@dataclass(frozen=True)
class Sample:
    name: str
    body: str
    """The message body as a storefront would publish it: compact JSON, or the raw text if not JSON."""
    document: dict[str, Any] | None


def queue_name(event_type: str | None) -> str:
    """The queue an event of this type is published to (unknown types land on the order queue)."""
    return SHIPMENT_EVENTS_QUEUE if (event_type or "").startswith("shipment.") else ORDER_EVENTS_QUEUE


def queue_arn(queue: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}"


def load_samples(events_dir: Path) -> list[Sample]:
    """Every hand-written sample, in a fixed order: the event types, then invalid/, then edge/."""
    paths = sorted(events_dir.glob("*.json"))
    for sub in SUBDIRS:
        paths += sorted((events_dir / sub).glob("*.json"))
    samples = []
    for path in paths:
        relative = path.relative_to(events_dir).with_suffix("")
        name = ".".join(relative.parts)
        text = path.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except ValueError:
            # A deliberately broken sample: its body is the text itself, trailing newline aside.
            samples.append(Sample(name, text.rstrip("\n"), None))
            continue
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        samples.append(Sample(name, body, document if isinstance(document, dict) else None))
    return samples


def _sent_at(sample: Sample) -> datetime:
    raw = sample.document.get("time") if sample.document else None
    try:
        parsed = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return FALLBACK_SENT_AT
    return parsed


def _attribute(value: str) -> dict[str, Any]:
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}


def sqs_record(sample: Sample, position: int = 0) -> dict[str, Any]:
    """The Lambda SQS event record that would carry this sample's body."""
    document = sample.document or {}
    event_type = document.get("type") if isinstance(document.get("type"), str) else None
    seed = f"herald-sample/{sample.name}/{position}"
    sent_ms = int(_sent_at(sample).timestamp() * 1000)
    receipt = base64.b64encode(hashlib.sha256(seed.encode()).digest() * 2).decode()
    # The same attributes the publisher sets, so filters and logs see what production sees.
    attributes = {key: _attribute(document[key]) for key in ("type", "source") if isinstance(document.get(key), str)}
    return {
        "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, seed)),
        "receiptHandle": "AQEB" + receipt,
        "body": sample.body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent_ms),
            "SenderId": SENDER_ID,
            "ApproximateFirstReceiveTimestamp": str(sent_ms + 35),
        },
        "messageAttributes": attributes,
        "md5OfBody": hashlib.md5(sample.body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue_name(event_type)),
        "awsRegion": REGION,
    }


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def expected_files(events_dir: Path) -> dict[str, str]:
    """File name (under events/sqs) -> text of every SQS-wrapped copy."""
    samples = load_samples(events_dir)
    files = {f"{s.name}.json": render({"Records": [sqs_record(s)]}) for s in samples}
    by_name = {s.name: s for s in samples}
    members = [by_name[name] for name in BATCH_MEMBERS if name in by_name]
    if members:
        files[f"{BATCH_NAME}.json"] = render({"Records": [sqs_record(s, i) for i, s in enumerate(members)]})
    return files


def stale_files(events_dir: Path) -> list[str]:
    """Copies under events/sqs that are missing, differ from their sample, or have no sample any more."""
    out_dir = events_dir / SQS_DIR
    expected = expected_files(events_dir)
    stale = [
        name
        for name, text in expected.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text(encoding="utf-8") != text
    ]
    if out_dir.is_dir():
        stale += [p.name for p in out_dir.glob("*.json") if p.name not in expected]
    return sorted(stale)


def write_files(events_dir: Path) -> list[str]:
    out_dir = events_dir / SQS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = expected_files(events_dir)
    changed = stale_files(events_dir)
    for name in changed:
        if name in expected:
            (out_dir / name).write_text(expected[name], encoding="utf-8")
        else:
            (out_dir / name).unlink()
    return changed


def _main(argv: Sequence[str] | None = None) -> int:
    return generator_main(
        argv,
        prog="python -m herald_tools.contract.samples",
        description="Write the SQS-wrapped copies of the sample events (events/sqs/).",
        option="--events",
        default=Path("events"),
        option_help="the samples directory (default: events)",
        stale=stale_files,
        write=write_files,
        shown=lambda directory, name: directory / SQS_DIR / name,
        make_target="samples",
    )


if __name__ == "__main__":
    raise SystemExit(_main())
