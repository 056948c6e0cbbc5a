"""An event's `time` may be at most MAX_FUTURE_SKEW ahead of the caller's clock (contract.parsing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from herald.contract.models import MAX_FUTURE_SKEW
from herald.contract.parsing import EventRejected, parse_event

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events" / "shipment.delivered.json").read_text())
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _body(time: datetime) -> str:
    return json.dumps({**SAMPLE, "time": time.isoformat()})


def test_an_event_exactly_at_the_tolerance_is_accepted() -> None:
    # Given an event dated exactly 24 h after the clock / When parsed with that clock / Then it is an event
    assert parse_event(_body(NOW + MAX_FUTURE_SKEW), now=NOW).time == NOW + MAX_FUTURE_SKEW


def test_an_event_past_the_tolerance_is_rejected_with_the_reason_and_its_identity() -> None:
    # Given an event dated a second past the tolerance
    # When parsed with the clock / Then it is rejected, saying why, with the identity read for the record
    with pytest.raises(EventRejected) as rejected:
        parse_event(_body(NOW + MAX_FUTURE_SKEW + timedelta(seconds=1)), now=NOW)
    assert "more than 24 h ahead of Herald's clock" in rejected.value.reason
    assert (rejected.value.event_id, rejected.value.event_type) == (SAMPLE["id"], "shipment.delivered")


def test_without_a_clock_only_the_contract_shape_is_checked() -> None:
    # Given an event dated 2099 / When parsed without a clock (tools validating a file) / Then it is accepted
    assert parse_event(_body(datetime(2099, 1, 1, tzinfo=UTC))).time.year == 2099
