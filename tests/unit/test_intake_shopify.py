"""The Shopify translator against Shopify's published webhook samples (tests/fixtures/SOURCES.md)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.fixtures import load_fixture

from herald.contract.event_types import EventType
from herald.contract.parsing import parse_event
from herald.domain.storefront import SmsConsentRule, Storefront, StorefrontIntake
from herald.intake.shopify import is_eventbridge_envelope, translate_shopify, unwrap_eventbridge
from herald.intake.updates import IntakeRefused, Translation

RECEIVED = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
ORDER_ID = "820982911946154508"


def storefront(rule: SmsConsentRule = SmsConsentRule.NEVER) -> Storefront:
    return Storefront(
        source="storefront/acme",
        name="Acme",
        email_from="orders@acme.example",
        sendgrid_secret_id="herald/acme/sendgrid",
        twilio_secret_id="herald/acme/twilio",
        sms_from="+14155550100",
        intake=StorefrontIntake(slug="acme", shopify_shop_domain="acme.myshopify.com", sms_consent=rule),
    )


def run(topic: str, payload: Any, rule: SmsConsentRule = SmsConsentRule.NEVER, webhook_id: str = "wh-1") -> Translation:
    return translate_shopify(topic, payload, storefront(rule), webhook_id=webhook_id, received_at=RECEIVED)


def only_event(translation: Translation) -> dict[str, Any]:
    assert len(translation.events) == 1
    assert not translation.order_updates
    assert not translation.updates
    event = translation.events[0]
    parse_event(json.dumps(event), now=RECEIVED)  # every full event passes the contract
    return event


def with_phones(customer: str | None, shipping: str | None, billing: str | None, country: str = "US") -> dict:
    order = copy.deepcopy(load_fixture("shopify_orders_create.json"))
    order["customer"]["phone"] = customer
    order["customer"]["default_address"]["phone"] = None
    order["shipping_address"]["phone"] = shipping
    order["shipping_address"]["country_code"] = country
    order["billing_address"]["phone"] = billing
    order["billing_address"]["country_code"] = country
    return order


# --- orders -----------------------------------------------------------------------------------------------------


def test_the_published_order_becomes_an_order_placed_event_with_the_order_and_customer() -> None:
    """Given Shopify's orders/create sample, when translated, then one order.placed event names its order, items,
    customer and status URL, and the unparseable "555-555-SHIP" phone is dropped (email only)."""
    event = only_event(run("orders/create", load_fixture("shopify_orders_create.json")))
    assert event["type"] == "order.placed"
    assert event["source"] == "storefront/acme"
    assert event["id"] == f"shopify-order-{ORDER_ID}-placed"
    order = event["data"]["order"]
    assert order["id"] == ORDER_ID
    assert order["number"] == "#9999"
    assert order["currency"] == "USD"
    assert order["total"] == "404.95"
    assert order["placed_at"] == "2021-12-31T19:00:00-05:00"
    assert order["status_url"].startswith("https://jsmith.myshopify.com/548380009/orders/123456abcd/")
    assert [(i["sku"], i["quantity"]) for i in order["items"]][:2] == [("SKU2006-001", 1), ("LENS-PROTECT-2YR", 1)]
    assert order["items"][0] == {
        "sku": "SKU2006-001",
        "quantity": 1,
        "name": "Aviator sunglasses",
        "unit_price": "89.99",
    }
    customer = event["data"]["customer"]
    assert customer["name"] == "John Smith"
    assert customer["email"] == "john@example.com"
    assert "phone" not in customer
    assert customer["sms_consent"] is False
    assert customer["locale"] == "en"
    assert customer["country"] == "US"


def test_a_retried_order_webhook_gives_the_same_event_id() -> None:
    """Given the same order delivered twice under different webhook ids, then both give one event id."""
    order = load_fixture("shopify_orders_create.json")
    first = run("orders/create", order, webhook_id="a").events[0]["id"]
    assert first == run("orders/create", order, webhook_id="b").events[0]["id"]


@pytest.mark.parametrize(
    ("customer", "shipping", "billing", "country", "expected"),
    [
        ("(415) 555-2671", "020 7946 0958", None, "US", "+14155552671"),  # the customer's first
        (None, "020 7946 0958", "555-555-SHIP", "GB", "+442079460958"),  # then shipping, read in its country
        (None, "555-555-SHIP", "030 1234567", "DE", "+49301234567"),  # then billing
        (None, "555-555-SHIP", "555-555-BILL", "US", None),  # none parse: dropped, not guessed
    ],
)
def test_the_phone_is_the_first_that_parses_in_its_address_country(
    customer: str | None, shipping: str | None, billing: str | None, country: str, expected: str | None
) -> None:
    """Given phones on the customer, shipping and billing address, then the first valid one in E.164 is kept."""
    event = only_event(run("orders/create", with_phones(customer, shipping, billing, country)))
    assert event["data"]["customer"].get("phone") == expected


@pytest.mark.parametrize(
    ("rule", "subscribed", "expected"),
    [
        (SmsConsentRule.NEVER, True, False),
        (SmsConsentRule.SHOPIFY_SMS_CONSENT, True, True),
        (SmsConsentRule.SHOPIFY_SMS_CONSENT, False, False),
        (SmsConsentRule.CHECKOUT_PHONE, False, True),
    ],
)
def test_sms_consent_follows_the_storefront_rule(rule: SmsConsentRule, subscribed: bool, expected: bool) -> None:
    """Given an order with a valid phone, when the storefront's rule is applied, then sms_consent follows it."""
    order = with_phones("(415) 555-2671", None, None)
    order["customer"]["sms_marketing_consent"] = {"state": "subscribed" if subscribed else "not_subscribed"}
    assert only_event(run("orders/create", order, rule))["data"]["customer"]["sms_consent"] is expected


