"""Bad input at volume (issue 4, section 4): thousands of generated malformed and hostile events through dispatch.

The real Dispatcher and Renderer run over in-memory ledger and queue fakes, so each example costs well under a
millisecond of I/O; a last test drives batches through the real dispatch handler on moto. Every input must end
rejected with a reason (never an exception, never a retry) or dispatched with headers free of line breaks and
HTML in which no customer-typed markup survives unescaped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from html.parser import HTMLParser
from typing import Any

import boto3
import pytest
from fuzz_strategies import (
    EVENT_TYPES,
    Hostile,
    any_hostile,
    deeply_nested,
    extreme_values,
    header_injections,
    large_hostile_events,
    markup_everywhere,
    oversized_events,
    random_bodies,
    sample_event,
    truncated_events,
    unicode_everywhere,
    unknown_types,
    wrong_types,
)
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from moto import mock_aws
from tests.storefronts import MOTO_SENDER_ID, REGISTRY_PATH, SAMPLE_SOURCE, every_source, seed_registry, storefront

from herald.adapters.sqs_queue import MAX_BATCH_BYTES
from herald.contract.models import Envelope
from herald.contract.parsing import EventRejected, parse_event
from herald.domain.notification import ChannelMessage
from herald.domain.phone import to_e164
from herald.rendering.formatting import one_line
from herald.rendering.renderer import Renderer
from herald.usecases.dispatch import Dispatcher, DispatchResult, Outcome
from herald.usecases.ports import EventClaim, PlannedNotification, Rejection, ShipmentAdvance, ShipmentPosition
from herald_tools.local.ports import accepting_twilio_test_numbers
from herald_tools.local.worker import lambda_context

FROM_EMAIL = "orders@herald.example"
DEFAULT_STORE = "Our store"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RENDERER = Renderer()  # stateless once built; building it lists the templates, so once per module

# Derandomized: CI sees the same examples on every run, and a failure reproduces from the test name alone.
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
# Characters that end a header line for some mail agent (CR, LF, and their Unicode and C1 cousins) or cut it (NUL).
HEADER_BREAKERS = frozenset("\r\n\x00\x0b\x0c\x85\u2028\u2029")


# --- in-memory ports -------------------------------------------------------------------------------------


def _storable(*values: str | None) -> None:
    """Refuse what boto3 cannot send to DynamoDB: it encodes every string as UTF-8 (lone surrogates raise)."""
    for value in values:
        if value is not None:
            value.encode("utf-8")


@dataclass
class MemoryLedger:
    """The DispatchLedger port in memory, with the conditional-write semantics of the DynamoDB adapter."""

    events: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, id) -> status
    rejections: list[Rejection] = field(default_factory=list)
    notifications: dict[str, PlannedNotification] = field(default_factory=dict)  # "source|id|channel" -> plan

    def begin_event(self, event: Envelope, now: datetime) -> EventClaim:
        _storable(event.source, event.id, event.type.value)
        status = self.events.get(event.key)
        if status is not None and status != "dispatching":
            return EventClaim.DUPLICATE
        self.events[event.key] = "dispatching"
        return EventClaim.NEW if status is None else EventClaim.RESUME

    def record_rejection(self, rejection: Rejection) -> None:
        _storable(rejection.source, rejection.event_id, rejection.event_type, rejection.reason, rejection.message_id)
        self.rejections.append(rejection)

    def advance_shipment(self, position: ShipmentPosition) -> ShipmentAdvance:
        _storable(position.source, position.shipment_id, position.event_id)
        return ShipmentAdvance()

    def record_notifications(
        self, event: Envelope, planned: Sequence[PlannedNotification], now: datetime
    ) -> list[ChannelMessage]:
        pending = []
        for plan in planned:
            key = f"{event.source}|{event.id}|{plan.channel.value}"
            if key in self.notifications:
                continue
            _storable(plan.skipped_reason, plan.message.model_dump_json() if plan.message else None)
            self.notifications[key] = plan
            if plan.message is not None:
                pending.append(plan.message)
        return pending

    def finish_event(self, event: Envelope, outcome: str, reason: str | None, now: datetime) -> None:
        _storable(reason)
        self.events[event.key] = str(outcome)


@dataclass
class MemoryQueue:
    """The ChannelQueue port in memory: serialises like the SQS adapter and refuses what SQS would."""

    bodies: dict[str, str] = field(default_factory=dict)  # notification id -> message body

    def enqueue(self, messages: Sequence[ChannelMessage]) -> set[str]:
        failed = set()
        for message in messages:
            body = message.model_dump_json(exclude_none=True)
            # Counted as the adapter counts it (attributes included): one message alone must fit a batch.
            if len(body.encode("utf-8")) + len(message.notification_id) + 64 > MAX_BATCH_BYTES:
                failed.add(message.notification_id)
            else:
                self.bodies[message.notification_id] = body
        return failed


@dataclass
class Dispatched:
    result: DispatchResult
    ledger: MemoryLedger
    queue: MemoryQueue
    redeliver: set[str]


def dispatch(body: str) -> Dispatched:
    """One SQS message through the real Dispatcher (plan, then complete) over fresh in-memory ports."""
    ledger, queue = MemoryLedger(), MemoryQueue()
    dispatcher = Dispatcher(
        ledger,
        queue,
        RENDERER,
        # Every source is registered here: these tests pin the contract's rules, not the registry's.
        storefronts=every_source(name=DEFAULT_STORE, email_from=FROM_EMAIL),
        # The samples' phones are Twilio test numbers: read as locally, so that every SMS is rendered too.
        phone=accepting_twilio_test_numbers(to_e164),
        clock=lambda: NOW,
    )
    result = dispatcher.plan(body, "sqs-message-1", MOTO_SENDER_ID)
    redeliver = dispatcher.complete([result])
    return Dispatched(result, ledger, queue, redeliver)


# --- reading the HTML ------------------------------------------------------------------------------------


class _Elements(HTMLParser):
    """Every element and attribute an email client would see in the HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


