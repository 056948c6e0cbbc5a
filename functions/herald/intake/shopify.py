"""Shopify webhooks -> Herald events and order/shipment updates (pure: no I/O).

A Shopify order carries its customer, so `orders/create` and `orders/cancelled` become complete Herald events.
Every other topic names the order only by id (a return, a refund, a hold, a fulfillment) and becomes an
`OrderUpdate`; a fulfillment event names the fulfillment (Herald's shipment id) and becomes a `ShipmentUpdate`.
The intake joins those to the recorded order.placed.

Idempotency: every Herald event id / update id is derived from Shopify's OBJECT ids (order, refund, return +
its status, fulfillment, fulfillment event), not from `X-Shopify-Webhook-Id`. A retried delivery keeps its
webhook id, so either would dedupe retries; but Shopify documents that the same change may also be delivered
more than once under different webhook ids (two subscriptions of one topic, a re-registered webhook, the HTTPS
and EventBridge routes of one app), and only the object id is the same for all of them. The webhook id is
kept where no object id tells two reports apart (a fulfillment order can be held, released and held again).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from herald.contract.event_types import EventType
from herald.domain.phone import PhoneNotUsable, to_e164
from herald.domain.storefront import SmsConsentRule, Storefront
from herald.intake.updates import DeliveryProof, IntakeRefused, OrderUpdate, ShipmentUpdate, Translation

_LOCALE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

# fulfillment_events/create `status` -> Herald type. Shopify's FulfillmentEventStatus values, lower case.
_EVENT_STATUSES: dict[str, EventType] = {
    "in_transit": EventType.SHIPMENT_IN_TRANSIT,
    "out_for_delivery": EventType.SHIPMENT_OUT_FOR_DELIVERY,
    "attempted_delivery": EventType.SHIPMENT_DELIVERY_ATTEMPTED,
    "delayed": EventType.SHIPMENT_DELAYED,
    "delivered": EventType.SHIPMENT_DELIVERED,
    "failure": EventType.SHIPMENT_EXCEPTION,
    # The parcel waits at a pickup point: the customer must act now, as when a courier is at the door, and the
    # out_for_delivery templates ("your parcel is nearly with you") read true for it; Herald has no pickup type.
    "ready_for_pickup": EventType.SHIPMENT_OUT_FOR_DELIVERY,
}
_QUIET_STATUSES: dict[str, str] = {
    "label_printed": "label printed: the parcel has not left, shipment.created already told the customer",
    "label_purchased": "label purchased: the parcel has not left, shipment.created already told the customer",
    "confirmed": "confirmed by the carrier: nothing the customer can act on before it moves",
    "carrier_picked_up": "carrier picked up: the next in_transit scan tells the customer it is moving",
    "picked_up": "picked up by the customer: they already have it, nothing to tell them",
}
_RETURN_TOPICS: dict[str, tuple[EventType, str]] = {
    "returns/request": (EventType.RETURN_REQUESTED, "requested"),
    "returns/approve": (EventType.RETURN_APPROVED, "approved"),
    "returns/decline": (EventType.RETURN_DECLINED, "declined"),
    "returns/close": (EventType.RETURN_CLOSED, "closed"),
}


def translate_shopify(
    topic: str,
    payload: Mapping[str, Any],
    storefront: Storefront,
    *,
    webhook_id: str,
    received_at: datetime,
) -> Translation:
    """One verified Shopify webhook body (its `X-Shopify-Topic`, `X-Shopify-Webhook-Id`) -> its Translation."""
    if not isinstance(payload, Mapping):
        raise IntakeRefused(f"a Shopify {topic} body is a JSON object, not {type(payload).__name__}")
    if not webhook_id:
        raise IntakeRefused("a Shopify webhook has an X-Shopify-Webhook-Id")
    if topic == "orders/create":
        return Translation(events=(_order_placed(payload, storefront, received_at),))
    if topic == "orders/cancelled":
        return Translation(events=(_order_cancelled(payload, storefront, received_at),))
    if topic == "fulfillment_orders/placed_on_hold":
        return _on_hold(payload, webhook_id, received_at)
    if topic == "fulfillments/create":
        return Translation(order_updates=(_shipment_created(payload, received_at),))
    if topic == "fulfillment_events/create":
        return _fulfillment_event(payload, received_at)
    if topic in _RETURN_TOPICS:
        return Translation(order_updates=(_return_update(topic, payload, received_at),))
    if topic == "refunds/create":
        return Translation(order_updates=(_refund(payload, received_at),))
    return Translation(ignored=(f"Shopify topic {topic!r} is not one Herald tells customers about",))


# --- reading the body ------------------------------------------------------------------------------------------


def _identifier(obj: Mapping[str, Any], key: str, what: str) -> str:
    """A Shopify id (a JSON integer, or a GraphQL gid string) as a string; refused when missing or of another type."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        got = "missing" if value is None else f"a {type(value).__name__}"
        raise IntakeRefused(f"{what}: `{key}` must be a Shopify id (integer or string), it is {got}")
    return str(value)


