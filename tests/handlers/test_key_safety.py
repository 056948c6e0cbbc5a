"""Key safety through the real dispatch handler over moto: key parts that cannot collide, a source no publisher
may use, event times bounded by Herald's clock and shipment statuses ordered by domain.shipment_states."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
from herald.domain.keys import key
from herald.domain.notification import Channel
from herald.domain.suppression import ANY_SOURCE, Suppression, SuppressionSignal
from herald.handlers import dispatch

from .conftest import TABLE, Env, sample


def _dispatch(env: Env, queue: str, *events: dict[str, Any]) -> None:
    env.publish(queue, [json.dumps(e) for e in events])
    assert env.deliver(queue, dispatch.handler)["batchItemFailures"] == []


def _events(env: Env) -> dict[str, dict[str, Any]]:
    """event id -> its event item's plain attributes."""
    return {
        i["event_id"]["S"]: {k: next(iter(v.values())) for k, v in i.items()}
        for i in env.items()
        if i.get("kind", {}).get("S") == "event"
    }


def _ship(env: Env, event: dict[str, Any]) -> None:
    _dispatch(env, "shipment-events", event)


def _rejections(env: Env) -> dict[str, str]:
    return {i["event_id"]["S"]: i["reason"]["S"] for i in env.items() if i.get("kind", {}).get("S") == "rejection"}


def _at(time: datetime) -> str:
    return time.isoformat().replace("+00:00", "Z")


def _shipment(event_type: str, event_id: str, time: datetime) -> dict[str, Any]:
    return sample(event_type, id=event_id, time=_at(time))


def test_two_orders_whose_joined_parts_used_to_match_are_dispatched_apart(env: Env) -> None:
    # Given two storefronts' confirmations with one event id: (shop, order a#b) and (shop#a, order b), whose raw
    # keys were both ORDER#shop#a#b / EVENT#evt_same
    first = sample("order.placed", id="evt_same", source="shop")
    first["data"]["order"]["id"] = "a#b"
    second = sample("order.placed", id="evt_same", source="shop#a")
    second["data"]["order"]["id"] = "b"

    # When dispatch handles both
    _dispatch(env, "order-events", first)
    _dispatch(env, "order-events", second)

    # Then neither is taken for a duplicate of the other: both queued their email and SMS, each under its own key
    assert (env.depth("email"), env.depth("sms")) == (2, 2)
    orders = {i["pk"]["S"] for i in env.items() if i.get("kind", {}).get("S") == "event"}
    assert orders == {key("ORDER", "shop", "a#b"), key("ORDER", "shop#a", "b")}


def test_an_event_published_as_every_storefront_is_rejected_with_the_reason(env: Env) -> None:
    # Given an event whose source is `*`, the suppressions' "every storefront"
    event = sample("order.placed", id="evt_star", source="*")

    # When dispatch handles it
    _dispatch(env, "order-events", event)

    # Then it is rejected with why and nothing is queued
    assert "'*' is reserved" in _rejections(env)["evt_star"]
    assert env.depth("email") == env.depth("sms") == 0


def test_a_storefronts_opt_out_never_reaches_the_every_storefront_scope(env: Env) -> None:
    # Given an opt-out recorded for one storefront only
    store = DynamoDbSuppressions(env.dynamodb, TABLE)
    phone = sample("order.placed")["data"]["customer"]["phone"]
    store.suppress(Suppression("shop-a", Channel.SMS, phone, SuppressionSignal.KEYWORD, "STOP", "2026-11-01T00:00Z"))

    # When another storefront's suppressions and the every-storefront scope are read
    # Then neither holds it; the storefront's own read does
    assert store.suppressions("shop-b", {Channel.SMS: phone}) == {}
    assert store.get(ANY_SOURCE, Channel.SMS, phone) is None
    assert store.suppressions("shop-a", {Channel.SMS: phone})[Channel.SMS][0].source == "shop-a"