@cache
def template_markup() -> tuple[frozenset[str], frozenset[str]]:
    """The tags and attribute names the templates themselves produce, from a clean render of every sample."""
    tags: set[str] = set()
    names: set[str] = set()
    for event_type in EVENT_TYPES:
        outcome = dispatch(json.dumps(sample_event(event_type)))
        for message in outcome.result.messages:
            if message.email is not None:
                found = elements(message.email.html)
                tags |= found.tags
                names |= {name for name, _ in found.attributes}
    return frozenset(tags), frozenset(names)


# --- regressions: the bugs this fuzzing found, pinned as explicit examples of their properties -------------


def _sample_with(event_type: str, path: tuple[str, ...], value: Any, label: str) -> Hostile:
    document = sample_event(event_type)
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return Hostile(json.dumps(document, separators=(",", ":")), label=label)


# A lone surrogate in the identity of a rejected event made the rejection's DynamoDB write raise.
LONE_SURROGATE_SOURCE = _sample_with("order.placed", ("source",), "storefront/\ud800acme", "lone surrogate source")
# A contract-valid time at the edge of year 9999 overflowed when converted to the customer's zone.
YEAR_9999 = _sample_with("order.placed", ("data", "order", "placed_at"), "9999-12-31T23:59:59-05:00", "year 9999")
# 250 items named "&&&...": a 64 KiB event rendered to a 390 KB message that no SQS batch could carry.
AMPERSAND_ITEMS = _sample_with(
    "order.placed",
    ("data", "order", "items"),
    [{"sku": f"S{index}", "name": "&" * 200, "quantity": 1} for index in range(250)],
    "250 items named &&&",
)


# --- the properties --------------------------------------------------------------------------------------


