"""Each order's page link, for `herald demo`'s report (`links.order_page`) and summary.

Two places say what an order's link is, and the demo reads both: the messages the customer got (the stand-ins'
outbox: the email's "View your order" button, the SMS's short path) and the ledger (dispatch's `PAGE#<token>`
items, usecases/order_page_links.py). The outbox is the customer's truth, so the report gives its link; the ledger
is what the page function will open, so a link the messages carry that the ledger does not know (or an order
whose messages carry two links) is a problem the demo reports, not a detail.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herald.domain.order_page import PAGE_PATH, TOKEN_LENGTH, page_url


@dataclass
class OrderLink:
    """One order's page link, and where it was read."""

    source: str
    order_id: str
    order_number: str | None = None
    locale: str | None = None
    ledger: str | None = None  # page_url of the PAGE# item recorded for the order
    in_messages: dict[str, set[str]] = field(default_factory=dict)  # channel -> links its sent messages carry

    def as_report(self) -> dict[str, Any]:
        carried = sorted({link for links in self.in_messages.values() for link in links})
        return {
            "source": self.source,
            "order_id": self.order_id,
            "order_number": self.order_number,
            "locale": self.locale,
            # The one the customer was given when a message of the outbox carries it, else the ledger's.
            "links": {"order_page": carried[0] if len(carried) == 1 else self.ledger},
            "link_in": sorted(channel for channel, links in self.in_messages.items() if links),
            "link_problem": self.problem(),
        }

    def problem(self) -> str | None:
        """What is wrong with the order's link, or None: its messages and the ledger agree."""
        carried = {link for links in self.in_messages.values() for link in links}
        what = f"order {self.order_id} of {self.source}"
        if len(carried) > 1:
            return f"{what}: its messages carry {len(carried)} different page links"
        if carried and self.ledger not in carried:
            return f"{what}: its messages carry page link {next(iter(carried))}, the ledger records {self.ledger}"
        return None


def links_in(text: str, base_url: str) -> set[str]:
    """The order-page links on `base_url` that `text` (an email's HTML, an SMS's body) carries."""
    pattern = re.escape(base_url.rstrip("/") + PAGE_PATH) + rf"/[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}(?![A-Za-z0-9_-])"
    return set(re.findall(pattern, text))


def ledger_pages(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every PAGE# item of the table, as plain values."""
    from herald.domain.keys import split_key
    from herald_tools.local.conditions import scan_items

    pages = []
    for item in scan_items(dynamodb, table, {"kind": "order_page"}):
        blocks = json.loads(item["blocks"]["S"])
        pages.append(
            {
                "token": split_key(item["pk"]["S"])[-1],
                "source": item["source"]["S"],
                "order_id": item["order_id"]["S"],
                "order_number": blocks.get("order", {}).get("number"),
                "locale": blocks.get("customer", {}).get("locale"),
            }
        )
    return pages


def order_links(
    orders: list[tuple[str, str]],
    pages: list[dict[str, Any]],
    sent: dict[tuple[str, str], list[dict[str, Any]]],
    base_url: str,
    outbox_dir: Path | None,
) -> list[OrderLink]:
    """Each order's link from the ledger's `pages` and from the outbox's copies of its `sent` notifications
    (those the stand-ins took: an email sent by SES or an SMS by SNS is not in the outbox)."""
    by_order = {(p["source"], p["order_id"]): p for p in pages}
    found = []
    for source, order_id in orders:
        page = by_order.get((source, order_id))
        link = OrderLink(source, order_id)
        if page is not None:
            link.order_number, link.locale = page["order_number"], page["locale"]
            link.ledger = page_url(base_url, page["token"])
        if outbox_dir is not None:
            for notification in sent.get((source, order_id), []):
                text = message_text(outbox_dir, notification)
                if text is not None:
                    link.in_messages.setdefault(notification["channel"], set()).update(links_in(text, base_url))
        if link.ledger or link.in_messages:
            found.append(link)
    return found


def message_text(outbox_dir: Path, notification: dict[str, Any]) -> str | None:
    """The outbox's copy of a sent notification: its email's HTML, or its SMS's body (found by the provider's id)."""
    from herald.domain.notification import notification_id
    from herald_tools.local.standins.outbox import safe_name

    if notification["channel"] == "email":
        name = safe_name(notification_id(notification["source"], notification["event_id"], "email"))
        path = outbox_dir / "email" / f"{name}.html"
        return path.read_text(encoding="utf-8") if path.exists() else None
    sms_file = outbox_dir / "sms.jsonl"
    if notification["channel"] != "sms" or not sms_file.exists():
        return None
    for line in sms_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        if record.get("sid") == notification.get("provider_message_id"):
            return str(record["body"])
    return None
