"""Shopify's webhooks through the intake, over moto: over HTTPS (HMAC) and through EventBridge (the queue the
partner source's rule feeds). An order, its fulfillment and a carrier scan reach the order's customer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import boto3
import pytest

from herald.handlers import dispatch, intake, intake_events
from tests.fixtures import FIXTURES_DIR
from tests.storefronts import REGISTRY_PATH, SAMPLE_SOURCE, seed_registry, storefront

from .conftest import REGION, Env, FakeContext, _create_queue
from .signing import http_event, snapshot

SHOP = "acme-outdoor.myshopify.com"
SECRET = "shpss_test_client_secret"
PATH = "/intake/shopify"


def _fixture(name: str) -> bytes:
    return (FIXTURES_DIR / name).read_bytes()


def _sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def shopify_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    # Given the sample storefront's entry names its shop and the Shopify app's secret, and texts no one
    monkeypatch.setenv("HERALD_ORDER_EVENTS_QUEUE_URL", env.queues["order-events"])
    monkeypatch.setenv("HERALD_SHIPMENT_EVENTS_QUEUE_URL", env.queues["shipment-events"])
    entry = storefront(
        SAMPLE_SOURCE,
        intake={"slug": "acme-outdoor", "shopify_shop_domain": SHOP, "shopify_secret_id": "herald/acme/shopify"},
    )
    seed_registry(boto3.client("ssm", region_name=REGION), REGISTRY_PATH, entry)
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name="herald/acme/shopify", SecretString=SECRET)
    env.queues["shopify-events"] = _create_queue(env.sqs, "shopify-events")
    for root in (intake.root, intake_events.root, dispatch.root):
        root.reset()
    return env


def _post(topic: str, body: bytes, *, shop: str = SHOP, signature: str | None = None, webhook: str = "wh-1") -> Any:
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop, "X-Shopify-Webhook-Id": webhook}
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    return intake.handler(http_event(PATH, body, headers), FakeContext())


def _notified(env: Env, event_id: str) -> dict[str, str]:
    (email,) = [n for n in env.notifications().values() if n.get("event_id") == event_id and n["channel"] == "email"]
    return email


def test_an_order_its_fulfillment_and_a_scan_reach_the_orders_customer(shopify_env: Env) -> None:
    env = shopify_env
    order = _fixture("shopify_orders_create.json")
    # When Shopify posts the published orders/create, signed with the app's secret
    response = _post("orders/create", order, signature=_sign(order))
    # Then an order.placed is published and dispatch records its confirmation for the order
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["published"] == ["shopify-order-820982911946154508-placed"]
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []
    assert _notified(env, "shopify-order-820982911946154508-placed")["order_id"] == "820982911946154508"
    # When the published fulfillments/create names that order (it carries no customer)
    fulfillment = _fixture("shopify_fulfillments_create.json")
    response = _post("fulfillments/create", fulfillment, signature=_sign(fulfillment), webhook="wh-2")
    (shipment_event,) = json.loads(response["body"])["published"]
    # Then it becomes that order's shipment.created, for the order's customer
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    assert _notified(env, shipment_event)["order_id"] == "820982911946154508"
    # When Shopify's published fulfillment event reports the parcel in transit
    scan = _fixture("shopify_fulfillment_events_create.json")
    response = _post("fulfillment_events/create", scan, signature=_sign(scan), webhook="wh-3")
    (scan_event,) = json.loads(response["body"])["published"]
    # Then it reaches the same order's customer as its in-transit notice
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    assert _notified(env, scan_event)["order_id"] == "820982911946154508"


@pytest.mark.parametrize(
    ("shop", "signature", "status"),
    [
        (SHOP, None, 401),  # unsigned
        (SHOP, "forged", 403),  # signed with another secret
        ("someone-else.myshopify.com", "valid", 403),  # a shop no entry names
    ],
)
def test_a_forged_unsigned_or_unknown_shop_is_refused_and_recorded_nowhere(
    shopify_env: Env, shop: str, signature: str | None, status: int
) -> None:
    env = shopify_env
    order = _fixture("shopify_orders_create.json")
    value = {None: None, "forged": _sign(order, "another-secret"), "valid": _sign(order)}[signature]
    before = snapshot(env)
    response = _post("orders/create", order, shop=shop, signature=value)
    assert response["statusCode"] == status
    assert snapshot(env) == before
    assert env.depth("order-events") == 0


def test_a_verified_payload_herald_cannot_read_is_recorded_as_rejected_and_answered_200(shopify_env: Env) -> None:
    # Given a signed orders/create whose order has no id
    env = shopify_env
    order = json.loads(_fixture("shopify_orders_create.json"))
    del order["id"]
    body = json.dumps(order).encode()
    # When it is posted
    response = _post("orders/create", body, signature=_sign(body), webhook="wh-broken")
    # Then Shopify is not asked to retry, nothing is published, and the rejection is recorded with its reason
    assert response["statusCode"] == 200
    assert env.depth("order-events") == 0
    rejected = [i for i in env.items() if i["pk"]["S"].startswith("REJECTED#")]
    assert len(rejected) == 1
    assert "id" in json.dumps(rejected[0])


def _wrapped(topic: str, payload: dict[str, Any], shop: str = SHOP) -> str:
    # The envelope EventBridge delivers from Shopify's partner event source (its shape: intake/shopify.py).
    return json.dumps(
        {
            "version": "0",
            "id": "3f1ad2c0-0000-0000-0000-000000000001",
            "detail-type": "shopifyWebhook",
            "source": "aws.partner/shopify.com/1830279/herald",
            "account": "123456789012",
            "time": "2026-12-02T04:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": {
                "payload": payload,
                "metadata": {
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Shop-Domain": shop,
                    "X-Shopify-Webhook-Id": "wh-eb-1",
                },
            },
        }
    )


def test_an_order_through_eventbridge_becomes_an_order_placed(shopify_env: Env) -> None:
    # Given the published order, as the rule on Shopify's partner bus puts it on the shopify-events queue
    env = shopify_env
    order = json.loads(_fixture("shopify_orders_create.json"))
    env.publish("shopify-events", [_wrapped("orders/create", order)])
    # When the shopify-events function takes the batch
    assert env.deliver("shopify-events", intake_events.handler)["batchItemFailures"] == []
    # Then the order.placed is on the order-events queue, and dispatch records its confirmation
    assert env.depth("order-events") == 1
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []
    assert _notified(env, "shopify-order-820982911946154508-placed")


def test_an_eventbridge_event_from_an_unknown_shop_is_rejected_not_retried(shopify_env: Env) -> None:
    env = shopify_env
    order = json.loads(_fixture("shopify_orders_create.json"))
    env.publish("shopify-events", [_wrapped("orders/create", order, shop="unknown.myshopify.com")])
    assert env.deliver("shopify-events", intake_events.handler)["batchItemFailures"] == []
    assert env.depth("order-events") == 0
    rejected = [i for i in env.items() if i["pk"]["S"].startswith("REJECTED#")]
    assert "unknown.myshopify.com" in json.dumps(rejected)