def test_buyer_accepts_sms_marketing_counts_as_shopify_consent() -> None:
    order = with_phones("(415) 555-2671", None, None)
    order["buyer_accepts_sms_marketing"] = True
    event = only_event(run("orders/create", order, SmsConsentRule.SHOPIFY_SMS_CONSENT))
    assert event["data"]["customer"]["sms_consent"] is True


def test_checkout_phone_without_a_usable_phone_gives_no_consent() -> None:
    event = only_event(run("orders/create", load_fixture("shopify_orders_create.json"), SmsConsentRule.CHECKOUT_PHONE))
    assert event["data"]["customer"]["sms_consent"] is False


def test_the_published_cancellation_becomes_order_cancelled_with_its_reason() -> None:
    event = only_event(run("orders/cancelled", load_fixture("shopify_orders_cancelled.json")))
    assert event["type"] == "order.cancelled"
    assert event["id"] == f"shopify-order-{ORDER_ID}-cancelled"
    assert event["data"]["cancellation"] == {"reason": "customer"}  # the sample has no refunds
    assert event["time"] == "2021-12-31T19:00:00-05:00"


def test_a_cancellation_with_a_refund_names_the_amount_refunded() -> None:
    order = copy.deepcopy(load_fixture("shopify_orders_cancelled.json"))
    order["refunds"] = [load_fixture("shopify_refunds_create.json")]
    assert only_event(run("orders/cancelled", order))["data"]["cancellation"]["refund_amount"] == "85.00"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda o: o.pop("id"), "`id` must be a Shopify id (integer or string), it is missing"),
        (lambda o: o.__setitem__("id", 1.5), "`id` must be a Shopify id (integer or string), it is a float"),
        (lambda o: o.__setitem__("customer", "john"), "`customer` must be an object, it is a str"),
        (lambda o: o.__setitem__("line_items", {}), "`line_items` must be a list, it is a dict"),
    ],
)
def test_a_broken_order_is_refused_with_the_reason(mutate: Any, reason: str) -> None:
    """Given the published order with a field broken, then IntakeRefused names the field."""
    order = copy.deepcopy(load_fixture("shopify_orders_create.json"))
    mutate(order)
    with pytest.raises(IntakeRefused, match=f"^orders/create: {reason.replace('(', '.').replace(')', '.')}"):
        run("orders/create", order)


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(IntakeRefused, match="is a JSON object, not list"):
        run("orders/create", [])  # type: ignore[arg-type]


def test_an_unknown_topic_is_ignored_with_the_reason() -> None:
    translation = run("products/update", {"id": 1})
    assert translation == Translation(
        ignored=("Shopify topic 'products/update' is not one Herald tells customers about",)
    )


# --- updates --------------------------------------------------------------------------------------------------


def test_the_published_fulfillment_becomes_a_shipment_created_update() -> None:
    translation = run("fulfillments/create", load_fixture("shopify_fulfillments_create.json"))
    (update,) = translation.order_updates
    assert update.event_type is EventType.SHIPMENT_CREATED
    assert update.order_id == ORDER_ID
    shipment = update.data["shipment"]
    assert shipment["id"] == "123456"
    assert shipment["carrier"] == "UPS"
    assert shipment["tracking_number"] == load_fixture("shopify_fulfillments_create.json")["tracking_number"]
    assert shipment["items"][0] == {"sku": "SKU2006-001", "quantity": 1}