def assert_handled_safely(hostile: Hostile) -> Dispatched:
    """The invariants every input must meet, whatever it is; returns the outcome for more specific checks."""
    # When: the body is dispatched (an exception here fails the test: dispatch must not raise on input)
    outcome = dispatch(hostile.body)
    result, ledger, queue = outcome.result, outcome.ledger, outcome.queue
    event(f"outcome: {result.outcome.value}")  # shown by --hypothesis-show-statistics

    # Then: it ends rejected or dispatched (a fresh ledger has no duplicates or later shipment states)
    assert result.outcome in (Outcome.REJECTED, Outcome.DISPATCHED), result
    # And: nothing is handed back to SQS for a retry
    assert outcome.redeliver == set(), f"{hostile.label}: would be redelivered"

    if result.outcome is Outcome.REJECTED:
        # And: a rejection has a reason, is recorded once, and records no notification and no event
        assert isinstance(result.reason, str)
        assert result.reason.strip()
        assert [r.reason for r in ledger.rejections] == [result.reason]
        assert ledger.notifications == {}
        assert ledger.events == {}
        assert queue.bodies == {}
        return outcome

    # And: a dispatched event is finished, not rejected, and every pending message is on its queue
    assert ledger.rejections == []
    assert result.event is not None
    assert ledger.events[result.event.key] == Outcome.DISPATCHED
    assert {m.notification_id for m in result.messages} == set(queue.bodies)
    for message in result.messages:
        # And: the sender reads back exactly the message dispatch rendered
        assert ChannelMessage.model_validate_json(queue.bodies[message.notification_id]) == message
        if message.email is not None:
            assert_safe_email(message, hostile)
    return outcome


def assert_safe_email(message: ChannelMessage, hostile: Hostile) -> None:
    email = message.email
    assert email is not None
    # Headers: nothing that could end the header line and start another one
    for header, value in (("subject", email.subject), ("from_name", email.from_name), ("reply_to", email.reply_to)):
        assert value is None or not (HEADER_BREAKERS & set(value)), f"{hostile.label}: line break in {header}"
    # The recipient goes to SendGrid as a JSON field, not a raw header line: CR and LF are what must never pass
    assert not {"\r", "\n"} & set(message.to), f"{hostile.label}: line break in to"
    assert email.subject.strip()

    # HTML: no element or attribute that the templates do not produce themselves (no <script>, no on*=)
    found = elements(email.html)
    template_tags, template_attributes = template_markup()
    assert "script" not in found.tags
    assert not [name for name, _ in found.attributes if name.startswith("on")]
    assert found.tags <= template_tags, f"{hostile.label}: injected elements {found.tags - template_tags}"
    names = {name for name, _ in found.attributes}
    assert names <= template_attributes, f"{hostile.label}: injected attributes {names - template_attributes}"
    for name, value in found.attributes:
        if name in ("href", "src"):
            assert value.startswith(("https://", "mailto:")), f"{hostile.label}: {name}={value!r}"

    # And: customer strings with markup appear only escaped
    for _, planted in hostile.planted:
        if "<" in planted and len(planted.strip()) > 3:
            assert planted.strip() not in email.html, f"{hostile.label}: {planted!r} unescaped in the HTML"


@settings(FUZZ, max_examples=300)
@given(random_bodies())
def test_random_bytes_and_text_are_rejected_with_a_reason(hostile: Hostile) -> None:
    # Given: a body that is not a JSON object (undecodable bytes, free text, scalars, arrays, fragments)
    # When/Then: it is rejected with a reason and nothing else happens
    outcome = assert_handled_safely(hostile)
    assert outcome.result.outcome is Outcome.REJECTED


@settings(FUZZ, max_examples=150)
@given(truncated_events())
def test_truncated_json_is_rejected_as_not_json(hostile: Hostile) -> None:
    # Given: a valid event cut short
    # When/Then: it is rejected as invalid JSON
    outcome = assert_handled_safely(hostile)
    assert outcome.result.outcome is Outcome.REJECTED
    assert "not valid JSON" in (outcome.result.reason or "")


@settings(FUZZ, max_examples=50)
@given(oversized_events())
def test_events_over_64_kib_are_rejected_for_their_size(hostile: Hostile) -> None:
    # Given: an event over the 64 KiB limit
    # When/Then: it is rejected for its size, before it is parsed
    outcome = assert_handled_safely(hostile)
    assert outcome.result.outcome is Outcome.REJECTED
    assert "the limit is 65536" in (outcome.result.reason or "")


@settings(FUZZ, max_examples=60)
@given(large_hostile_events())
@example(AMPERSAND_ITEMS)
def test_events_near_the_limit_render_into_messages_that_fit_a_queue_message(hostile: Hostile) -> None:
    # Given: an event of up to 250 items whose names grow fivefold when escaped
    # When: it is dispatched
    outcome = assert_handled_safely(hostile)
    # Then: if the contract accepts it, every message fits SQS (checked by the queue fake) and is queued
    if outcome.result.outcome is Outcome.DISPATCHED:
        assert outcome.queue.bodies


