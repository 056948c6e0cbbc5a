"""The order page as a customer uses it, in a real Chromium, against the local runtime (issue 11, section 5):
open the link a delivered notification carries, confirm; dispute with a note and find it on the timeline and in
the storefront's received webhooks, signed; start a return and follow its state; the layout at 375 px; an
automated accessibility check (axe-core, WCAG 2.1 AA) on the page and its forms."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from herald_tools.local.demo import Providers
from herald_tools.local.runtime import LocalRuntime
from tests.browser.story import ROOT, WCAG_21_AA, delivered_order

SOURCE = "storefront/acme-outdoor"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the page's screenshots go: docs/ with `make screenshots` (HERALD_SCREENSHOTS_DIR), else a temp dir."""
    import os

    chosen = os.environ.get("HERALD_SCREENSHOTS_DIR")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


def _timeline(runtime: LocalRuntime, order: str) -> list[dict[str, Any]]:
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.usecases.timeline import order_timeline

    table = runtime.stack.function("DispatchFunction").environment["HERALD_TABLE_NAME"]
    ledger = DynamoDbLedger(runtime.aws.client("dynamodb"), table)
    return list(order_timeline(ledger, SOURCE, order)["entries"])


def test_a_customer_opens_the_delivered_link_and_confirms(
    deployment: tuple[LocalRuntime, Providers], browser: Any, shots: Path
) -> None:
    runtime, _ = deployment
    link = delivered_order(deployment, "ord_b101")
    page = browser.new_page()
    try:
        # When the customer opens the link from the delivered email
        page.goto(link)
        # Then they see their order, its delivery and where it was left, and the two answers
        assert page.get_by_role("heading", name="Order #b101").is_visible()
        assert page.get_by_text("Front porch").is_visible()
        assert page.get_by_text("Delivered", exact=True).first.is_visible()
        # And the carrier's photo, served from Herald's own copy (the carrier-photos stand-in, locally)
        photo = page.get_by_role("img", name="Photo of the delivery, taken by the carrier")
        photo.wait_for()
        assert photo.evaluate("img => img.complete && img.naturalWidth") == 640
        page.screenshot(path=str(shots / "order-page-delivered.png"), full_page=True)
        # When they confirm
        page.get_by_role("button", name="Yes, I received it").click()
        # Then the page thanks them, and the order's timeline has the confirmation
        assert page.get_by_role("status").inner_text().startswith("Thank you")
    finally:
        page.close()
    kinds = [e["kind"] for e in _timeline(runtime, "ord_b101")]
    assert "delivery_confirmed" in kinds


def _webhook(setup: Providers, event_type: str, order: str) -> dict[str, Any]:
    """The storefront receiver's record of the one webhook of `event_type` about `order`, once it has come."""
    from herald_tools.local.conditions import wait_for

    def found(entries: list[dict[str, Any]]) -> bool:
        return any(e["event"]["type"] == event_type and e["event"]["subject"] == order for e in entries)

    entries = wait_for(
        f"the storefront's {event_type} webhook of {order}", lambda: setup.storefront_receiver.received, found
    )
    (entry,) = [e for e in entries if e["event"]["type"] == event_type and e["event"]["subject"] == order]
    return entry


def _verified_by_the_storefront(setup: Providers, entry: dict[str, Any]) -> dict[str, Any]:
    """The webhook's CloudEvent, verified as docs/outbound-webhooks.md tells a storefront to, with its secret; a
    body changed in transit would not verify."""
    import time

    from herald_tools.local.standins.storefront_webhooks import verify_herald_webhook

    headers, body = entry["signed"], entry["body"].encode("ascii")
    with pytest.raises(ValueError, match="no valid signature"):
        verify_herald_webhook(setup.outbound_secret, headers, body.replace(b'"data":{', b'"data":{"x":1,'), time.time())
    return verify_herald_webhook(setup.outbound_secret, headers, body, time.time())


def test_a_customer_disputes_with_a_note_and_it_is_on_the_timeline(
    deployment: tuple[LocalRuntime, Providers], browser: Any, shots: Path
) -> None:
    runtime, setup = deployment
    link = delivered_order(deployment, "ord_b102")
    page = browser.new_page()
    try:
        page.goto(link)
        # When the customer says it did not arrive, then what happened, with a note
        page.get_by_role("button", name="No, I did not receive it").click()
        page.get_by_label("It was left in the wrong place").check()
        page.get_by_label("Anything to add? (optional)").fill("It is on my neighbour's porch at number 12.")
        page.screenshot(path=str(shots / "order-page-dispute.png"), full_page=True)
        page.get_by_role("button", name="Send").click()
        # Then they are told what happens next, and the page shows their answer
        assert "passed it on to the store" in page.get_by_role("status").inner_text()
        assert page.get_by_text("you did not receive it (It was left in the wrong place)").is_visible()
        page.screenshot(path=str(shots / "order-page-disputed.png"), full_page=True)
    finally:
        page.close()
    (dispute,) = [e for e in _timeline(runtime, "ord_b102") if e["kind"] == "delivery_disputed"]
    assert dispute["reason"] == "wrong_place"
    assert "neighbour" in dispute["note"]
    # And the storefront's webhook receiver got it, signed with the storefront's secret, the note as typed
    event = _verified_by_the_storefront(setup, _webhook(setup, "delivery.disputed", "ord_b102"))
    assert (event["source"], event["data"]["answer"], event["data"]["reason"]) == (
        f"herald/{SOURCE}",
        "not_received",
        "wrong_place",
    )
    assert event["data"]["note"] == "It is on my neighbour's porch at number 12."
    assert event["data"]["evidence"]["proof"]["location"] == "Front porch"


