"""The order page's pure parts: its link's token, its forms' tokens, the delivery form's fields, the page's view
of an order's recorded steps and its HTML (escaped, readable on the storefront's colour)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from herald.domain.order_page import (
    FORM_LIFETIME,
    DeliveryAnswer,
    DisputeReason,
    FormRefused,
    FormTokens,
    delivery_response,
    is_page_token,
    page_token,
)
from herald.rendering.colours import contrast, text_colour_on
from herald.rendering.order_page import render_order_page
from herald.usecases.order_page import build_view
from herald.usecases.ports import OrderPageRecord

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = "k" * 40


def test_a_page_token_is_short_stable_per_order_and_differs_per_order_storefront_and_key() -> None:
    token = page_token(KEY, "storefront/acme", "ord_1")
    # Then it fits an SMS link and has the shape the page checks before any lookup
    assert len(token) == 22
    assert is_page_token(token)
    # And every message of the order carries the same one; another order, storefront or key gives another
    assert page_token(KEY, "storefront/acme", "ord_1") == token
    others = {page_token(KEY, "storefront/acme", "ord_2"), page_token(KEY, "storefront/other", "ord_1")}
    others.add(page_token("j" * 40, "storefront/acme", "ord_1"))
    assert token not in others
    assert len(others) == 3


@pytest.mark.parametrize("value", ["", "short", "x" * 23, "a" * 21 + "/", "../../etc/passwd.xxxxxxx"])
def test_anything_but_a_tokens_shape_is_refused_without_a_lookup(value: str) -> None:
    assert not is_page_token(value)


def test_a_form_token_is_bound_to_its_page_and_form_and_expires() -> None:
    forms = FormTokens((KEY,))
    issued = forms.issue("page-a", "delivery\nshp_1", NOW)
    # Then it verifies for its page and form, within its lifetime, giving its nonce
    nonce = forms.verify("page-a", "delivery\nshp_1", issued, NOW + timedelta(minutes=5))
    assert nonce == issued.split(".")[1]
    # And nowhere else, and not once it is too old
    with pytest.raises(FormRefused, match="not issued for this page"):
        forms.verify("page-b", "delivery\nshp_1", issued, NOW)
    with pytest.raises(FormRefused, match="not issued for this page"):
        forms.verify("page-a", "delivery\nshp_2", issued, NOW)
    with pytest.raises(FormRefused, match="too old"):
        forms.verify("page-a", "delivery\nshp_1", issued, NOW + FORM_LIFETIME + timedelta(seconds=1))
    with pytest.raises(FormRefused, match="missing or malformed"):
        forms.verify("page-a", "delivery\nshp_1", "", NOW)


def test_a_rotated_key_still_accepts_forms_issued_under_the_old_one() -> None:
    issued = FormTokens(("old" * 12,)).issue("page-a", "f", NOW)
    assert FormTokens(("new" * 12, "old" * 12)).verify("page-a", "f", issued, NOW)
    with pytest.raises(FormRefused):
        FormTokens(("new" * 12,)).verify("page-a", "f", issued, NOW)


def test_the_delivery_form_is_read_strictly() -> None:
    delivered = {"shp_1"}
    assert delivery_response({"shipment": "shp_1", "answer": "received"}, delivered).answer is DeliveryAnswer.RECEIVED
    # "Not received" without a reason asks what happened; with one, the note is kept on one line
    assert delivery_response({"shipment": "shp_1", "answer": "not_received"}, delivered).reason is None
    full = delivery_response(
        {"shipment": "shp_1", "answer": "not_received", "reason": "damaged", "note": " box\n crushed "}, delivered
    )
    assert (full.reason, full.note) == (DisputeReason.DAMAGED, "box crushed")
    for fields, reason in (
        ({"shipment": "shp_9", "answer": "received"}, "no delivery"),
        ({"shipment": "shp_1", "answer": "maybe"}, "whether you received"),
        ({"shipment": "shp_1", "answer": "not_received", "reason": "stolen"}, "what happened"),
        ({"shipment": "shp_1", "answer": "not_received", "reason": "damaged", "note": "x" * 501}, "longer than"),
    ):
        with pytest.raises(FormRefused, match=reason):
            delivery_response(fields, delivered)


def _event_item(event_type: str, time: str, details: dict[str, Any], status: str = "dispatched") -> dict[str, Any]:
    return {
        "kind": {"S": "event"},
        "event_type": {"S": event_type},
        "event_time": {"S": time},
        "status": {"S": status},
        "details": {"S": json.dumps(details)},
    }


def _shipment(**changes: Any) -> dict[str, Any]:
    return {"id": "shp_1", "carrier": "UPS", "tracking_number": "1Z", **changes}


def test_the_view_keeps_what_the_customer_was_told_and_every_estimate() -> None:
    # Given a scan promising the 5th, a repeated scan (superseded) moving it to the 6th, and the delivery
    items = [
        _event_item(
            "shipment.in_transit", "2026-11-03T10:00:00+00:00", {"shipment": _shipment(estimated_delivery="2026-11-05")}
        ),
        _event_item(
            "shipment.in_transit",
            "2026-11-04T10:00:00+00:00",
            {"shipment": _shipment(estimated_delivery="2026-11-06")},
            status="superseded",
        ),
        _event_item(
            "shipment.delivered",
            "2026-11-06T18:00:00+00:00",
            {"shipment": _shipment(estimated_delivery="2026-11-06"), "proof": {"delivered_at": "2026-11-06T18:00:00Z"}},
        ),
    ]
    page = OrderPageRecord("storefront/acme", "ord_1", {"order": {"number": "#1"}, "customer": {}})
    view = build_view("t" * 22, page, items, None)
    (shipment,) = view.shipments
    # Then the history has what was notified, the estimates every one given, and the proof
    assert [s.event_type for s in shipment.steps] == ["shipment.in_transit", "shipment.delivered"]
    assert shipment.estimates == ["2026-11-05", "2026-11-06"]
    assert shipment.status == "shipment.delivered"
    assert shipment.current_estimate is None
    assert shipment.proof == {"delivered_at": "2026-11-06T18:00:00Z"}


def test_the_page_escapes_what_a_customer_carrier_or_storefront_typed() -> None:
    # Given an order whose item name, proof location and store name carry markup
    items = [
        _event_item(
            "shipment.delivered",
            "2026-11-06T18:00:00+00:00",
            {
                "shipment": _shipment(),
                "proof": {"delivered_at": "2026-11-06T18:00:00Z", "location": "<img src=x onerror=alert(1)>"},
            },
        )
    ]
    blocks = {
        "order": {"number": "#1", "items": [{"sku": "A", "name": "<script>alert(2)</script>", "quantity": 1}]},
        "store": {"name": "Acme & <Sons>"},
        "customer": {"timezone": "America/Denver"},
    }
    view = build_view("t" * 22, OrderPageRecord("s", "o", blocks), items, None)
    html = render_order_page(view)
    # Then none of it is markup on the page
    assert "<script>alert(2)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "Acme &amp; &lt;Sons&gt;" in html


@pytest.mark.parametrize("colour", ["#ffffff", "#fde047", "#1f2937", "#2563eb", "#10b981", "#7f1d1d"])
def test_text_on_the_storefronts_colour_meets_wcag_aa_for_large_text(colour: str) -> None:
    # The header's name is 18 px bold (large text: 3:1); every colour gets the better of white or near-black
    assert contrast(colour, text_colour_on(colour)) >= 3.0
