"""`herald demo`'s order-page links: read from the messages the customer got and checked against the ledger;
printed in the summary, and the `--stay` hint says what to do with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from herald.domain.notification import notification_id
from herald_tools.local.demo import DemoRun, verify
from herald_tools.local.page_links import links_in, order_links
from herald_tools.local.standins.outbox import safe_name
from herald_tools.local.summary import page_lines, stay_hint

BASE = "http://127.0.0.1:41234"
SOURCE = "storefront/acme-outdoor"
TOKEN = "AbCdEfGhIjKlMnOpQrSt_-"  # 22 characters, as page_token makes them
OTHER = "ZyXwVuTsRqPoNmLkJiHg12"


def _page(order_id: str, token: str, locale: str = "en-US") -> dict[str, Any]:
    return {"token": token, "source": SOURCE, "order_id": order_id, "order_number": "#1001", "locale": locale}


def _outbox(tmp_path: Path, *, email_link: str, sms_link: str) -> tuple[Path, list[dict[str, Any]]]:
    """An outbox holding one email and one SMS of order ord_1001's delivery, carrying the given links."""
    (tmp_path / "email").mkdir()
    name = safe_name(notification_id(SOURCE, "evt_d", "email"))
    (tmp_path / "email" / f"{name}.html").write_text(f'<a href="{email_link}">View your order</a>', encoding="utf-8")
    sms = {"to": "+15005550006", "from": "+15005550006", "body": f"Acme: delivered. Photo: {sms_link}", "sid": "SM1"}
    (tmp_path / "sms.jsonl").write_text(json.dumps(sms) + "\n", encoding="utf-8")
    sent = [
        {"source": SOURCE, "event_id": "evt_d", "channel": "email", "provider_message_id": "m1"},
        {"source": SOURCE, "event_id": "evt_d", "channel": "sms", "provider_message_id": "SM1"},
    ]
    return tmp_path, sent


def _links(outbox: Path, sent: list[dict[str, Any]]) -> list[Any]:
    """ord_1001's link, with the ledger's PAGE# item naming TOKEN."""
    return order_links([(SOURCE, "ord_1001")], [_page("ord_1001", TOKEN)], {(SOURCE, "ord_1001"): sent}, BASE, outbox)


def test_a_page_link_is_found_only_on_the_local_api_and_whole() -> None:
    # Given a text with the order's link, a link on another host and a token cut short
    text = f"{BASE}/o/{TOKEN}. https://evil.example/o/{OTHER} {BASE}/o/short"
    # When the links on the local API are read / Then only the whole one on the local API is found
    assert links_in(text, BASE + "/") == {f"{BASE}/o/{TOKEN}"}


def test_the_report_gives_the_link_the_messages_carry_when_the_ledger_agrees(tmp_path: Path) -> None:
    # Given the ledger's PAGE# item for ord_1001 and its email and SMS carrying the same link
    link = f"{BASE}/o/{TOKEN}"
    outbox, sent = _outbox(tmp_path, email_link=link, sms_link=link)
    # When the order's link is read
    (found,) = _links(outbox, sent)
    # Then the report carries it under links.order_page, says where it was read, and sees no problem
    report = found.as_report()
    assert report["links"] == {"order_page": link}
    assert (report["link_in"], report["locale"], report["link_problem"]) == (["email", "sms"], "en-US", None)


def test_a_message_link_the_ledger_does_not_record_fails_the_demo(tmp_path: Path) -> None:
    # Given messages carrying a link whose token is not the one the ledger recorded for the order
    outbox, sent = _outbox(tmp_path, email_link=f"{BASE}/o/{OTHER}", sms_link=f"{BASE}/o/{OTHER}")
    (found,) = _links(outbox, sent)
    # When the report is verified
    report = {"events": [], "notifications": [], "orders": [found.as_report()]}
    problems = verify(report, tmp_path / "no-outbox")
    # Then the disagreement is a problem that names both links
    carried, recorded = f"{BASE}/o/{OTHER}", f"{BASE}/o/{TOKEN}"
    assert problems == [
        f"order ord_1001 of {SOURCE}: its messages carry page link {carried}, the ledger records {recorded}"
    ]


def test_two_different_links_in_one_orders_messages_are_a_problem(tmp_path: Path) -> None:
    # Given an email and an SMS of one order that carry different links
    outbox, sent = _outbox(tmp_path, email_link=f"{BASE}/o/{TOKEN}", sms_link=f"{BASE}/o/{OTHER}")
    # When the order's link is read
    (found,) = _links(outbox, sent)
    # Then it is reported as a problem, and the report falls back to the ledger's link
    assert found.problem() == f"order ord_1001 of {SOURCE}: its messages carry 2 different page links"
    assert found.as_report()["links"]["order_page"] == f"{BASE}/o/{TOKEN}"


def _run(tmp_path: Path) -> DemoRun:
    orders = [
        {"source": SOURCE, "order_id": "ord_1001", "order_number": "#1001", "locale": "en-US"},
        {"source": SOURCE, "order_id": "ord_1012", "order_number": "#1012", "locale": "es-US"},
        {"source": SOURCE, "order_id": "ord_1006", "order_number": "#1006", "locale": "en-US"},
    ]
    for n, order in enumerate(orders):
        order["links"] = {"order_page": f"{BASE}/o/{TOKEN[:-1]}{n}"}
    delivered = {"source": SOURCE, "order_id": "ord_1012", "type": "shipment.delivered", "status": "sent"}
    placed = {"source": SOURCE, "order_id": "ord_1001", "type": "order.placed", "status": "sent"}
    report = {"events": [], "notifications": [placed, delivered], "orders": orders}
    received = tmp_path / "outbox" / "storefront-webhooks" / "received.jsonl"
    return DemoRun(report, [], 1.0, [], webhooks_received=received)


def test_the_summary_lists_each_orders_page_with_its_locale(tmp_path: Path) -> None:
    # Given a run's orders / When their page lines are made / Then one a line: number, id, locale, link
    assert page_lines(_run(tmp_path).report) == [
        f"  #1001 ord_1001 (en-US): {BASE}/o/{TOKEN[:-1]}0",
        f"  #1012 ord_1012 (es-US): {BASE}/o/{TOKEN[:-1]}1",
        f"  #1006 ord_1006 (en-US): {BASE}/o/{TOKEN[:-1]}2",
    ]


def test_the_stay_hint_says_to_open_the_delivered_orders_page_answer_and_read_the_answer(tmp_path: Path) -> None:
    # Given a run whose one delivered order is ord_1012, run from tmp_path
    # When the --stay hint is made
    hint = stay_hint(_run(tmp_path), here=tmp_path)
    # Then it gives that order's link, the answer to give, the two commands, and where the webhooks are
    text = "\n".join(hint)
    assert f"Open order #1012's page (its delivery photo and map) in a browser:\n     {BASE}/o/{TOKEN[:-1]}1" in text
    assert '"No, I did not receive it"' in text
    assert '"Start a return"' in text
    assert ".venv/bin/herald timeline ord_1012\n     .venv/bin/herald evidence ord_1012" in text
    assert "\n     outbox/storefront-webhooks/received.jsonl" in text
    assert "Also try: .venv/bin/herald timeline ord_1006 (fallback)." in text
    # And it reads whole at 80 columns
    assert max(len(line) for line in hint) <= 80
