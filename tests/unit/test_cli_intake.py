"""`herald intake PLATFORM FILE`: what Herald makes of a platform's payload, without AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fixtures import FIXTURES_DIR
from typer.testing import CliRunner

from herald_tools.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, list[dict], str]:
    result = runner.invoke(app, ["intake", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


@pytest.mark.parametrize(
    ("platform", "fixture", "expected"),
    [
        ("easypost", "easypost_tracker_updated_event.json", ("shipment.in_transit", "1", "FedEx")),
        (
            "aftership",
            "aftership_tracking_update_intransit_trimmed.json",
            ("shipment.in_transit", "0000000000000000", "usps"),
        ),
        ("shippo", "shippo_track_updated_delivered.json", ("shipment.delivered", "9205590164917312751089", "usps")),
        ("onfleet", "onfleet_task_completed_third_party_example.json", ("shipment.delivered", "8f983639", "Onfleet")),
    ],
)
def test_a_published_carrier_payload_prints_the_shipment_update_it_becomes(
    platform: str, fixture: str, expected: tuple[str, str, str]
) -> None:
    # Given a platform's published payload
    # When a storefront engineer runs herald intake on it
    code, lines, _ = _run(platform, str(FIXTURES_DIR / fixture))
    # Then it prints one shipment update: its Herald type, tracking number and carrier
    assert code == 0
    (line,) = lines
    update = line["shipment_update"]
    assert (update["event_type"], update["tracking_number"], update["carrier"]) == expected


def test_the_onfleet_delivery_prints_its_proof() -> None:
    code, lines, _ = _run("onfleet", str(FIXTURES_DIR / "onfleet_task_completed_third_party_example.json"))
    assert code == 0
    proof = lines[0]["shipment_update"]["proof"]
    assert proof["photo_urls"]
    assert all(url.startswith("https://") for url in proof["photo_urls"])


def test_a_payload_that_is_not_json_is_refused_with_the_reason(tmp_path: Path) -> None:
    # Given a body that is not JSON
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    # When it is run through the intake
    code, lines, stderr = _run("easypost", str(broken))
    # Then nothing is printed as an update, the reason is said, and the exit code is 1
    assert code == 1
    assert lines == []
    assert "refused: body is not JSON" in stderr


def test_a_carrier_payload_missing_its_tracker_is_refused(tmp_path: Path) -> None:
    # Given EasyPost's published event without its tracker
    event = json.loads((FIXTURES_DIR / "easypost_tracker_updated_event.json").read_text())
    del event["result"]
    path = tmp_path / "no-result.json"
    path.write_text(json.dumps(event))
    code, _, stderr = _run("easypost", str(path))
    assert code == 1
    assert "result" in stderr


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = _run("easypost", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot read" in stderr


@pytest.mark.parametrize(
    ("topic", "fixture", "kind", "event_type"),
    [
        ("orders/create", "shopify_orders_create.json", "event", "order.placed"),
        ("orders/cancelled", "shopify_orders_cancelled.json", "event", "order.cancelled"),
        ("fulfillments/create", "shopify_fulfillments_create.json", "order_update", "shipment.created"),
        (
            "fulfillment_events/create",
            "shopify_fulfillment_events_create.json",
            "shipment_update",
            "shipment.in_transit",
        ),
        ("returns/request", "shopify_returns_request.json", "order_update", "return.requested"),
        ("returns/approve", "shopify_returns_approve.json", "order_update", "return.approved"),
        ("returns/decline", "shopify_returns_decline.json", "order_update", "return.declined"),
        ("returns/close", "shopify_returns_close.json", "order_update", "return.closed"),
        ("refunds/create", "shopify_refunds_create.json", "order_update", "return.refunded"),
    ],
)
def test_every_published_shopify_payload_prints_what_it_becomes(
    topic: str, fixture: str, kind: str, event_type: str
) -> None:
    # Given a published Shopify webhook body and its topic
    # When it is run through herald intake
    code, lines, _ = _run("shopify", str(FIXTURES_DIR / fixture), "--topic", topic)
    # Then it prints the Herald event (or the update the intake joins to its order) of the expected type
    assert code == 0
    (line,) = lines
    printed = line if kind == "event" else line[kind]
    assert printed["type" if kind == "event" else "event_type"] == event_type


def test_the_sms_consent_rule_decides_the_orders_consent(tmp_path: Path) -> None:
    # Given the published order with a checkout phone that parses (the sample's own do not: "555-555-SHIP")
    order = json.loads((FIXTURES_DIR / "shopify_orders_create.json").read_text())
    order["phone"] = "+442079460958"
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    fixture = str(path)
    # When it is run under the default rule and under checkout_phone
    _, never, _ = _run("shopify", fixture, "--topic", "orders/create")
    _, checkout, _ = _run("shopify", fixture, "--topic", "orders/create", "--sms-consent", "checkout_phone")
    # Then only checkout_phone takes the phone as consent to order texts
    assert never[0]["data"]["customer"]["sms_consent"] is False
    assert checkout[0]["data"]["customer"]["sms_consent"] is True
    assert checkout[0]["data"]["customer"]["phone"] == "+442079460958"


def test_a_shopify_https_payload_needs_its_topic() -> None:
    code, _, stderr = _run("shopify", str(FIXTURES_DIR / "shopify_orders_create.json"))
    assert code == 2
    assert "--topic" in stderr


def test_an_eventbridge_wrapped_shopify_event_needs_no_topic(tmp_path: Path) -> None:
    # Given the published order inside the envelope Shopify's partner event source delivers
    order = json.loads((FIXTURES_DIR / "shopify_orders_create.json").read_text())
    envelope = {
        "version": "0",
        "id": "3f1ad2c0-0000-0000-0000-000000000002",
        "detail-type": "shopifyWebhook",
        "source": "aws.partner/shopify.com/1830279/herald",
        "account": "123456789012",
        "time": "2026-12-02T04:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"payload": order, "metadata": {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w"}},
    }
    path = tmp_path / "eventbridge.json"
    path.write_text(json.dumps(envelope))
    # When it is run without --topic
    code, lines, _ = _run("shopify", str(path))
    # Then it is recognised and translated as the HTTPS body would be
    assert code == 0
    assert lines[0]["type"] == "order.placed"