@settings(FUZZ, max_examples=150)
@given(deeply_nested())
def test_deep_nesting_never_raises_a_recursion_error(hostile: Hostile) -> None:
    # Given: arrays or objects nested up to 30,000 deep, as the body or inside a field
    # When/Then: dispatch rejects it (or ignores an unknown nested extension) without raising
    outcome = assert_handled_safely(hostile)
    assert outcome.result.outcome is Outcome.REJECTED or '"herald-nested"' in hostile.body


@settings(FUZZ, max_examples=400)
@given(wrong_types())
def test_wrong_types_in_any_field_are_rejected_or_dispatched_safely(hostile: Hostile) -> None:
    # Given: a valid event with fields of the wrong type, or missing
    # When/Then: it is rejected with a reason or, if the contract still accepts it, dispatched safely
    assert_handled_safely(hostile)


@settings(FUZZ, max_examples=200)
@given(extreme_values())
@example(YEAR_9999)
def test_extreme_but_valid_times_zones_and_amounts_render_without_raising(hostile: Hostile) -> None:
    # Given: times at year 1 and 9999 with offsets that leave that range in the customer's zone, zone names
    #        that are directories or paths, amounts at the limits, coordinates on the poles and the antimeridian
    # When/Then: the event is rejected with a reason or dispatched safely; rendering never raises
    assert_handled_safely(hostile)


@settings(FUZZ, max_examples=150)
@given(unknown_types())
def test_unknown_event_types_are_rejected_as_unknown(hostile: Hostile) -> None:
    # Given: a valid event whose type is not one of the contract's
    # When/Then: it is rejected as an unknown type
    outcome = assert_handled_safely(hostile)
    assert outcome.result.outcome is Outcome.REJECTED
    assert (outcome.result.reason or "").startswith("unknown event type")


@settings(FUZZ, max_examples=400)
@given(unicode_everywhere())
@example(LONE_SURROGATE_SOURCE)
def test_text_from_every_unicode_plane_is_rejected_or_rendered_safely(hostile: Hostile) -> None:
    # Given: text of every plane (lone surrogates, RTL overrides, NUL, noncharacters) in text fields and the envelope
    # When/Then: it is rejected (lone surrogates are not text) or dispatched safely; nothing raises
    outcome = assert_handled_safely(hostile)
    # And: a rejection's identity is storable even when the event's id or source was not Unicode text
    for rejection in outcome.ledger.rejections:
        _storable(rejection.source, rejection.event_id, rejection.event_type)


@settings(FUZZ, max_examples=300)
@given(markup_everywhere())
def test_markup_in_every_customer_typed_field_reaches_the_html_only_escaped(hostile: Hostile) -> None:
    # Given: HTML and script payloads in every name, item name, reason, detail, location and the store name
    # When: it is dispatched
    outcome = assert_handled_safely(hostile)
    # Then: the contract accepts markup as text, so the event is dispatched...
    assert outcome.result.outcome is Outcome.DISPATCHED, outcome.result.reason
    emails = [m.email for m in outcome.result.messages if m.email is not None]
    assert emails
    planted = dict(hostile.planted)
    for email in emails:
        # ...and the fields every email shows are there, escaped (so the check above had something to find)
        assert str(escape(planted[("data", "customer", "name")])) in email.html
        assert str(escape(planted[("data", "order", "number")])) in email.html
        assert str(escape(one_line(planted[("data", "store", "name")]))) in email.html
        assert email.from_name == one_line(planted[("data", "store", "name")])


@settings(FUZZ, max_examples=300)
@given(header_injections())
def test_line_breaks_never_reach_an_email_header(hostile: Hostile) -> None:
    # Given: CR/LF and other line breaks followed by a header in order number, store name, customer name,
    #        support address and customer address
    # When/Then: the event is rejected, or dispatched with single-line headers (checked for every message)
    outcome = assert_handled_safely(hostile)
    planted = dict(hostile.planted)
    support = planted.get(("data", "store", "support_email"))
    for message in outcome.result.messages:
        # And: a support address with a line break in it is dropped, never sent as Reply-To
        if message.email is not None and support is not None and HEADER_BREAKERS & set(support.strip()):
            assert message.email.reply_to is None


