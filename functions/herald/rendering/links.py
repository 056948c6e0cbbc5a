"""The one link each notification is built around, and map links for proof of delivery.

Every URL here comes from a contract field that is validated as https (or is built from numbers), so
templates may put them in `href`/`src` attributes; anything else a storefront typed is only ever text.
"""

from __future__ import annotations

import math

from herald.contract.models import DeliveredData, Envelope, OrderData, ReturnData, ShipmentData, event_data
from herald.domain.policy import KeyLink, policy_for

GOOGLE_MAPS_SEARCH = "https://www.google.com/maps/search/?api=1&query="


def key_link(event: Envelope) -> str | None:
    """The link that matters for this event (its policy's `key_link`), falling back to the order status page.

    DELIVERY_PHOTO: the delivery photo, else tracking; TRACKING: tracking; RETURN_LABEL: the return label, else
    the returns portal; RETURNS_PORTAL: the returns portal; ORDER_STATUS: the order status page.
    """
    data = event_data(event)
    candidates = [*_candidates(policy_for(event.type).key_link, data), data.order.status_url]
    return next((str(url) for url in candidates if url is not None), None)


def _candidates(link: KeyLink, data: OrderData) -> list[object | None]:
    """The links to try first, best first. The data model of each type carries what its key link needs."""
    if link is KeyLink.DELIVERY_PHOTO and isinstance(data, DeliveredData):
        return [data.proof.photo_url, data.shipment.tracking_url]
    if link in (KeyLink.TRACKING, KeyLink.DELIVERY_PHOTO) and isinstance(data, ShipmentData):
        return [data.shipment.tracking_url]
    if link is KeyLink.RETURN_LABEL and isinstance(data, ReturnData):
        return [data.return_.label_url, data.return_.portal_url]
    if link is KeyLink.RETURNS_PORTAL and isinstance(data, ReturnData):
        return [data.return_.portal_url]
    return []


def map_link(latitude: float, longitude: float) -> str:
    """A Google Maps link to a point (the documented `api=1` search URL, no key needed)."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise ValueError("latitude and longitude must be finite numbers")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError(f"({latitude}, {longitude}) is not a point on Earth")
    return f"{GOOGLE_MAPS_SEARCH}{_coordinate(latitude)},{_coordinate(longitude)}"


def _coordinate(value: float) -> str:
    # Six decimals is about 10 cm: more precision than any GPS fix, and never exponent notation.
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
