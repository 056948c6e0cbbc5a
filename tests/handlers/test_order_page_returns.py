"""Returns started on the order page, end to end over moto (issue 11, section 3): the return form offers the
delivered items not already in a return; a post records `return_started` on the order's timeline, tells the
storefront with a signed `return.requested` webhook, and queues the Herald `return.requested` event dispatch sends
the customer's usual confirmation from; forged, stale, replayed and ineligible posts record nothing; a storefront
with its own returns portal gets a link instead of the form."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from herald.adapters.dynamodb_ledger import DynamoDbLedger
from herald.domain.order_page import FormTokens
from herald.handlers import dispatch, order_page, outbound_webhooks
from herald.usecases.timeline import order_timeline
from herald_tools.local.ports import RECEIVER_CA_VARIABLE
from herald_tools.local.standins.storefront_webhooks import StorefrontWebhookReceiver
from tests.storefronts import REGISTRY_PATH, seed_registry, storefront

from .conftest import REGION, TABLE, Env, _create_queue
from .test_order_page import KEY, SOURCE, _delivered_story, _dispatch, _page_path, request
from .test_order_page import pages as pages  # the fixture: a deployment serving the pages, with the page key

WEBHOOK_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
PORTAL = "https://acme-outdoor.example/returns"


@pytest.fixture
def receiver(pages: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StorefrontWebhookReceiver]:
    """The deployment's event and outbound queues wired to dispatch and the page, and the storefront's receiver."""
    with StorefrontWebhookReceiver([WEBHOOK_SECRET], record_dir=tmp_path / "receiver") as stand_in:
        monkeypatch.setenv(RECEIVER_CA_VARIABLE, str(stand_in.ca_path))
        pages.queues["outbound"] = _create_queue(pages.sqs, "outbound")
        # Dispatch keeps the intake's record of each order (its customer, whom the page's return confirms to)
        monkeypatch.setenv("HERALD_ORDER_EVENTS_QUEUE_URL", pages.queues["order-events"])
        monkeypatch.setenv("HERALD_SHIPMENT_EVENTS_QUEUE_URL", pages.queues["shipment-events"])
        monkeypatch.setenv("HERALD_OUTBOUND_WEBHOOKS_QUEUE_URL", pages.queues["outbound"])
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="herald/acme/outbound", SecretString=WEBHOOK_SECRET
        )
        _register(outbound={"url": stand_in.webhook_url, "secret_id": "herald/acme/outbound"})
        dispatch.root.reset()
        order_page.root.reset()
        yield stand_in


def _register(**changes: Any) -> None:
    seed_registry(boto3.client("ssm", region_name=REGION), REGISTRY_PATH, storefront(SOURCE, **changes))
    order_page.root.reset()


def _return_form(path: str) -> tuple[str, str]:
    """The return form page and its form token."""
    response = request("GET", f"{path}/return")
    assert response["statusCode"] == 200, response["body"]
    match = re.search(r'name="form_token" value="([^"]+)"', response["body"])
    assert match, "the return page has no form"
    return response["body"], match.group(1)


def _post_return(path: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return request("POST", f"{path}/return", urlencode(pairs).encode())


def _entries(env: Env, kind: str) -> list[dict[str, Any]]:
    timeline = order_timeline(DynamoDbLedger(env.dynamodb, TABLE, ttl_days=90), SOURCE, "ord_1001")
    return [e for e in timeline["entries"] if e["kind"] == kind]


def _queued(env: Env, queue: str) -> list[dict[str, Any]]:
    messages = env.sqs.receive_message(QueueUrl=env.queues[queue], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


MUGS = [("item", "MUG-TI-450"), ("quantity:MUG-TI-450", "1"), ("reason", "damaged"), ("resolution", "exchange")]


def test_a_started_return_is_on_the_timeline_told_to_the_storefront_signed_and_confirmed_to_the_customer(
    pages: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a delivered order (a tent and two mugs) and its return form
    _delivered_story(pages)
    path = _page_path(pages)
    form, token = _return_form(path)
    assert 'value="TENT-2P-GRN"' in form
    assert 'name="quantity:MUG-TI-450"' in form
    # When the customer returns one of the mugs, damaged, for an exchange, with a note naming their email
    note = "Dented lid, write to jordan.rivera@example.com"
    response = _post_return(path, [*MUGS, ("note", note), ("form_token", token)])
    # Then the page says what happens next, and shows the return as requested
    assert response["statusCode"] == 200
    assert "You will get an email confirming it" in response["body"]
    assert "Requested" in response["body"]
    assert "Titanium Camp Mug 450 ml &times; 1" in response["body"]
    # And the timeline keeps it: the items, the reason, the resolution, the note masked
    (started,) = _entries(pages, "return_started")
    assert json.loads(started["items"]) == [{"name": "Titanium Camp Mug 450 ml", "quantity": 1, "sku": "MUG-TI-450"}]
    assert (started["reason"], started["resolution"]) == ("damaged", "exchange")
    assert "jordan.rivera@example.com" not in started["note"]
    assert started["note"].startswith("Dented lid")
    # And the storefront receives a signed return.requested CloudEvent with the customer's words as typed
    assert pages.deliver("outbound", outbound_webhooks.handler)["batchItemFailures"] == []
    (received,) = receiver.received
    assert receiver.refused == 0
    event = received["event"]
    assert (event["type"], event["subject"], event["source"]) == ("return.requested", "ord_1001", f"herald/{SOURCE}")
    assert event["data"]["items"] == [{"sku": "MUG-TI-450", "name": "Titanium Camp Mug 450 ml", "quantity": 1}]
    assert (event["data"]["reason"], event["data"]["resolution"], event["data"]["note"]) == (
        "damaged",
        "exchange",
        note,
    )
    assert event["data"]["return_id"] == started["return_id"]
    # And a Herald return.requested event is on the order queue, from which dispatch sends the usual confirmation
    assert pages.deliver("order-events", dispatch.handler)["batchItemFailures"] == []
    (requested,) = [e for e in _entries(pages, "event") if e["event_type"] == "return.requested"]
    assert requested["status"] == "dispatched"
    _page_path(pages)  # delivers the email queue
    confirmation = message_from_bytes(pages.outbox.emails()[-1].read_bytes(), policy=policy.default)
    assert "We have your return request" in str(confirmation["Subject"])
    assert confirmation["To"] == "jordan.rivera@example.com"
    text = confirmation.get_body(preferencelist=("plain",))
    assert text is not None
    assert "It arrived damaged" in text.get_content()
    # And the page still shows one return, and offers only what is left: the tent and the other mug
    page = request("GET", path)["body"]
    assert page.count('class="return"') == 1
    form, _ = _return_form(path)
    assert 'value="TENT-2P-GRN"' in form
    assert 'value="MUG-TI-450"' in form
    assert 'name="quantity:MUG-TI-450"' not in form  # one mug left: nothing to choose


def test_a_replayed_return_form_records_and_tells_nothing_again(
    pages: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a return started with one form
    _delivered_story(pages)
    path = _page_path(pages)
    _, token = _return_form(path)
    assert _post_return(path, [*MUGS, ("form_token", token)])["statusCode"] == 200
    # When the same form is posted again (a second click, a replay)
    again = _post_return(path, [*MUGS, ("form_token", token)])
    # Then the customer is told it is already in, and nothing more is recorded or sent
    assert again["statusCode"] == 200
    assert "We already have this return request" in again["body"]
    assert len(_entries(pages, "return_started")) == 1
    assert len(_queued(pages, "outbound")) == 1
    assert len([e for e in _queued(pages, "order-events") if e["type"] == "return.requested"]) == 1


def _stale_token(path: str) -> str:
    token = path.rsplit("/", 1)[-1]
    return FormTokens((KEY,)).issue(token, "return", datetime.now(UTC) - timedelta(hours=13))


@pytest.mark.parametrize(
    ("token_of", "why"),
    [
        (lambda path: "", "missing or malformed"),
        (lambda path: "1800000000.AAAAAAAAAAAAAAAA." + "A" * 43, "not issued for this page"),
        (
            lambda path: FormTokens((KEY,)).issue(path.rsplit("/", 1)[-1], "delivery\nshp_1001_1", datetime.now(UTC)),
            "not issued for this page",
        ),
        (_stale_token, "too old"),
    ],
    ids=["missing", "forged", "another-forms-token", "stale"],
)
def test_a_forged_or_stale_return_form_is_refused_and_nothing_is_recorded_or_sent(
    pages: Env, receiver: StorefrontWebhookReceiver, token_of: Any, why: str
) -> None:
    # Given a delivered order
    _delivered_story(pages)
    path = _page_path(pages)
    # When a return is posted with a token the page did not issue for its return form, or one issued 13 hours ago
    response = _post_return(path, [*MUGS, ("form_token", token_of(path))])
    # Then it is refused with the form again, and nothing is recorded, told or queued
    assert response["statusCode"] == 400
    assert why in response["body"]
    assert 'action="' in response["body"]
    assert _entries(pages, "return_started") == []
    assert _queued(pages, "outbound") == []
    assert [e for e in _queued(pages, "order-events") if e["type"] == "return.requested"] == []


@pytest.mark.parametrize(
    ("pairs", "why"),
    [
        ([("item", "SOCKS"), ("reason", "damaged"), ("resolution", "refund")], "cannot be returned"),
        (
            [("item", "MUG-TI-450"), ("quantity:MUG-TI-450", "3"), ("reason", "damaged"), ("resolution", "refund")],
            "from 1 to 2",
        ),
        ([("item", "MUG-TI-450"), ("reason", "bored"), ("resolution", "refund")], "why you are returning"),
        ([("reason", "damaged"), ("resolution", "refund")], "at least one item"),
    ],
)
def test_a_return_of_what_may_not_be_returned_is_refused_with_the_form_again(
    pages: Env, receiver: StorefrontWebhookReceiver, pairs: list[tuple[str, str]], why: str
) -> None:
    _delivered_story(pages)
    path = _page_path(pages)
    _, token = _return_form(path)
    response = _post_return(path, [*pairs, ("form_token", token)])
    assert response["statusCode"] == 400
    assert why in response["body"]
    assert 'name="item"' in response["body"]
    assert _entries(pages, "return_started") == []
    assert _queued(pages, "outbound") == []


def test_before_delivery_there_is_nothing_to_return(pages: Env, receiver: StorefrontWebhookReceiver) -> None:
    # Given an order placed and in transit, not delivered
    _dispatch(pages, "order.placed", "evt_placed", 0)
    _dispatch(pages, "shipment.in_transit", "evt_scan", 2, estimated_delivery="2026-11-05")
    path = _page_path(pages)
    # Then the page offers no return, and the return page says why, with no form
    assert "Start a return" not in request("GET", path)["body"]
    page = request("GET", f"{path}/return")["body"]
    assert "nothing on this order to return now" in page
    assert 'name="form_token"' not in page
    # And a post with a token the page would issue is refused: the tent is not delivered
    token = FormTokens((KEY,)).issue(path.rsplit("/", 1)[-1], "return", datetime.now(UTC))
    response = _post_return(
        path, [("item", "TENT-2P-GRN"), ("reason", "other"), ("resolution", "refund"), ("form_token", token)]
    )
    assert response["statusCode"] == 400
    assert "cannot be returned" in response["body"]
    assert _entries(pages, "return_started") == []


def test_a_storefront_with_its_own_returns_portal_gets_a_link_instead_of_the_form(
    pages: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a storefront whose registry entry names its returns portal
    _register(outbound={"url": receiver.webhook_url, "secret_id": "herald/acme/outbound", "returns_portal_url": PORTAL})
    _delivered_story(pages)
    path = _page_path(pages)
    # Then the page links to the portal and has no return form
    page = request("GET", path)["body"]
    assert f'href="{PORTAL}"' in page
    assert f'href="{path}/return"' not in page
    # And the return route sends the customer there; a post is refused and records nothing
    form = request("GET", f"{path}/return")
    assert (form["statusCode"], form["headers"]["Location"]) == (303, PORTAL)
    token = FormTokens((KEY,)).issue(path.rsplit("/", 1)[-1], "return", datetime.now(UTC))
    response = _post_return(path, [*MUGS, ("form_token", token)])
    assert response["statusCode"] == 400
    assert "store&#39;s own returns page" in response["body"]
    assert _entries(pages, "return_started") == []
    assert _queued(pages, "outbound") == []


def test_an_oversized_return_post_is_refused_before_it_is_read(pages: Env, receiver: StorefrontWebhookReceiver) -> None:
    _delivered_story(pages)
    path = _page_path(pages)
    response = _post_return(path, [("note", "x" * 50_000)])
    assert response["statusCode"] == 413
    assert _entries(pages, "return_started") == []


def test_a_return_post_the_queue_refuses_gets_a_page_to_try_again_and_the_retry_is_taken_once(
    pages: Env, receiver: StorefrontWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a delivered order's return form, and an outbound queue that does not answer (gone, throttled)
    _delivered_story(pages)
    path = _page_path(pages)
    _, token = _return_form(path)
    monkeypatch.setenv("HERALD_OUTBOUND_WEBHOOKS_QUEUE_URL", pages.queues["outbound"] + "-missing")
    order_page.root.reset()
    # When the customer posts the return
    failed = _post_return(path, [*MUGS, ("form_token", token)])
    # Then they get a page that says to try again (503, Retry-After), not a bare error, and nothing is recorded
    assert failed["statusCode"] == 503
    assert failed["headers"]["Retry-After"] == "30"
    assert "please try again in a minute" in failed["body"]
    assert failed["headers"]["Content-Type"].startswith("text/html")
    assert _entries(pages, "return_started") == []
    # When the queue answers again and the customer posts the same form once more
    monkeypatch.setenv("HERALD_OUTBOUND_WEBHOOKS_QUEUE_URL", pages.queues["outbound"])
    order_page.root.reset()
    again = _post_return(path, [*MUGS, ("form_token", token)])
    # Then the return is taken, once
    assert again["statusCode"] == 200
    assert len(_entries(pages, "return_started")) == 1
    assert len(_queued(pages, "outbound")) == 1