def test_the_published_fulfillment_event_becomes_an_in_transit_shipment_update() -> None:
    (update,) = run("fulfillment_events/create", load_fixture("shopify_fulfillment_events_create.json")).updates
    assert update.event_type is EventType.SHIPMENT_IN_TRANSIT
    assert update.status == "in_transit"
    assert update.shipment_id == "123456"
    assert update.order_id == ORDER_ID
    assert update.update_id == "shopify-fulfillment-event-1234567"
    assert update.message == "Item is now in transit"
    assert update.occurred_at == datetime.fromisoformat("2021-12-31T19:00:00-05:00")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("out_for_delivery", EventType.SHIPMENT_OUT_FOR_DELIVERY),
        ("attempted_delivery", EventType.SHIPMENT_DELIVERY_ATTEMPTED),
        ("delayed", EventType.SHIPMENT_DELAYED),
        ("failure", EventType.SHIPMENT_EXCEPTION),
        ("ready_for_pickup", EventType.SHIPMENT_OUT_FOR_DELIVERY),
    ],
)
def test_each_fulfillment_event_status_maps_to_its_herald_type(status: str, expected: EventType) -> None:
    event = dict(load_fixture("shopify_fulfillment_events_create.json"), status=status)
    (update,) = run("fulfillment_events/create", event).updates
    assert update.event_type is expected


def test_a_delivered_event_carries_its_proof_and_location() -> None:
    event = dict(
        load_fixture("shopify_fulfillment_events_create.json"),
        status="delivered",
        latitude=45.42,
        longitude=-75.69,
        estimated_delivery_at="2022-01-02T12:00:00-05:00",
    )
    (update,) = run("fulfillment_events/create", event).updates
    assert update.event_type is EventType.SHIPMENT_DELIVERED
    assert update.proof is not None
    assert (update.proof.latitude, update.proof.longitude, update.proof.location) == (45.42, -75.69, "CA")
    assert update.estimated_delivery == datetime.fromisoformat("2022-01-02T12:00:00-05:00")


def test_the_published_label_printed_event_is_ignored_with_why() -> None:
    event = load_fixture("shopify_rest_fulfillment_event_label_printed_python_api.json")["fulfillment_event"]
    (update,) = run("fulfillment_events/create", event).updates
    assert update.event_type is None
    assert update.ignored_reason is not None
    assert update.ignored_reason.startswith("label printed")


def test_the_published_hold_names_no_order_and_is_ignored_with_why() -> None:
    translation = run(
        "fulfillment_orders/placed_on_hold", load_fixture("shopify_fulfillment_orders_placed_on_hold.json")
    )
    assert translation.ignored == (
        "fulfillment_orders/placed_on_hold: fulfillment order gid://shopify/FulfillmentOrder/1 names no order_id"
        " to tell the customer of",
    )


def test_a_stock_hold_with_its_order_becomes_order_backordered() -> None:
    hold = copy.deepcopy(load_fixture("shopify_fulfillment_orders_placed_on_hold.json"))
    hold["fulfillment_order"]["order_id"] = int(ORDER_ID)
    (update,) = run("fulfillment_orders/placed_on_hold", hold).order_updates
    assert update.event_type is EventType.ORDER_BACKORDERED
    assert update.order_id == ORDER_ID
    assert update.data["backorder"] == {
        "items": [{"sku": "shopify-line-gid://shopify/FulfillmentOrderLineItem/3", "quantity": 4}],
        "reason": "Stacked hold",
    }


def test_a_hold_for_another_reason_is_ignored_with_it() -> None:
    hold = copy.deepcopy(load_fixture("shopify_fulfillment_orders_placed_on_hold.json"))
    hold["fulfillment_order"]["fulfillment_holds"].pop()
    assert run("fulfillment_orders/placed_on_hold", hold).ignored == (
        "fulfillment_orders/placed_on_hold: the hold is not for stock (other): nothing the customer waits on",
    )


@pytest.mark.parametrize(
    ("topic", "fixture", "expected"),
    [
        ("returns/request", "shopify_returns_request.json", EventType.RETURN_REQUESTED),
        ("returns/approve", "shopify_returns_approve.json", EventType.RETURN_APPROVED),
    ],
)
def test_the_published_returns_become_return_updates(topic: str, fixture: str, expected: EventType) -> None:
    (update,) = run(topic, load_fixture(fixture)).order_updates
    assert update.event_type is expected
    assert update.order_id == "4783296544821"
    assert update.data["return"]["id"] == "123134564567890"


def test_the_published_decline_becomes_return_declined_with_the_stores_note() -> None:
    """Given Shopify's returns/decline sample, then a return.declined update carries the store's note."""
    (update,) = run("returns/decline", load_fixture("shopify_returns_decline.json")).order_updates
    assert update.event_type is EventType.RETURN_DECLINED
    assert update.order_id == "4783296544821"
    assert update.update_id == "shopify-return-123134564567890-declined"
    assert update.data["return"] == {
        "id": "123134564567890",
        "items": [],
        "reason": "As discussed on the phone, the 30-day return window has ended.",
    }


