"""The order page as a customer uses it, in a real Chromium, against the local runtime (issue 11, section 5):
open the link a delivered notification carries, confirm; dispute with a note and find it on the timeline; the
layout at 375 px; an automated accessibility check (axe-core, WCAG 2.1 AA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from herald_tools.local.demo import Providers
from herald_tools.local.runtime import LocalRuntime
from tests.browser.story import WCAG_21_AA, delivered_order

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


def test_a_customer_disputes_with_a_note_and_it_is_on_the_timeline(
    deployment: tuple[LocalRuntime, Providers], browser: Any, shots: Path
) -> None:
    runtime, _ = deployment
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