# --- a batch through the real handler on moto ------------------------------------------------------------

REGION = "us-east-1"
TABLE = "herald-fuzz"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:order-events"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the notifications table and the two channel queues, and the dispatch function's environment."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "HeraldFuzz",
        "POWERTOOLS_SERVICE_NAME": "herald-fuzz",
        "POWERTOOLS_LOG_LEVEL": "ERROR",  # thousands of "event rejected" lines would only slow the run
        "HERALD_TABLE_NAME": TABLE,
        "HERALD_STOREFRONTS_PATH": REGISTRY_PATH,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from herald.handlers import wiring
    from herald_tools.local.tables import create_notifications_table

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_notifications_table(dynamodb, TABLE)
        seed_registry(boto3.client("ssm", region_name=REGION), REGISTRY_PATH, storefront(email_from=FROM_EMAIL))
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("email", "sms")}
        monkeypatch.setenv("HERALD_EMAIL_QUEUE_URL", queues["email"])
        monkeypatch.setenv("HERALD_SMS_QUEUE_URL", queues["sms"])
        # A new sandbox: no settings or clients left from another test
        wiring.reset()
        yield {"dynamodb": dynamodb, "sqs": sqs, "queues": queues}
        wiring.reset()


def _record(message_id: str, body: str) -> dict[str, Any]:
    """One record of Lambda's SQS event."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000", "SenderId": MOTO_SENDER_ID},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def _rejected_by_contract(body: str) -> bool:
    # The handler's dispatch reads the real clock: an event dated far ahead of it is refused too.
    try:
        parse_event(body, now=datetime.now(UTC))
    except EventRejected:
        return True
    return False


def test_a_batch_of_malformed_messages_never_fails_and_never_records_them_as_notifications(
    aws: dict[str, Any],
) -> None:
    from herald.handlers.dispatch import handler

    batches = iter(range(1_000_000))

    @settings(FUZZ, max_examples=20)
    @given(st.lists(any_hostile(), min_size=1, max_size=9), st.sampled_from(EVENT_TYPES))
    def one_batch(hostiles: list[Hostile], good_type: str) -> None:
        # Given: an empty table (each batch is judged on its own items)
        for item in aws["dynamodb"].scan(TableName=TABLE, ProjectionExpression="pk, sk")["Items"]:
            aws["dynamodb"].delete_item(TableName=TABLE, Key=item)
        # And: an SQS batch of malformed and hostile messages with one good event among them
        batch = next(batches)
        good = sample_event(good_type)
        good["id"] = f"evt_fuzz_good_{batch}"
        bodies = {f"m-{batch}-{index}": h.body for index, h in enumerate(hostiles)}
        bodies[f"m-{batch}-good"] = json.dumps(good)
        event = {"Records": [_record(message_id, body) for message_id, body in bodies.items()]}

        # When: the dispatch function is invoked with it
        response = handler(event, lambda_context("herald-dispatch-fuzz", region=REGION))

        # Then: no message is reported as failed, so none is retried
        assert response["batchItemFailures"] == []
        # And: exactly the messages the contract rejects, and those from a storefront the registry does not have,
        # are recorded as rejections, under their SQS message id
        rejected = {
            message_id
            for message_id, body in bodies.items()
            if _rejected_by_contract(body) or parse_event(body).source != SAMPLE_SOURCE
        }
        assert f"m-{batch}-good" not in rejected
        items = aws["dynamodb"].scan(TableName=TABLE)["Items"]
        assert {i["message_id"]["S"] for i in items if i.get("kind", {}).get("S") == "rejection"} == rejected
        # And: events and notifications are recorded only for what the contract accepted, the good event included
        accepted_ids = {parse_event(body).id for message_id, body in bodies.items() if message_id not in rejected}
        recorded_ids = {i["event_id"]["S"] for i in items if i.get("kind", {}).get("S") in ("event", "notification")}
        assert f"evt_fuzz_good_{batch}" in recorded_ids
        assert recorded_ids <= accepted_ids

    one_batch()