def test_a_decline_without_a_note_gives_its_reason_code_in_words() -> None:
    decline = copy.deepcopy(load_fixture("shopify_returns_decline.json"))
    decline["decline"]["note"] = None
    (update,) = run("returns/decline", decline).order_updates
    assert update.data["return"]["reason"] == "return period ended"


def test_the_published_close_names_its_order_by_order_id_and_becomes_return_closed() -> None:
    (update,) = run("returns/close", load_fixture("shopify_returns_close.json")).order_updates
    assert update.event_type is EventType.RETURN_CLOSED
    assert update.order_id == "4783296544821"
    assert update.data["return"]["id"] == "123134564567890"


def test_the_published_refund_becomes_return_refunded_with_the_transactions_amount() -> None:
    (update,) = run("refunds/create", load_fixture("shopify_refunds_create.json")).order_updates
    assert update.event_type is EventType.RETURN_REFUNDED
    assert update.order_id == ORDER_ID
    block = update.data["return"]
    assert block["refund_amount"] == "85.00"  # 75.00 + 10.00, the two successful refund transactions
    assert block["id"] == "shopify-refund-890088186047892319"  # the sample's refund names no return
    assert block["reason"] == "Things were damaged"
    assert block["items"][0] == {"sku": "SKU2006-001", "quantity": 1, "name": "Aviator sunglasses"}


def test_a_refund_with_a_broken_amount_is_refused() -> None:
    refund = copy.deepcopy(load_fixture("shopify_refunds_create.json"))
    refund["transactions"][0]["amount"] = "lots"
    with pytest.raises(IntakeRefused, match="amount` is not a number"):
        run("refunds/create", refund)


def test_a_fulfillment_event_without_its_fulfillment_is_refused() -> None:
    event = dict(load_fixture("shopify_fulfillment_events_create.json"))
    del event["fulfillment_id"]
    with pytest.raises(IntakeRefused, match="`fulfillment_id` must be a Shopify id"):
        run("fulfillment_events/create", event)


# --- EventBridge ----------------------------------------------------------------------------------------------


def wrapped(topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    # No published Shopify EventBridge event is stored (SOURCES.md §6): the envelope is EventBridge's documented
    # shape around a published HTTPS body, with detail-type "shopifyWebhook" and the headers in detail.metadata.
    return {
        "version": "0",
        "id": "3f1ad2c0-0000-0000-0000-000000000000",
        "detail-type": "shopifyWebhook",
        "source": "aws.partner/shopify.com/1830279/herald",
        "account": "123456789012",
        "time": "2026-12-02T04:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "payload": payload,
            "metadata": {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": "acme.myshopify.com",
                "X-Shopify-Webhook-Id": "wh-1",
                "X-Shopify-API-Version": "2026-04",
            },
        },
    }


def test_an_eventbridge_wrapped_order_translates_as_the_https_body() -> None:
    order = load_fixture("shopify_orders_create.json")
    envelope = wrapped("orders/create", order)
    assert is_eventbridge_envelope(envelope)
    topic, payload, metadata = unwrap_eventbridge(envelope)
    assert topic == "orders/create"
    assert metadata["X-Shopify-Shop-Domain"] == "acme.myshopify.com"
    assert run(topic, payload, webhook_id=metadata["X-Shopify-Webhook-Id"]) == run("orders/create", order)


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.partner/stripe.com/x", "detail": {}},
        {"source": "aws.partner/shopify.com/1/x"},
        {"source": "aws.partner/shopify.com/1/x", "detail": {"payload": [], "metadata": {}}},
        {
            "source": "aws.partner/shopify.com/1/x",
            "detail-type": "shopifyWebhook",
            "detail": {"payload": {}, "metadata": {}},
        },
    ],
)
def test_what_is_not_a_shopify_eventbridge_event_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(IntakeRefused):
        unwrap_eventbridge(event)


def test_the_intake_entry_point_reads_the_topic_and_webhook_id_from_the_headers() -> None:
    """Given the published order and Shopify's headers, when it goes through intake.translate, then it is the
    same Translation as the translator's own."""
    from herald.intake.translate import translate

    order = load_fixture("shopify_orders_create.json")
    headers = {"x-shopify-topic": "orders/create", "x-shopify-webhook-id": "wh-1"}
    through = translate("shopify", order, storefront(), received_at=RECEIVED, headers=headers)
    assert through == run("orders/create", order)
