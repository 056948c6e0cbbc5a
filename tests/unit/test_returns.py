"""Returns started on the order page, their pure parts: which items may still be returned (delivered, not already
in a return, quantities counted), the return form's fields read and refused, and the page's view and HTML."""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald.domain.order_page import MAX_NOTE_CHARACTERS, FormRefused
from herald.domain.returns import (
    Resolution,
    Returnable,
    ReturnReason,
    return_request,
    returnable_items,
    started_return_id,
)
from herald.rendering.order_page import RESOLUTION_LABELS, RETURN_REASON_LABELS, render_order_page, render_return_form
from herald.usecases.order_page import build_view
from herald.usecases.ports import OrderPageRecord

ORDER_ITEMS = [
    {"sku": "TENT", "name": "Trailhead Tent", "quantity": 1},
    {"sku": "MUG", "name": "Camp Mug", "quantity": 3},
]
RETURNABLE = [Returnable("TENT", "Trailhead Tent", 1), Returnable("MUG", "Camp Mug", 3)]
GOOD = [("item", "MUG"), ("quantity:MUG", "2"), ("reason", "damaged"), ("resolution", "exchange")]


def test_nothing_is_returnable_before_a_shipment_is_delivered() -> None:
    assert returnable_items(ORDER_ITEMS, [], []) == []


def test_a_delivered_shipment_that_lists_no_items_holds_the_whole_order() -> None:
    assert returnable_items(ORDER_ITEMS, [[]], []) == RETURNABLE


def test_only_the_items_of_the_delivered_shipments_are_returnable_never_more_than_ordered() -> None:
    # Given a delivered shipment holding one mug, and a carrier repeating the tent in two shipments
    delivered = [[{"sku": "MUG", "quantity": 1}], [{"sku": "TENT", "quantity": 1}], [{"sku": "TENT", "quantity": 1}]]
    # Then one mug and the one tent ordered may go back
    assert returnable_items(ORDER_ITEMS, delivered, []) == [
        Returnable("TENT", "Trailhead Tent", 1),
        Returnable("MUG", "Camp Mug", 1),
    ]


def test_a_return_holds_its_items_until_the_storefront_declines_it() -> None:
    # Given two of the three mugs in a requested return, the tent in a refunded one
    returns = [
        ("return.requested", [{"sku": "MUG", "quantity": 2}]),
        ("return.refunded", [{"sku": "TENT", "quantity": 1}]),
    ]
    # Then one mug is left to return
    assert returnable_items(ORDER_ITEMS, [[]], returns) == [Returnable("MUG", "Camp Mug", 1)]
    # And a declined return gives its items back
    declined = [("return.declined", [{"sku": "MUG", "quantity": 2}])]
    assert returnable_items(ORDER_ITEMS, [[]], declined) == RETURNABLE


def test_the_return_form_reads_items_quantities_reason_resolution_and_a_trimmed_note() -> None:
    request = return_request([*GOOD, ("item", "TENT"), ("note", "  dented   on\none side ")], RETURNABLE)
    assert [(line.sku, line.name, line.quantity) for line in request.lines] == [
        ("MUG", "Camp Mug", 2),
        ("TENT", "Trailhead Tent", 1),
    ]
    assert (request.reason, request.resolution) == (ReturnReason.DAMAGED, Resolution.EXCHANGE)
    assert request.note == "dented on one side"


@pytest.mark.parametrize(
    ("pairs", "why"),
    [
        ([("reason", "damaged"), ("resolution", "refund")], "at least one item"),
        ([("item", "SOCKS"), ("reason", "damaged"), ("resolution", "refund")], "cannot be returned"),
        ([*GOOD[:1], ("quantity:MUG", "4"), *GOOD[2:]], "from 1 to 3"),
        ([*GOOD[:1], ("quantity:MUG", "0"), *GOOD[2:]], "from 1 to 3"),
        ([*GOOD[:1], ("quantity:MUG", "-1"), *GOOD[2:]], "from 1 to 3"),
        ([*GOOD[:1], ("quantity:MUG", "two"), *GOOD[2:]], "from 1 to 3"),
        ([("item", "MUG"), ("reason", "too_expensive"), ("resolution", "refund")], "why you are returning"),
        ([("item", "MUG"), ("reason", "damaged")], "refund or an exchange"),
        ([("item", "MUG"), ("reason", "damaged"), ("resolution", "store_credit")], "refund or an exchange"),
        ([*GOOD, ("note", "x" * (MAX_NOTE_CHARACTERS + 1))], "longer than"),
    ],
)
def test_a_return_form_that_asks_for_what_may_not_be_returned_is_refused(pairs: list[Any], why: str) -> None:
    with pytest.raises(FormRefused, match=why):
        return_request(pairs, RETURNABLE)


def test_a_started_returns_id_is_one_per_form_and_order() -> None:
    first = started_return_id("storefront/acme", "ord_1", "nonce-a")
    assert first == started_return_id("storefront/acme", "ord_1", "nonce-a")
    assert first != started_return_id("storefront/acme", "ord_1", "nonce-b")
    assert first != started_return_id("storefront/acme", "ord_2", "nonce-a")
    # And it is a valid contract return id and the stem of a valid event id
    assert len(first) <= 100
    assert first.isascii()


def _event(event_type: str, time: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": {"S": "event"},
        "event_type": {"S": event_type},
        "event_time": {"S": time},
        "status": {"S": "dispatched"},
        "details": {"S": json.dumps(details)},
    }