def test_the_page_fits_a_375_px_screen_and_passes_axe_wcag_21_aa(
    deployment: tuple[LocalRuntime, Providers], browser: Any
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    link = delivered_order(deployment, "ord_b103")
    page = browser.new_page(viewport={"width": 375, "height": 812})
    try:
        page.goto(link)
        # Then nothing is wider than the screen (no sideways scrolling)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page is {width} px wide at 375 px"
        # And axe-core finds no WCAG 2.1 A or AA violation, on the page and on the dispute form
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_report()
        page.get_by_role("button", name="No, I did not receive it").click()
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_report()
    finally:
        page.close()


def test_a_customer_starts_a_return_and_follows_it_to_approved(
    deployment: tuple[LocalRuntime, Providers], browser: Any, shots: Path
) -> None:
    runtime, setup = deployment
    link = delivered_order(deployment, "ord_b104")
    page = browser.new_page()
    try:
        # Given the delivered order's page
        page.goto(link)
        # When the customer starts a return of one of the two mugs, damaged, for an exchange, with a note
        page.get_by_role("link", name="Start a return").click()
        assert page.get_by_role("heading", name="Start a return").is_visible()
        page.get_by_label("Titanium Camp Mug 450 ml").check()
        page.get_by_label("How many?").select_option("1")
        page.get_by_label("It arrived damaged").check()
        page.get_by_label("An exchange").check()
        page.get_by_label("Anything to add? (optional)").fill("The lid is dented.")
        page.screenshot(path=str(shots / "order-page-return.png"), full_page=True)
        page.get_by_role("button", name="Send the return request").click()
        # Then they are told what happens next, and the page shows the return as requested
        assert "on its way to the store" in page.get_by_role("status").inner_text()
        returns = page.get_by_role("region", name="Returns")
        assert "Requested" in returns.inner_text()
        assert "Titanium Camp Mug 450 ml \u00d7 1" in returns.inner_text()
    finally:
        page.close()
    # And the timeline has it, the storefront received it signed, and the customer got the usual confirmation
    (started,) = [e for e in _timeline(runtime, "ord_b104") if e["kind"] == "return_started"]
    assert (started["reason"], started["resolution"]) == ("damaged", "exchange")
    event = _verified_by_the_storefront(setup, _webhook(setup, "return.requested", "ord_b104"))
    assert event["data"]["items"] == [{"sku": "MUG-TI-450", "name": "Titanium Camp Mug 450 ml", "quantity": 1}]
    assert (event["data"]["note"], event["data"]["return_id"]) == ("The lid is dented.", started["return_id"])
    assert runtime.wait_until_settled(quiet_seconds=1.0, timeout=120)
    subjects = [
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"])
        for p in setup.sendgrid.outbox.emails()
    ]
    assert "We have your return request for order #b104" in subjects
    # When the storefront answers with the existing return events: approved, with its label
    approved: dict[str, Any] = json.loads((ROOT / "events" / "return.approved.json").read_text())
    approved.update(id="evt_b104_return_approved", time=datetime.now(UTC).isoformat())
    approved["data"]["order"].update(id="ord_b104", number="#b104")
    approved["data"]["return"].update(id=started["return_id"])
    runtime.aws.client("sqs").send_message(
        QueueUrl=runtime.stack.queues["OrderEventsQueue"], MessageBody=json.dumps(approved)
    )
    assert runtime.wait_until_settled(quiet_seconds=1.0, timeout=120)
    # Then the page shows it approved, with its label to print
    page = browser.new_page()
    try:
        page.goto(link)
        returns = page.get_by_role("region", name="Returns")
        assert "Approved" in returns.inner_text()
        label = returns.get_by_role("link", name="Print your return label")
        assert label.get_attribute("href") == approved["data"]["return"]["label_url"]
    finally:
        page.close()


def test_the_return_form_fits_a_375_px_screen_and_passes_axe_wcag_21_aa(
    deployment: tuple[LocalRuntime, Providers], browser: Any
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    link = delivered_order(deployment, "ord_b105")
    page = browser.new_page(viewport={"width": 375, "height": 812})
    try:
        page.goto(f"{link}/return")
        assert page.get_by_role("heading", name="Start a return").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the return form is {width} px wide at 375 px"
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_report()
        # And the form refused (nothing chosen) says why, and passes too
        page.get_by_role("button", name="Send the return request").click()
        assert "choose at least one item" in page.get_by_role("alert").inner_text()
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_report()
    finally:
        page.close()
