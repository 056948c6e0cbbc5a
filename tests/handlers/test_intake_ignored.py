"""Reports the intake tells no customer of are recorded with the reason, where an operator looks: on the order's
timeline when the join knows the order (`herald timeline`), else with the source's (`herald ignored`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.storefronts import SAMPLE_SOURCE

from . import test_intake, test_intake_shopify
from .conftest import Env
from .ops_support import deploy_outputs_stack, herald, plain_text
from .test_intake import EASYPOST_BODY, EASYPOST_PATH, VECTOR, _post, _shipment_with_the_fixtures_tracking_number

intake_env = test_intake.intake_env  # the intake's environment, as its own handler tests build it
shopify_env = test_intake_shopify.shopify_env


@pytest.fixture
def ops(intake_env: Env) -> Env:
    deploy_outputs_stack(intake_env)  # `herald --stack` reads the table from its outputs
    return intake_env


def _easypost(status: str) -> tuple[bytes, dict[str, str]]:
    """EasyPost's published tracker.updated with another status, signed as EasyPost signs (its vector's secret)."""
    event = json.loads(EASYPOST_BODY)
    event["result"]["status"] = status
    body = json.dumps(event).encode()
    key = unicodedata.normalize("NFKD", VECTOR["webhook_secret"]).encode()
    return body, {"X-Hmac-Signature": "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()}


def _ignored_items(env: Env) -> list[dict[str, Any]]:
    return [i for i in env.items() if i["pk"]["S"].startswith("IGNORED#")]


def test_an_ignored_scan_of_a_known_shipment_is_on_its_orders_timeline_with_the_reason(ops: Env) -> None:
    """Given Herald knows the shipment EasyPost's published event tracks
    When EasyPost reports the parcel as pre_transit (a label, nothing the customer needs), twice (a retry)
    Then nothing is published, and the order's timeline has one entry: EasyPost, the status, the reason;
    And the record expires as the order's other records do."""
    shipment = _shipment_with_the_fixtures_tracking_number(ops)
    body, headers = _easypost("pre_transit")
    for _ in range(2):
        answer = json.loads(_post(EASYPOST_PATH, body, headers)["body"])
        assert answer["published"] == []
        assert answer["ignored"] != []
    assert ops.depth("shipment-events") == 0

    order_id = shipment["data"]["order"]["id"]
    result = herald("timeline", order_id, "--source", SAMPLE_SOURCE, "--json")

    assert result.exit_code == 0, result.output
    timeline = json.loads(result.stdout)
    (entry,) = [e for e in timeline["entries"] if e["kind"] == "ignored"]
    assert timeline["ignored"] == 1
    status = "pre_transit (arrived_at_facility)"  # EasyPost's status and its status_detail, as sent
    assert (entry["platform"], entry["status"], entry["report_id"]) == ("easypost", status, "evt_1")
    assert entry["reason"] == "label created: the carrier does not have the parcel yet"
    assert entry["tracking_number"] == "1"
    assert entry["summary"].startswith(f"easypost report {status} ignored (label created")
    (item,) = _ignored_items(ops)
    days = (int(item["expires_at"]["N"]) - datetime.now(UTC).timestamp()) / 86_400
    assert 89 < days <= 90
    # And the operator's table says it in words
    table = plain_text(herald("timeline", order_id, "--source", SAMPLE_SOURCE).stdout)
    assert "easypost report pre_transit (arrived_at_facility) ignored reason: label created" in table
    assert "1 ignored reports" in table


def test_an_unmapped_status_of_an_unknown_parcel_is_listed_by_herald_ignored_with_its_text_masked(ops: Env) -> None:
    """Given Herald knows no shipment with the fixture's tracking number
    When EasyPost reports a status Herald does not map, whose text holds an email address
    Then `herald ignored SOURCE` lists it (platform, status, reason), the address masked where stored and shown,
    and no order's timeline holds it."""
    body, headers = _easypost("held_for_jane.doe@example.com")
    assert _post(EASYPOST_PATH, body, headers)["statusCode"] == 200

    result = herald("ignored", SAMPLE_SOURCE, "--json")

    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["platform"] == "easypost"
    assert "unmapped status" in report["reason"]
    assert "***@example.com" in report["reason"]
    assert "***@example.com" in report["status"]
    assert "jane.doe" not in json.dumps([*_ignored_items(ops), report])
    assert "order_id" not in report
    listed = plain_text(herald("ignored", SAMPLE_SOURCE).stdout)
    assert "easypost" in listed
    assert "1 ignored reports" in listed


def test_a_shopify_topic_herald_does_not_tell_is_listed_once_per_webhook_with_its_topic(shopify_env: Env) -> None:
    """Given the storefront's Shopify shop
    When Shopify posts orders/fulfilled (published; Herald tells fulfillments by their own topics), then retries it
    Then one record per webhook id: the topic as its status and the reason."""
    deploy_outputs_stack(shopify_env)
    body = test_intake_shopify._fixture("shopify_orders_fulfilled.json")
    for _ in range(2):
        response = test_intake_shopify._post("orders/fulfilled", body, signature=test_intake_shopify._sign(body))
        assert response["statusCode"] == 200
    (report,) = json.loads(herald("ignored", SAMPLE_SOURCE, "--json").stdout)
    assert (report["platform"], report["status"], report["report_id"]) == ("shopify", "orders/fulfilled", "wh-1")
    assert report["reason"] == "Shopify topic 'orders/fulfilled' is not one Herald tells customers about"
