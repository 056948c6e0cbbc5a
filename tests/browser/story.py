"""The order both browser modules act out: placed, in transit (its estimate moved once), delayed, delivered, through
the local runtime; and the page link its email carries, as the customer finds it."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from herald_tools.local.demo import Providers
from herald_tools.local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def publish(
    runtime: LocalRuntime, event_type: str, order: str, hours: float, locale: str | None = None, **shipment: Any
) -> None:
    """The sample of `event_type` for `order`, `hours` into a story that began 30 hours ago, dispatched."""
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{event_type}.json").read_text())
    event.update(id=f"evt_{order}_{event_type}", time=(datetime.now(UTC) - timedelta(hours=30 - hours)).isoformat())
    event["data"]["order"].update(id=order, number=f"#{order.rsplit('_', 1)[-1]}")
    if locale is not None:
        event["data"]["customer"]["locale"] = locale
    if "shipment" in event["data"]:
        event["data"]["shipment"].update(id=f"shp_{order}", **shipment)
    queue = "ShipmentEventsQueue" if event_type.startswith("shipment.") else "OrderEventsQueue"
    runtime.aws.client("sqs").send_message(QueueUrl=runtime.stack.queues[queue], MessageBody=json.dumps(event))
    assert runtime.wait_until_settled(quiet_seconds=1.0, timeout=120)


def delivered_order(deployment: tuple[LocalRuntime, Providers], order: str, locale: str | None = None) -> str:
    """An order placed, in transit (its estimate moved once), delivered; the page link its last email carries."""
    runtime, setup = deployment
    publish(runtime, "order.placed", order, 0, locale)
    publish(runtime, "shipment.in_transit", order, 2, locale, estimated_delivery="2026-11-05")
    publish(runtime, "shipment.delayed", order, 4, locale, estimated_delivery="2026-11-06")
    publish(runtime, "shipment.delivered", order, 6, locale)
    return page_link(setup, order)


def page_link(setup: Providers, order: str) -> str:
    number = f"#{order.rsplit('_', 1)[-1]}"
    for path in setup.sendgrid.outbox.emails():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if number not in str(message["Subject"]):
            continue
        body = message.get_body(preferencelist=("html",))
        assert body is not None
        match = re.search(r'href="(http://[^"]+/o/[A-Za-z0-9_-]{22})"', body.get_content())
        if match:
            return match.group(1)
    raise AssertionError(f"no email of order {order} carries a page link")
