"""Dispatch writes the join's records of a shipment event only when they changed, and always when it resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.intake_fakes import MemoryLinks, MemoryPublisher
from tests.memory_ledger import MemoryLedger
from tests.storefronts import MOTO_SENDER_ID, every_source

from herald.contract.models import Envelope
from herald.domain.phone import to_e164
from herald.rendering.renderer import Renderer
from herald.usecases.dispatch import Dispatcher, Outcome
from herald.usecases.intake import LinkRecorder
from herald.usecases.ports import ChannelMessage, EventClaim, ShipmentAdvance, ShipmentPosition
from herald_tools.local.ports import accepting_twilio_test_numbers

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 5, 16, 0, tzinfo=UTC)  # just after the samples' scan


class DigestLedger(MemoryLedger):
    """Keeps each shipment's records digest as the DynamoDB ledger does (the state item's, read back from its own
    write); an event whose dispatch did not finish is resumed."""

    def __init__(self) -> None:
        super().__init__()
        self.digests: dict[str, str | None] = {}

    def begin_event(self, event: Envelope, now: datetime) -> EventClaim:
        if self.events.get(event.id) == "dispatching":
            return EventClaim.RESUME
        return super().begin_event(event, now)

    def advance_shipment(self, position: ShipmentPosition) -> ShipmentAdvance:
        previous = self.digests.get(position.shipment_id)
        self.digests[position.shipment_id] = position.records_digest
        return ShipmentAdvance(records_unchanged=previous is not None and previous == position.records_digest)


class CountingLinks(MemoryLinks):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.fail_next = False

    def record(self, source: str, link: Any, blocks: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the table did not answer")  # a crash between the state's write and the links'
        self.writes += 1
        super().record(source, link, blocks)


class Queue:
    def enqueue(self, messages: list[ChannelMessage]) -> set[str]:
        return set()


def _dispatcher(ledger: DigestLedger, links: CountingLinks) -> Dispatcher:
    return Dispatcher(
        ledger,
        Queue(),
        Renderer(),
        storefronts=every_source(name="Our store", email_from="orders@herald.example"),
        intake=LinkRecorder(links, MemoryPublisher()),
        clock=lambda: NOW,
        phone=accepting_twilio_test_numbers(to_e164),
    )


def _scan(event_id: str) -> str:
    event = json.loads((EVENTS / "shipment.out_for_delivery.json").read_text())
    event["id"] = event_id
    return json.dumps(event)


def test_a_second_scan_that_changes_nothing_writes_no_links() -> None:
    # Given a shipment whose out-for-delivery scan recorded its links
    ledger, links = DigestLedger(), CountingLinks()
    dispatcher = _dispatcher(ledger, links)
    assert dispatcher.plan(_scan("evt_scan_1"), "sqs-1", MOTO_SENDER_ID).outcome is Outcome.DISPATCHED
    written = links.writes
    assert written > 0
    # When the carrier repeats the scan under a new id, the same day, with the same blocks
    dispatcher.plan(_scan("evt_scan_2"), "sqs-2", MOTO_SENDER_ID)
    # Then no link is written again
    assert links.writes == written


def test_a_resumed_dispatch_writes_its_links_though_its_digest_is_already_kept() -> None:
    # Given a scan whose first dispatch kept its digest on the shipment's state, then crashed writing its links
    ledger, links = DigestLedger(), CountingLinks()
    dispatcher = _dispatcher(ledger, links)
    links.fail_next = True
    with pytest.raises(ConnectionError):  # the crash under test: SQS redelivers the message
        dispatcher.plan(_scan("evt_scan_1"), "sqs-1", MOTO_SENDER_ID)
    assert links.links == {}
    # When SQS redelivers it (the ledger resumes it; the state's digest already equals its own)
    result = dispatcher.plan(_scan("evt_scan_1"), "sqs-1", MOTO_SENDER_ID)
    # Then its links are written all the same
    assert result.outcome is Outcome.DISPATCHED
    assert links.links, "the resumed dispatch skipped its links"
