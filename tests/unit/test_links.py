"""The link each notification is built around, and map links for proof of delivery."""

from __future__ import annotations

from typing import Any

import pytest

from herald.contract.models import HERALD_EVENT_ADAPTER, Envelope, EventType
from herald.rendering.links import key_link, map_link

STATUS = "https://shop.example/orders/1001"
TRACKING = "https://track.example.com/1Z999"
PHOTO = "https://pod.example.com/1Z999.jpg"
PORTAL = "https://returns.shop.example/RMA-1"
LABEL = "https://labels.shop.example/RMA-1.pdf"


def make(event_type: EventType, extra: dict[str, Any] | None = None, *, status_url: str | None = STATUS) -> Envelope:
    """A valid event of `event_type` with the given extra data blocks."""
    order: dict[str, Any] = {"id": "o1", "number": "#1001"}
    if status_url:
        order["status_url"] = status_url
    return HERALD_EVENT_ADAPTER.validate_python(
        {
            "specversion": "1.0",
            "id": "e1",
            "source": "storefront/shop",
            "type": event_type.value,
            "time": "2026-11-27T14:03:11Z",
            "data": {"order": order, "customer": {"email": "jane@example.com"}, **(extra or {})},
        }
    )


def shipment(tracking_url: str | None = TRACKING) -> dict[str, Any]:
    block: dict[str, Any] = {"id": "s1", "carrier": "UPS", "tracking_number": "1Z999"}
    if tracking_url:
        block["tracking_url"] = tracking_url
    return block


def return_(**urls: str) -> dict[str, Any]:
    return {"id": "RMA-1", "refund_amount": "10.00", **urls}


@pytest.mark.parametrize("event_type", [EventType.ORDER_PLACED, EventType.ORDER_CANCELLED], ids=lambda t: t.value)
def test_order_events_link_to_the_order_status_page(event_type: EventType) -> None:
    # Given an order event with a status page, When its key link is read, Then it is the status page
    assert key_link(make(event_type, {"cancellation": {}})) == STATUS


def test_backordered_links_to_the_order_status_page() -> None:
    # Given a backorder, When its key link is read, Then it is the status page
    event = make(EventType.ORDER_BACKORDERED, {"backorder": {"items": [{"sku": "A"}]}})
    assert key_link(event) == STATUS


@pytest.mark.parametrize(
    ("event_type", "extra"),
    [
        (EventType.SHIPMENT_CREATED, {}),
        (EventType.SHIPMENT_IN_TRANSIT, {}),
        (EventType.SHIPMENT_OUT_FOR_DELIVERY, {}),
        (EventType.SHIPMENT_DELAYED, {"delay": {"reason": "weather"}}),
        (EventType.SHIPMENT_DELIVERY_ATTEMPTED, {}),
        (EventType.SHIPMENT_EXCEPTION, {"exception": {"kind": "lost"}}),
    ],
    ids=lambda v: v.value if isinstance(v, EventType) else "",
)
def test_shipment_events_link_to_tracking(event_type: EventType, extra: dict[str, Any]) -> None:
    # Given a shipment event with a tracking page, When its key link is read, Then it is tracking
    assert key_link(make(event_type, {"shipment": shipment(), **extra})) == TRACKING


def test_shipment_without_tracking_page_falls_back_to_the_order_status_page() -> None:
    # Given a shipment without a tracking URL, When its key link is read, Then it is the status page
    assert key_link(make(EventType.SHIPMENT_CREATED, {"shipment": shipment(None)})) == STATUS


def test_delivered_links_to_the_photo_first() -> None:
    # Given a delivery with a photo and a tracking page, When its key link is read, Then it is the photo
    proof = {"delivered_at": "2026-12-01T19:30:00Z", "photo_url": PHOTO}
    assert key_link(make(EventType.SHIPMENT_DELIVERED, {"shipment": shipment(), "proof": proof})) == PHOTO


def test_delivered_without_photo_links_to_tracking() -> None:
    # Given a delivery without a photo, When its key link is read, Then it is tracking
    proof = {"delivered_at": "2026-12-01T19:30:00Z"}
    assert key_link(make(EventType.SHIPMENT_DELIVERED, {"shipment": shipment(), "proof": proof})) == TRACKING


@pytest.mark.parametrize(
    "event_type",
    [EventType.RETURN_REQUESTED, EventType.RETURN_RECEIVED, EventType.RETURN_REFUNDED],
    ids=lambda t: t.value,
)
def test_return_events_link_to_the_returns_portal(event_type: EventType) -> None:
    # Given a return with a portal and a label, When its key link is read, Then it is the portal
    event = make(event_type, {"return": return_(portal_url=PORTAL, label_url=LABEL)})
    assert key_link(event) == PORTAL


def test_approved_return_links_to_the_label_then_the_portal() -> None:
    # Given approved returns with and without a label
    with_label = make(EventType.RETURN_APPROVED, {"return": return_(portal_url=PORTAL, label_url=LABEL)})
    without_label = make(EventType.RETURN_APPROVED, {"return": return_(portal_url=PORTAL)})

    # When their key links are read, Then the label wins, and the portal stands in for it
    assert key_link(with_label) == LABEL
    assert key_link(without_label) == PORTAL


def test_no_link_at_all_is_none() -> None:
    # Given a return without portal, label or order status page, When its key link is read, Then None
    assert key_link(make(EventType.RETURN_RECEIVED, {"return": return_()}, status_url=None)) is None


@pytest.mark.parametrize(
    ("latitude", "longitude", "query"),
    [
        (40.7128, -74.006, "40.7128,-74.006"),
        (-33.8688197, 151.2092961, "-33.86882,151.209296"),
        (0.0, -0.0, "0,0"),
        (1e-7, -1e-9, "0,0"),
        (90, -180, "90,-180"),
    ],
)
def test_map_link_is_a_google_maps_search_for_the_point(latitude: float, longitude: float, query: str) -> None:
    # Given a point, When its map link is built, Then it is the documented api=1 search URL, no exponents
    assert map_link(latitude, longitude) == f"https://www.google.com/maps/search/?api=1&query={query}"


@pytest.mark.parametrize(("latitude", "longitude"), [(91, 0), (0, 180.5), (float("nan"), 0), (0, float("inf"))])
def test_map_link_refuses_what_is_not_a_point_on_earth(latitude: float, longitude: float) -> None:
    # Given an impossible point, When its map link is built, Then it is refused
    with pytest.raises(ValueError, match=r"latitude|point"):
        map_link(latitude, longitude)