def _mapping(obj: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise IntakeRefused(f"{what}: `{key}` must be an object, it is a {type(value).__name__}")
    return value


def _text(obj: Mapping[str, Any], key: str, what: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise IntakeRefused(f"{what}: `{key}` must be a string, it is a {type(value).__name__}")
    return value.strip() or None


def _list(obj: Mapping[str, Any], key: str, what: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise IntakeRefused(f"{what}: `{key}` must be a list, it is a {type(value).__name__}")
    return value


def _moment(obj: Mapping[str, Any], key: str, what: str) -> datetime | None:
    text = _text(obj, key, what)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise IntakeRefused(f"{what}: `{key}` is not an ISO 8601 time ({text[:40]!r})") from None
    if moment.tzinfo is None:
        raise IntakeRefused(f"{what}: `{key}` has no UTC offset ({text[:40]!r})")
    return moment


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _items(lines: list[Any], what: str, *, with_price: bool) -> list[dict[str, Any]]:
    """Shopify line items -> contract items; a line without a SKU is named by its Shopify line item id (a
    custom item or a gift card has none, and the contract's item needs one)."""
    items = []
    for line in lines:
        if not isinstance(line, Mapping):
            raise IntakeRefused(f"{what}: a line item must be an object, it is a {type(line).__name__}")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise IntakeRefused(f"{what}: a line item's `quantity` must be an integer")
        if quantity < 1:
            continue  # a line fully removed by an edit: nothing of it is shipped or returned
        sku = _text(line, "sku", what) or f"shopify-line-{_identifier(line, 'id', what)}"
        item: dict[str, Any] = {"sku": sku, "quantity": quantity}
        name = _text(line, "name", what) or _text(line, "title", what)
        if with_price:
            item["name"] = name or sku
            if (price := _text(line, "price", what)) is not None:
                item["unit_price"] = price
        elif name:
            item["name"] = name
        items.append(item)
    return items


# --- orders (complete events) ----------------------------------------------------------------------------------


def _phone_of(order: Mapping[str, Any], what: str) -> tuple[str | None, str | None]:
    """(E.164 phone, its country): the customer's, then the shipping address's, then the billing address's. A
    phone that does not parse for its address's country is dropped, never guessed (the published sample's
    "555-555-SHIP")."""
    customer = _mapping(order, "customer", what) or {}
    shipping = _mapping(order, "shipping_address", what) or {}
    billing = _mapping(order, "billing_address", what) or {}
    default = _mapping(customer, "default_address", what) or {}
    candidates = [
        (_text(order, "phone", what), _text(shipping, "country_code", what)),
        (_text(customer, "phone", what), _text(default, "country_code", what) or _text(shipping, "country_code", what)),
        (_text(shipping, "phone", what), _text(shipping, "country_code", what)),
        (_text(billing, "phone", what), _text(billing, "country_code", what)),
    ]
    for raw, country in candidates:
        # Letters are dropped, not read: libphonenumber turns them into keypad digits ("555-555-SHIP" is a
        # valid German number that way), and a phone spelled in letters is a placeholder, not the customer's.
        if raw is None or any(char.isalpha() for char in raw):
            continue
        try:
            return to_e164(raw, country), country
        except PhoneNotUsable:
            continue
    return None, None


def _sms_consent(order: Mapping[str, Any], phone: str | None, rule: SmsConsentRule, what: str) -> bool:
    if phone is None or rule is SmsConsentRule.NEVER:
        return False
    if rule is SmsConsentRule.CHECKOUT_PHONE:
        return True
    customer = _mapping(order, "customer", what) or {}
    consent = _mapping(customer, "sms_marketing_consent", what) or {}
    return consent.get("state") == "subscribed" or order.get("buyer_accepts_sms_marketing") is True


def _locale(value: str | None) -> str | None:
    if value is None or len(value) > 35 or not set(value) <= _LOCALE_CHARS:
        return None
    head, *rest = value.split("-")
    if not (2 <= len(head) <= 3 and head.isalpha()) or any(not (2 <= len(part) <= 8) for part in rest):
        return None
    return value


def _customer(order: Mapping[str, Any], storefront: Storefront, what: str) -> dict[str, Any]:
    customer = _mapping(order, "customer", what) or {}
    shipping = _mapping(order, "shipping_address", what) or {}
    name = " ".join(
        part for part in (_text(customer, "first_name", what), _text(customer, "last_name", what)) if part
    ) or _text(shipping, "name", what)
    email = _text(customer, "email", what) or _text(order, "email", what) or _text(order, "contact_email", what)
    phone, _ = _phone_of(order, what)
    rule = storefront.intake.sms_consent if storefront.intake is not None else SmsConsentRule.NEVER
    block: dict[str, Any] = {"sms_consent": _sms_consent(order, phone, rule, what)}
    if name:
        block["name"] = name[:200]
    if email:
        block["email"] = email
    if phone:
        block["phone"] = phone
    if (locale := _locale(_text(order, "customer_locale", what))) is not None:
        block["locale"] = locale
    if (country := _text(shipping, "country_code", what)) is not None:
        block["country"] = country
    if not email and not phone:
        raise IntakeRefused(f"{what}: the order has no email and no usable phone: no one to tell")
    return block


def _order_block(order: Mapping[str, Any], what: str) -> dict[str, Any]:
    block: dict[str, Any] = {
        "id": _identifier(order, "id", what),
        "number": _text(order, "name", what) or f"#{_identifier(order, 'order_number', what)}",
        "items": _items(_list(order, "line_items", what), what, with_price=True),
    }
    if (placed := _moment(order, "created_at", what)) is not None:
        block["placed_at"] = placed.isoformat()
    if (currency := _text(order, "currency", what)) is not None:
        block["currency"] = currency
    if (total := _text(order, "total_price", what)) is not None:
        block["total"] = total
    if (status_url := _text(order, "order_status_url", what)) is not None and status_url.startswith("https://"):
        block["status_url"] = status_url
    return block


def _event(event_id: str, event_type: EventType, storefront: Storefront, at: datetime, data: dict[str, Any]) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": storefront.source,
        "type": event_type.value,
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def _order_placed(order: Mapping[str, Any], storefront: Storefront, received_at: datetime) -> dict[str, Any]:
    what = "orders/create"
    data = {"order": _order_block(order, what), "customer": _customer(order, storefront, what)}
    at = _moment(order, "created_at", what) or received_at
    # An order is placed once: its id alone names the event, whichever delivery brought it.
    return _event(f"shopify-order-{data['order']['id']}-placed", EventType.ORDER_PLACED, storefront, at, data)


def _order_cancelled(order: Mapping[str, Any], storefront: Storefront, received_at: datetime) -> dict[str, Any]:
    what = "orders/cancelled"
    cancellation: dict[str, Any] = {}
    if (reason := _text(order, "cancel_reason", what)) is not None:
        cancellation["reason"] = reason
    refunded = Decimal(0)
    for refund in _list(order, "refunds", what):
        if isinstance(refund, Mapping):
            refunded += _refund_total(refund, what)
    if refunded > 0:
        cancellation["refund_amount"] = f"{refunded:.2f}"
    data = {
        "order": _order_block(order, what),
        "customer": _customer(order, storefront, what),
        "cancellation": cancellation,
    }
    at = _moment(order, "cancelled_at", what) or received_at
    return _event(f"shopify-order-{data['order']['id']}-cancelled", EventType.ORDER_CANCELLED, storefront, at, data)


# --- updates naming the order ----------------------------------------------------------------------------------


def _on_hold(payload: Mapping[str, Any], webhook_id: str, received_at: datetime) -> Translation:
    what = "fulfillment_orders/placed_on_hold"
    fulfillment_order = _mapping(payload, "fulfillment_order", what)
    if fulfillment_order is None:
        raise IntakeRefused(f"{what}: `fulfillment_order` is missing")
    fo_id = _identifier(fulfillment_order, "id", what)
    holds = [h for h in _list(fulfillment_order, "fulfillment_holds", what) if isinstance(h, Mapping)]
    created = _mapping(payload, "created_fulfillment_hold", what)
    reasons = {str(h.get("reason", "")).lower() for h in (*holds, *([created] if created else []))}
    if "inventory_out_of_stock" not in reasons:
        named = ", ".join(sorted(r for r in reasons if r)) or "none given"
        return Translation(ignored=(f"{what}: the hold is not for stock ({named}): nothing the customer waits on",))
    if fulfillment_order.get("order_id") is None:
        # The published 2026-04 sample names the fulfillment order only by gid, no order: the intake cannot join it.
        return Translation(ignored=(f"{what}: fulfillment order {fo_id} names no order_id to tell the customer of",))
    order_id = _identifier(fulfillment_order, "order_id", what)
    items = _items(_list(fulfillment_order, "line_items", what), what, with_price=False)
    if not items:
        items = _items(_list(payload, "held_fulfillment_order_line_items", what), what, with_price=False)
    if not items:
        return Translation(ignored=(f"{what}: fulfillment order {fo_id} is held for stock but names no line items",))
    backorder: dict[str, Any] = {"items": items}
    stock_hold = next((h for h in holds if str(h.get("reason", "")).lower() == "inventory_out_of_stock"), None)
    if stock_hold is not None and (note := _text(stock_hold, "reason_notes", what)) is not None:
        backorder["reason"] = note
    update = OrderUpdate(
        platform="shopify",
        update_id=f"shopify-hold-{fo_id}-{webhook_id}",  # held, released, held again: the same fulfillment order
        order_id=order_id,
        event_type=EventType.ORDER_BACKORDERED,
        occurred_at=_moment(fulfillment_order, "updated_at", what) or received_at,
        data={"backorder": backorder},
    )
    return Translation(order_updates=(update,))


def _shipment_created(fulfillment: Mapping[str, Any], received_at: datetime) -> OrderUpdate:
    what = "fulfillments/create"
    fulfillment_id = _identifier(fulfillment, "id", what)
    order_id = _identifier(fulfillment, "order_id", what)
    shipment: dict[str, Any] = {"id": fulfillment_id}
    if (carrier := _text(fulfillment, "tracking_company", what)) is not None:
        shipment["carrier"] = carrier
    if (number := _text(fulfillment, "tracking_number", what)) is not None:
        shipment["tracking_number"] = number
    if (url := _text(fulfillment, "tracking_url", what)) is not None and url.startswith("https://"):
        shipment["tracking_url"] = url
    shipment["items"] = [
        {"sku": item["sku"], "quantity": item["quantity"]}
        for item in _items(_list(fulfillment, "line_items", what), what, with_price=False)
    ]
    return OrderUpdate(
        platform="shopify",
        update_id=f"shopify-fulfillment-{fulfillment_id}-created",
        order_id=order_id,
        event_type=EventType.SHIPMENT_CREATED,
        occurred_at=_moment(fulfillment, "created_at", what) or received_at,
        data={"shipment": shipment},
    )


def _fulfillment_event(event: Mapping[str, Any], received_at: datetime) -> Translation:
    what = "fulfillment_events/create"
    event_id = _identifier(event, "id", what)
    fulfillment_id = _identifier(event, "fulfillment_id", what)
    status = _text(event, "status", what)
    if status is None:
        raise IntakeRefused(f"{what}: `status` is missing")
    status = status.lower()
    occurred_at = _moment(event, "happened_at", what) or _moment(event, "created_at", what) or received_at
    event_type = _EVENT_STATUSES.get(status)
    ignored = None if event_type else _QUIET_STATUSES.get(status, f"fulfillment event status {status!r} is not mapped")
    fields: dict[str, Any] = {}
    if event_type is EventType.SHIPMENT_DELIVERED:
        lat, lon = event.get("latitude"), event.get("longitude")
        where = ", ".join(p for p in (_text(event, k, what) for k in ("address1", "city", "zip", "country")) if p)
        fields["proof"] = DeliveryProof(
            delivered_at=occurred_at,
            latitude=lat if isinstance(lat, int | float) and not isinstance(lat, bool) else None,
            longitude=lon if isinstance(lon, int | float) and not isinstance(lon, bool) else None,
            location=where or None,
        )
    if event_type is EventType.SHIPMENT_EXCEPTION:
        fields["exception_kind"] = "other"  # Shopify's `failure` says no more than that delivery failed
    if event_type is EventType.SHIPMENT_DELAYED:
        fields["delay_reason"] = "carrier"
    message = _text(event, "message", what)
    if event_type is EventType.SHIPMENT_DELIVERY_ATTEMPTED and message:
        fields["attempt_reason"] = message[:1000]
    order_id = event.get("order_id")
    update = ShipmentUpdate(
        platform="shopify",
        update_id=f"shopify-fulfillment-event-{event_id}",
        shipment_id=fulfillment_id,
        order_id=_identifier(event, "order_id", what) if order_id is not None else None,
        event_type=event_type,
        ignored_reason=ignored,
        status=status,
        occurred_at=occurred_at,
        message=message[:1000] if message else None,
        estimated_delivery=_moment(event, "estimated_delivery_at", what),
        **fields,
    )
    return Translation(updates=(update,))


def _return_order_id(payload: Mapping[str, Any], what: str) -> str:
    # returns/request|approve|decline name the order as {"order": {"id": ...}}; returns/close as `order_id`.
    order = _mapping(payload, "order", what)
    if order is not None:
        return _identifier(order, "id", what)
    return _identifier(payload, "order_id", what)


def _return_update(topic: str, payload: Mapping[str, Any], received_at: datetime) -> OrderUpdate:
    event_type, state = _RETURN_TOPICS[topic]
    return_id = _identifier(payload, "id", topic)
    block: dict[str, Any] = {
        "id": return_id,
        "items": _items(
            [line for line in _list(payload, "return_line_items", topic) if isinstance(line, Mapping)],
            topic,
            with_price=False,
        ),
    }
    decline = _mapping(payload, "decline", topic)
    if decline is not None:
        # The store's note says it to the customer; the code (return_period_ended, ...) is the fallback.
        reason = _text(decline, "note", topic) or _text(decline, "reason", topic)
        if reason is not None:
            block["reason"] = reason.replace("_", " ") if reason == decline.get("reason") else reason
    return OrderUpdate(
        platform="shopify",
        update_id=f"shopify-return-{return_id}-{state}",  # a return is requested, approved... once each
        order_id=_return_order_id(payload, topic),
        event_type=event_type,
        occurred_at=received_at,  # a return webhook carries no time of its own
        data={"return": block},
    )


def _refund_total(refund: Mapping[str, Any], what: str) -> Decimal:
    """What was paid back: the refund's successful `refund` transactions (the amount that reached the customer,
    shipping and adjustments included, which the line items' subtotals are not)."""
    total = Decimal(0)
    for transaction in _list(refund, "transactions", what):
        if not isinstance(transaction, Mapping):
            raise IntakeRefused(f"{what}: a transaction must be an object")
        if transaction.get("kind") == "refund" and transaction.get("status") == "success":
            amount = _amount(transaction.get("amount"))
            if amount is None:
                raise IntakeRefused(f"{what}: a refund transaction's `amount` is not a number")
            total += amount
    return total


def _refund(refund: Mapping[str, Any], received_at: datetime) -> OrderUpdate:
    what = "refunds/create"
    refund_id = _identifier(refund, "id", what)
    order_id = _identifier(refund, "order_id", what)
    # A refund made for a return names it (`return: {id, ...}`); a refund without one (the published sample:
    # "Things were damaged") is Herald's return named by the refund itself, so the customer is still told.
    linked = _mapping(refund, "return", what)
    return_id = _identifier(linked, "id", what) if linked is not None else f"shopify-refund-{refund_id}"
    lines = []
    for refund_line in _list(refund, "refund_line_items", what):
        if not isinstance(refund_line, Mapping):
            raise IntakeRefused(f"{what}: a refund line item must be an object")
        line = dict(_mapping(refund_line, "line_item", what) or {})
        line["quantity"] = refund_line.get("quantity")
        line.setdefault("id", refund_line.get("line_item_id"))
        lines.append(line)
    block: dict[str, Any] = {
        "id": return_id,
        "items": _items(lines, what, with_price=False),
        "refund_amount": f"{_refund_total(refund, what):.2f}",
    }
    if (note := _text(refund, "note", what)) is not None:
        block["reason"] = note[:1000]
    return OrderUpdate(
        platform="shopify",
        update_id=f"shopify-refund-{refund_id}",
        order_id=order_id,
        event_type=EventType.RETURN_REFUNDED,
        occurred_at=_moment(refund, "processed_at", what) or _moment(refund, "created_at", what) or received_at,
        data={"return": block},
    )


# --- EventBridge -----------------------------------------------------------------------------------------------


_PARTNER_SOURCE = "aws.partner/shopify.com"


def is_eventbridge_envelope(obj: Any) -> bool:
    """An EventBridge event from a Shopify partner event source (`aws.partner/shopify.com/<app id>/<name>`)."""
    return (
        isinstance(obj, Mapping)
        and isinstance(obj.get("source"), str)
        and (obj["source"] == _PARTNER_SOURCE or obj["source"].startswith(_PARTNER_SOURCE + "/"))
        and isinstance(obj.get("detail"), Mapping)
    )


def unwrap_eventbridge(event: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(topic, payload, metadata) of a Shopify webhook delivered through EventBridge.

    The topic is read from `detail.metadata["X-Shopify-Topic"]` (what Shopify's HTTPS delivery sends as the
    header); `detail-type` is used only when the metadata has none: for Shopify's partner source it is a fixed
    "shopifyWebhook", not the topic.
    """
    if not is_eventbridge_envelope(event):
        raise IntakeRefused("not a Shopify EventBridge event (source aws.partner/shopify.com/..., with a detail)")
    detail = event["detail"]
    payload = detail.get("payload")
    metadata = detail.get("metadata")
    if not isinstance(payload, dict):
        raise IntakeRefused("a Shopify EventBridge event's detail.payload is a JSON object")
    if not isinstance(metadata, dict):
        raise IntakeRefused("a Shopify EventBridge event's detail.metadata is a JSON object")
    topic = metadata.get("X-Shopify-Topic")
    if not isinstance(topic, str) or not topic:
        detail_type = event.get("detail-type")
        topic = detail_type if isinstance(detail_type, str) and "/" in detail_type else None
    if topic is None:
        raise IntakeRefused("a Shopify EventBridge event names its topic in detail.metadata X-Shopify-Topic")
    return topic, payload, dict(metadata)