def _started(return_id: str, items: list[dict[str, Any]], at: str) -> dict[str, Any]:
    return {
        "kind": {"S": "return_started"},
        "return_id": {"S": return_id},
        "items": {"S": json.dumps(items)},
        "reason": {"S": "damaged"},
        "resolution": {"S": "exchange"},
        "received_at": {"S": at},
    }


PAGE = OrderPageRecord("storefront/acme", "ord_1", {"order": {"id": "ord_1", "number": "#1", "items": ORDER_ITEMS}})
DELIVERED = _event(
    "shipment.delivered",
    "2026-11-05T10:00:00+00:00",
    {
        "shipment": {"id": "shp_1", "carrier": "UPS", "tracking_number": "1Z"},
        "proof": {"delivered_at": "2026-11-05T10:00:00+00:00"},
    },
)


def test_the_page_shows_a_started_return_as_requested_until_the_storefronts_events_say_more() -> None:
    # Given a return started on the page, not yet answered
    mugs = [{"sku": "MUG", "name": "Camp Mug", "quantity": 2}]
    items = [DELIVERED, _started("hrld-ret-1", mugs, "2026-11-06T10:00:00+00:00")]
    view = build_view("t" * 22, PAGE, items, None)
    (ret,) = view.returns
    assert (ret.id, ret.state, ret.resolution, ret.items) == ("hrld-ret-1", "return.requested", "exchange", mugs)
    # When the storefront approves it (its event names Herald's return id, with the label, and no items)
    label = "https://labels.example/ret-1.pdf"
    approved = _event(
        "return.approved", "2026-11-07T10:00:00+00:00", {"return": {"id": "hrld-ret-1", "label_url": label}}
    )
    view = build_view("t" * 22, PAGE, [*items, approved], None)
    # Then the page shows it approved with its label, still holding the two mugs
    (ret,) = view.returns
    assert (ret.state, ret.label_url, ret.items, ret.resolution) == ("return.approved", label, mugs, "exchange")
    html = render_order_page(view)
    assert "Approved" in html
    assert label in html
    assert "Print your return label" in html


@pytest.mark.parametrize(
    ("state", "extra", "shown"),
    [
        ("return.requested", {}, "Requested"),
        ("return.received", {}, "Received"),
        ("return.refunded", {"refund_amount": "17.95"}, "Refunded: $17.95"),
        ("return.declined", {"reason": "Outside the return window"}, "Declined"),
    ],
)
def test_the_page_shows_each_returns_state(state: str, extra: dict[str, Any], shown: str) -> None:
    ret = {"id": "ret_1", "items": [{"sku": "MUG", "name": "Camp Mug", "quantity": 1}], **extra}
    page = OrderPageRecord(
        PAGE.source, PAGE.order_id, {**PAGE.blocks, "order": {**PAGE.blocks["order"], "currency": "USD"}}
    )
    view = build_view("t" * 22, page, [_event(state, "2026-11-07T10:00:00+00:00", {"return": ret})], None)
    html = render_order_page(view)
    assert shown in html
    assert "Camp Mug &times; 1" in html


def test_the_return_form_offers_each_returnable_item_with_a_quantity_when_more_than_one() -> None:
    view = build_view("t" * 22, PAGE, [DELIVERED], None)
    view.returnable = RETURNABLE
    view.return_form_token = "1.abc.def"
    html = render_return_form(view)
    assert html.count('type="checkbox" name="item"') == 2
    # Then only the mugs (three of them) ask how many, and the form posts to the page's return route
    assert 'name="quantity:MUG"' in html
    assert 'name="quantity:TENT"' not in html
    assert html.count("<option") == 3
    assert f'action="/o/{"t" * 22}/return"' in html
    # (the labels are Herald's own words, through gettext: Jinja2 takes a translation as markup, unescaped)
    for label in [*RETURN_REASON_LABELS.values(), *RESOLUTION_LABELS.values()]:
        assert label in html


def test_a_storefront_item_name_is_escaped_on_the_return_form() -> None:
    view = build_view("t" * 22, PAGE, [DELIVERED], None)
    view.returnable = [Returnable("X", "<script>alert(1)</script>", 1)]
    html = render_return_form(view)
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_the_timeline_and_the_evidence_pack_show_a_started_return() -> None:
    from herald.usecases.evidence import evidence_pack
    from herald.usecases.timeline import build_timeline, describe

    # Given a return started on the page, recorded beside the order's delivery
    mugs = [{"sku": "MUG", "name": "Camp Mug", "quantity": 2}]
    item = _started("hrld-ret-1", mugs, "2026-11-06T10:00:00+00:00") | {"sk": {"S": "ANSWER#n1"}}
    # When the timeline and the evidence pack are built
    (entry,) = [
        e
        for e in build_timeline("storefront/acme", "ord_1", [DELIVERED, item])["entries"]
        if e["kind"] == "return_started"
    ]
    pack = evidence_pack("storefront/acme", "ord_1", [DELIVERED, item])
    # Then the timeline's line says what it holds and why, and the pack lists it with its items
    assert entry["summary"] == "return_started 2 x MUG (damaged, exchange)"
    assert describe(entry)[:2] == ("return started on the order page", "2 x MUG (damaged, exchange)")
    (started,) = pack["returns_started"]
    assert (started["return_id"], started["items"], started["resolution"]) == ("hrld-ret-1", mugs, "exchange")