def test_an_opt_out_stored_at_its_key_from_before_escaping_still_stops_and_lifts(env: Env) -> None:
    # Given an unsubscribe of an address holding `#`, written raw before keys were escaped
    address = "jordan#rivera@example.com"
    env.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "SUPPRESS#storefront/acme-outdoor"},
            "sk": {"S": "email#" + address},
            "kind": {"S": "suppression"},
            "source": {"S": "storefront/acme-outdoor"},
            "channel": {"S": "email"},
            "signal": {"S": "unsubscribe"},
            "reason": {"S": "unsubscribe"},
            "at": {"S": "2026-11-01T00:00:00Z"},
            "strength": {"N": "1"},
        },
    )
    store = DynamoDbSuppressions(env.dynamodb, TABLE)

    # When dispatch reads the address's suppressions, then a resubscribe lifts it
    found = store.suppressions("storefront/acme-outdoor", {Channel.EMAIL: address})[Channel.EMAIL]
    lifted = store.lift("storefront/acme-outdoor", Channel.EMAIL, address, signals={SuppressionSignal.UNSUBSCRIBE})

    # Then the old item was found with its address, and lifted
    assert [(s.recipient, s.signal) for s in found] == [(address, SuppressionSignal.UNSUBSCRIBE)]
    assert lifted
    assert store.get("storefront/acme-outdoor", Channel.EMAIL, address) is None


def test_a_delivery_dated_2099_is_rejected_and_the_real_pair_still_notifies(env: Env) -> None:
    # Given a shipment.delivered dated 2099 from a publisher
    forged = _shipment("shipment.delivered", "evt_forged_2099", datetime(2099, 1, 1, tzinfo=UTC))
    _ship(env, forged)

    # When the shipment's real out_for_delivery and delivered arrive
    now = datetime.now(UTC)
    _ship(env, _shipment("shipment.out_for_delivery", "evt_real_ofd", now - timedelta(hours=2)))
    _ship(env, _shipment("shipment.delivered", "evt_real_delivered", now))

    # Then the forged one is rejected with its reason and both real ones are notified (email and SMS each)
    assert "more than 24 h ahead of Herald's clock" in _rejections(env)["evt_forged_2099"]
    events = _events(env)
    assert events["evt_real_ofd"]["status"] == events["evt_real_delivered"]["status"] == "dispatched"
    assert (env.depth("email"), env.depth("sms")) == (2, 2)


def test_a_later_stage_is_notified_whatever_time_its_publisher_wrote(env: Env) -> None:
    # Given a delivery attempt notified, with a time an hour from now (within the tolerance)
    now = datetime.now(UTC)
    _ship(env, _shipment("shipment.delivery_attempted", "evt_attempt", now + timedelta(hours=1)))

    # When the delivery arrives, dated earlier than that attempt
    _ship(env, _shipment("shipment.delivered", "evt_delivered", now))

    # Then it is notified: a delivery follows an attempt whatever its time (domain.shipment_states)
    assert _events(env)["evt_delivered"]["status"] == "dispatched"
    assert (env.depth("email"), env.depth("sms")) == (2, 2)


def test_a_round_after_an_attempt_is_ordered_by_time_and_a_late_earlier_copy_is_superseded(env: Env) -> None:
    # Given an out_for_delivery at 09:00 and a delivery attempt at 12:00
    start = datetime.now(UTC) - timedelta(hours=6)
    _ship(env, _shipment("shipment.out_for_delivery", "evt_ofd_0900", start))
    _ship(env, _shipment("shipment.delivery_attempted", "evt_try_1200", start + timedelta(hours=3)))

    # When a copy of an out_for_delivery reported at 08:00 arrives after them, then the next day's one
    _ship(env, _shipment("shipment.out_for_delivery", "evt_ofd_0800", start - timedelta(hours=1)))
    _ship(env, _shipment("shipment.out_for_delivery", "evt_ofd_next", start + timedelta(hours=5)))

    # Then the 08:00 one is superseded with the reason, and the others are notified in turn
    events = _events(env)
    assert events["evt_ofd_0800"]["status"] == "superseded"
    reason = events["evt_ofd_0800"]["reason"]
    assert "already notified of delivery_attempted, reported later (event evt_try_1200)" in reason
    assert [events[e]["status"] for e in ("evt_ofd_0900", "evt_try_1200", "evt_ofd_next")] == ["dispatched"] * 3
    assert (env.depth("email"), env.depth("sms")) == (3, 3)
