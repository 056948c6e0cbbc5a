"""An order's evidence pack: what an operator, or a carrier claim, needs about each delivery, in one document.

For each shipment: the proof (photo, time, the place the carrier wrote, the recipient, the GPS point and its map
link), every scan the customer was told of with the estimate it carried, and every estimate given; then the
notifications sent about the order and their delivery states, and the customer's answers on the order page. Built
from the same recorded items as the timeline (one Query), through the page's own view of them, so the pack says
exactly what the customer saw. `herald evidence` prints it; the timeline function serves it as JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from herald.usecases.order_page import build_view
from herald.usecases.ports import OrderPageRecord
from herald.usecases.timeline import TimelineReader, entry

# What each notification entry of the pack keeps: enough to show what was sent, how, and what became of it.
_NOTIFICATION_FIELDS = (
    "event_id",
    "event_type",
    "channel",
    "role",
    "status",
    "delivery_status",
    "provider",
    "provider_message_id",
    "recipient",
    "sent_at",
    "error_code",
    "at",
)
_ANSWER_FIELDS = ("kind", "shipment_id", "answer", "reason", "note", "received_at")
_RETURN_FIELDS = ("kind", "return_id", "items", "reason", "resolution", "note", "received_at")


def evidence_pack(
    source: str, order_id: str, items: list[dict[str, Any]], *, now: datetime | None = None
) -> dict[str, Any]:
    view = build_view("", OrderPageRecord(source, order_id, {}), items, None)
    entries = [entry(item) for item in items]
    shipments = []
    for shipment in view.shipments:
        proof = dict(shipment.proof or {})
        if proof.get("latitude") is not None and proof.get("longitude") is not None:
            from herald.rendering.links import map_link

            proof["map_url"] = map_link(float(proof["latitude"]), float(proof["longitude"]))
        shipments.append(
            {
                "id": shipment.id,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "tracking_url": shipment.tracking_url,
                "status": shipment.status,
                "proof": proof or None,
                "scans": [{"type": s.event_type, "time": s.time, "estimate": s.estimate} for s in shipment.steps],
                "estimates": shipment.estimates,
            }
        )
    notifications = [_pick(e, _NOTIFICATION_FIELDS) for e in entries if e["kind"] == "notification"]
    return {
        "source": source,
        "order_id": order_id,
        "order_number": next((e["order_number"] for e in entries if e.get("order_number")), None),
        "generated_at": (now or datetime.now(UTC)).isoformat(),
        "shipments": shipments,
        "notifications": sorted(notifications, key=lambda n: str(n.get("at", ""))),
        "answers": [
            _pick(e, _ANSWER_FIELDS) for e in entries if e["kind"] in ("delivery_confirmed", "delivery_disputed")
        ],
        # The returns the customer started on the page (a claim for a damaged delivery may rest on one).
        "returns_started": [_started(e) for e in entries if e["kind"] == "return_started"],
    }


def _started(e: dict[str, Any]) -> dict[str, Any]:
    picked = _pick(e, _RETURN_FIELDS)
    if isinstance(picked.get("items"), str):
        picked["items"] = json.loads(picked["items"])
    return picked


def order_evidence(ledger: TimelineReader, source: str, order_id: str) -> dict[str, Any] | None:
    """The pack of one order (one Query through the ledger), or None when nothing is recorded for it."""
    items = ledger.order_items(source, order_id)
    return evidence_pack(source, order_id, items) if items else None


def _pick(values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: values[name] for name in fields if values.get(name) is not None}
