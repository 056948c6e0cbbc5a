"""`herald demo`'s summary table reads whole at 80 and at 132 columns: no header, no event type cut short."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from herald_tools.local.demo import DemoRun
from herald_tools.local.directives import directive_of
from herald_tools.local.summary import channel_cell, events_cell, print_summary, summary_rows

LIFECYCLE = Path(__file__).resolve().parents[2] / "events" / "demo" / "lifecycle.jsonl"
HEADERS = ("event type", "events", "email", "SMS", "total")
# Every status and redundancy step at once, so that each channel cell is as long as a run can make it.
BUSY_STATUSES = ("sent", "failed", "skipped", "suppressed", "standby", "dlq")


def _notification(event: dict[str, Any], channel: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event["id"],
        "type": event["type"],
        "channel": channel,
        "status": status,
        "attempts": 1,
        "provider": "sendgrid" if channel == "email" else "twilio",
        "reason": None,
        "error_code": None,
    } | extra


def demo_like_report() -> dict[str, Any]:
    """Every event type of the demo's story, each with a busy email and SMS record, and each event outcome."""
    events = [
        {"id": raw["id"], "type": raw["type"], "outcome": "dispatched", "reason": None}
        for raw in (json.loads(line) for line in LIFECYCLE.read_text().splitlines())
        if directive_of(raw) is None
    ]
    events += [
        {"id": "x", "type": None, "outcome": "rejected", "reason": "not JSON"},
        {"id": "y", "type": "order.placed", "outcome": "duplicate", "reason": "same id"},
    ]
    events += [{"id": "z", "type": "shipment.in_transit", "outcome": "superseded", "reason": "later status"}]
    notifications = []
    for event in events:
        if not event["type"]:
            continue
        for channel in ("email", "sms"):
            notifications += [_notification(event, channel, status) for status in BUSY_STATUSES]
            notifications += [
                _notification(
                    event,
                    channel,
                    "sent",
                    delivery_status="delivered",
                    attempts=3,
                    fallback_of="email",
                    fallback_reason="email bounced",
                ),
                _notification(event, channel, "sent", route_reason="failover: sendgrid circuit open", provider="ses"),
                _notification(event, channel, "sent", escalation_of="x", provider="sns", reason="deadline"),
            ]
    return {"events": events, "notifications": notifications}


def render(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    run = DemoRun(report=demo_like_report(), problems=[], seconds=1.0, real_providers=[])
    print_summary(run, console)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 132])
def test_the_summary_truncates_nothing_at_common_terminal_widths(width: int) -> None:
    # Given a run with every event type of the story and every count a channel can show
    # When the summary is printed on a terminal of `width` columns
    text = render(width)
    lines = text.splitlines()
    # Then nothing is cut short with an ellipsis, and no line is wider than the terminal
    assert "…" not in text
    assert max(len(line) for line in lines) <= width
    # And every header and every event type is whole, each type on one line
    table_lines = lines[: next(i for i, line in enumerate(lines) if line.startswith("└"))]
    header = next(line for line in table_lines if "event type" in line)
    for name in HEADERS[:-1]:
        assert name in header, (name, header)
    types = {event["type"] for event in demo_like_report()["events"] if event["type"]} | {"(unreadable)", "total"}
    for event_type in types:
        assert any(f"│ {event_type} " in line for line in table_lines), event_type


def test_a_type_row_holds_its_events_and_per_channel_only_the_counts_that_happened() -> None:
    # Given three order.placed events, one of them a duplicate, two emails sent (one after a retry) and one SMS skipped
    report = {
        "events": [
            {"id": "a", "type": "order.placed", "outcome": "dispatched"},
            {"id": "b", "type": "order.placed", "outcome": "dispatched"},
            {"id": "a", "type": "order.placed", "outcome": "duplicate"},
        ],
        "notifications": [
            _notification({"id": "a", "type": "order.placed"}, "email", "sent", delivery_status="delivered"),
            _notification({"id": "b", "type": "order.placed"}, "email", "sent", attempts=2),
            _notification({"id": "b", "type": "order.placed"}, "sms", "skipped"),
        ],
    }
    # When summarised
    (row,) = summary_rows(report)
    # Then the row says so in words, in reading order
    assert events_cell(row["events"]).splitlines() == ["3", "1 duplicate"]
    assert channel_cell(row["email"]).splitlines() == ["2 sent", "1 delivered", "1 retried"]
    assert channel_cell(row["sms"]) == "1 skipped"


def test_a_channel_that_saw_nothing_reads_as_a_dash() -> None:
    (row,) = summary_rows(
        {"events": [{"id": "a", "type": "order.shipped", "outcome": "rejected"}], "notifications": []}
    )
    assert (events_cell(row["events"]), channel_cell(row["email"]), channel_cell(row["sms"])) == (
        "1\n1 rejected",
        "-",
        "-",
    )


def test_only_the_first_primary_send_after_a_failover_is_told_as_the_recovery() -> None:
    """Given email failed over to SES, then SendGrid's probe, then more emails through SendGrid (the platform
    stories that follow the outage), When the stories are told, Then one recovery: the probe, not the traffic after."""
    from herald_tools.local.summary import stories

    order = {"id": "e", "type": "order.placed"}
    failover = _notification(order, "email", "sent", provider="ses", route_reason="failover: sendgrid circuit open")
    later = [
        _notification(order | {"id": f"e{n}"}, "email", "sent", sent_at=f"2026-12-02T06:0{n}:00+00:00")
        for n in (3, 1, 2)
    ]
    report = {"events": [], "notifications": [failover | {"sent_at": "2026-12-02T06:00:00+00:00"}, *later]}
    assert stories(report)["recovered"] == ["email of e1 sent by sendgrid again"]


def test_the_platform_stories_say_what_each_report_became_and_who_was_told() -> None:
    """Given a report's platform steps (a delay notice sent by email, SMS skipped; a delivery whose email showed
    the photo and map; a report that became nothing), Then each is one sentence under its story's name."""
    from herald_tools.local.summary import platform_stories

    def event(kind: str, **extra: Any) -> dict[str, Any]:
        notices = [
            {"channel": "email", "status": "sent", "delivery_status": "delivered", "recipient": "j***@example.com"},
            {"channel": "sms", "status": "skipped", "reason": "customer has no phone number", "recipient": None},
        ]
        return {"id": kind, "type": kind, "outcome": "dispatched", "order_number": "#9999", "notifications": notices}

    step = {"route": "https", "platform": "aftership", "topic": None, "file": "a.json", "story": "delays"}
    proof = {"images": ["https://photos.example/p.png"], "map_url": "https://www.google.com/maps/search/?q=1,2"}
    report = {
        "intake": [
            step | {"events": [event("shipment.delayed")]},
            step | {"file": "b.json", "events": [event("shipment.delivered") | {"proof_shown": proof}]},
            step | {"file": "c.json", "events": [], "answer": {"ignored": ["aftership status 'Pending': no info"]}},
        ]
    }
    lines = platform_stories(report)
    assert lines[0] == "[bold]delays[/]:"
    assert lines[1] == (
        "  AfterShip (a.json, signed, over HTTPS) became shipment.delayed of order #9999: the delay notice went to "
        "j***@example.com by email (delivered); sms skipped (customer has no phone number)."
    )
    assert lines[2].endswith(
        "The email showed the proof: photo https://photos.example/p.png, map https://www.google.com/maps/search/?q=1,2."
    )
    assert lines[3] == "  AfterShip (c.json, signed, over HTTPS) became no event (aftership status 'Pending': no info)."
