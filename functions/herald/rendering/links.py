"""The one link each notification is built around, and map links for proof of delivery.

Every URL here comes from a contract field that is validated as https (or is built from numbers), so
templates may put them in `href`/`src` attributes; anything else a storefront typed is only ever text.
"""

from __future__ import annotations

import math

from herald.contract.models import (
    DeliveredData,
    Envelope,
    EventType,
    ReturnData,
    ShipmentData,
    event_data,
)

GOOGLE_MAPS_SEARCH = "https://www.google.com/maps/search/?api=1&query="


def key_link(event: Envelope) -> str | None:
    """The link that matters for this event's type, falling back to the order status page.

    shipment.delivered: the delivery photo, else tracking; other shipment.*: tracking;
    return.approved: the return label, else the returns portal; other return.*: the returns portal;
    order.*: the order status page.
    """
    data = event_data(event)
    candidates: list[object | None] = []
    if isinstance(data, DeliveredData):
        candidates += [data.proof.photo_url, data.shipment.tracking_url]
    elif isinstance(data, ShipmentData):
        candidates.append(data.shipment.tracking_url)
    elif isinstance(data, ReturnData):
        if event.type == EventType.RETURN_APPROVED:
            candidates.append(data.return_.label_url)
        candidates.append(data.return_.portal_url)
    candidates.append(data.order.status_url)
    return next((str(url) for url in candidates if url is not None), None)


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
