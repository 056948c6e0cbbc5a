"""Opt-out and suppression end to end over moto: webhooks record suppressions, dispatch obeys them.

Inbound SMS and SendGrid events are signed as the providers sign them (helpers of test_webhooks); orders go
through the real dispatch and sender handlers to the stand-ins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
from herald.domain.notification import Channel
from herald.domain.suppression import ANY_SOURCE, SuppressionSignal
from herald.handlers import dispatch, send_email, send_sms, webhooks
from tests.storefronts import REGISTRY_PATH, seed_registry, storefront

from .conftest import REGION, TABLE, TWILIO_FROM, Env, sample
from .signing import (
    ALL_EVENTS,
    INBOUND_PATH,
    SendGridSigner,
    notification,
    placed_and_sent,
    post_sendgrid,
    sendgrid_event,
    twilio_post,
)
from .signing import signer as signer  # the fixture, used by name

SOURCE = "storefront/acme-outdoor"
PHONE = "+15005550010"  # the customer's mobile (a Twilio test number the stand-in delivers to)
EMAIL = "jordan.rivera@example.com"


@pytest.fixture
def keywords(env: Env, signer: SendGridSigner, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A deployment whose Twilio number belongs to the sample storefront."""
    monkeypatch.setenv("HERALD_SMS_SOURCE_BY_NUMBER", json.dumps({TWILIO_FROM: SOURCE}))
    monkeypatch.setenv("HERALD_DEFAULT_STORE_NAME", "Acme Outdoor")
    webhooks.root.reset()
    yield
    webhooks.root.reset()


def text(body: str, *, sid: str, to: str = TWILIO_FROM, from_: str = PHONE) -> dict[str, Any]:
    """The customer texts `body` to Herald's number; Twilio posts it to the inbound webhook."""
    fields = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
    }
    response = twilio_post(INBOUND_PATH, fields)
    assert response["statusCode"] == 200
    return response


def publish(env: Env, event_type: str, event_id: str, *, phone: str = PHONE) -> dict[str, Any]:
    """One event through dispatch and both senders."""
    event = sample(event_type, id=event_id)
    event["data"]["customer"]["phone"] = phone
    queue = "order-events" if event_type.startswith("order.") else "shipment-events"
    env.publish(queue, [json.dumps(event)])
    assert env.deliver(queue, dispatch.handler)["batchItemFailures"] == []
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    return event


def status(env: Env, event_id: str, channel: str) -> tuple[str, str | None]:
    item = notification(env, event_id, channel)
    return item["status"]["S"], item.get("reason", {}).get("S")


def suppressions(env: Env) -> DynamoDbSuppressions:
    import boto3

    return DynamoDbSuppressions(boto3.client("dynamodb", region_name=REGION), TABLE)


def opt_out_event(env: Env, placed: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    return sendgrid_event(ALL_EVENTS[0], placed, env, name, email=EMAIL, **fields)


# --- SMS keywords -------------------------------------------------------------------------------


def test_stop_suppresses_later_sms_with_the_reason_and_email_still_goes(env: Env, keywords: None) -> None:
    # Given the customer texted STOP to the storefront's number
    response = text("Stop", sid="SM" + "1" * 32)
    # Then Herald adds no reply of its own (Twilio confirms the opt-out itself)
    assert response["body"].endswith("<Response />")
    recorded = suppressions(env).get(SOURCE, Channel.SMS, PHONE)
    assert recorded is not None
    assert recorded.signal is SuppressionSignal.KEYWORD
    sent_before = len(env.twilio.accepted)
    # When an order is placed
    publish(env, "order.placed", "evt_stop_1")
    # Then the SMS is recorded as suppressed, with the reason, and never reached Twilio
    sms_status, reason = status(env, "evt_stop_1", "sms")
    assert sms_status == "suppressed"
    assert reason is not None
    assert "opted out of SMS by keyword" in reason
    assert "STOP" in reason
    item = notification(env, "evt_stop_1", "sms")
    assert item["suppression_signal"]["S"] == "keyword"
    assert PHONE not in json.dumps(item)  # the number is masked on the notification
    assert len(env.twilio.accepted) == sent_before
    # And the email was sent
    assert status(env, "evt_stop_1", "email")[0] == "sent"


def test_start_lifts_the_stop_and_sms_resumes(env: Env, keywords: None) -> None:
    # Given STOP, then START from the same phone
    text("STOP", sid="SM" + "2" * 32)
    text(" start ", sid="SM" + "3" * 32)
    # Then no suppression remains
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is None
    # When an order is placed, Then its SMS is sent to the phone
    publish(env, "order.placed", "evt_start_1")
    assert status(env, "evt_start_1", "sms")[0] == "sent"
    assert env.twilio.accepted[-1]["to"] == PHONE


def test_stop_for_one_storefront_does_not_stop_another(env: Env, keywords: None) -> None:
    # Given STOP texted to the acme-outdoor number
    text("STOP", sid="SM" + "4" * 32)
    # When another storefront's order names the same phone
    event = sample("order.placed", id="evt_other_store", source="storefront/other")
    event["data"]["customer"]["phone"] = PHONE
    env.publish("order-events", [json.dumps(event)])
    env.deliver("order-events", dispatch.handler)
    # Then that storefront's SMS is queued as usual
    assert status(env, "evt_other_store", "sms")[0] == "pending"


def test_stop_to_a_number_of_no_storefront_stops_sms_from_every_storefront(env: Env, keywords: None) -> None:
    # Given STOP texted to a number neither mapped nor covered by a default source
    text("STOP", sid="SM" + "5" * 32, to="+15005550099")
    assert suppressions(env).get(ANY_SOURCE, Channel.SMS, PHONE) is not None
    # When an order is placed, Then its SMS is suppressed
    publish(env, "order.placed", "evt_any_1")
    assert status(env, "evt_any_1", "sms")[0] == "suppressed"


def test_help_is_answered_with_the_storefront_help_text(
    env: Env, keywords: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the customer texts HELP, Then the TwiML answers with the default text naming the store
    response = text("help", sid="SM" + "6" * 32)
    assert "<Message>Acme Outdoor: order and delivery updates. Reply STOP to stop these texts" in response["body"]
    # Given a configured help text; When HELP comes again, Then that text is the answer, store filled in
    monkeypatch.setenv("HERALD_SMS_HELP_TEXT", "{store} support: help@acme.example")
    webhooks.root.reset()
    response = text("HELP", sid="SM" + "7" * 32)
    assert "<Message>Acme Outdoor support: help@acme.example</Message>" in response["body"]
    # And HELP suppresses nothing
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is None


def test_a_message_that_is_not_a_keyword_changes_nothing(env: Env, keywords: None) -> None:
    response = text("please stop by tomorrow", sid="SM" + "8" * 32)
    assert response["body"].endswith("<Response />")
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is None


# --- SendGrid opt-outs and bounces ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["spamreport", "unsubscribe", "group_unsubscribe"])
def test_opt_out_suppresses_a_shipment_email_but_not_an_order_confirmation(
    env: Env, keywords: None, signer: SendGridSigner, name: str
) -> None:
    # Given an order confirmation emailed, and SendGrid reporting the customer's opt-out on it
    placed = placed_and_sent(env, event_id="evt_optout_order", phone=PHONE)
    assert post_sendgrid(signer, [opt_out_event(env, placed, name)])["statusCode"] == 200
    # When the shipment of that order is created
    publish(env, "shipment.created", "evt_optout_ship")
    # Then its email is suppressed with the reason; its SMS is sent (email opt-outs are email only)
    email_status, reason = status(env, "evt_optout_ship", "email")
    assert email_status == "suppressed"
    assert reason is not None
    assert reason.startswith("suppressed: recipient")
    assert notification(env, "evt_optout_ship", "email")["suppression_signal"]["S"] == name
    assert status(env, "evt_optout_ship", "sms")[0] == "sent"
    # And a new order confirmation (transactional) is still emailed
    publish(env, "order.placed", "evt_optout_order_2")
    assert status(env, "evt_optout_order_2", "email")[0] == "sent"


def test_hard_bounce_suppresses_every_email_to_the_address(env: Env, keywords: None, signer: SendGridSigner) -> None:
    # Given SendGrid reporting a hard bounce (type "bounce") of an order confirmation
    placed = placed_and_sent(env, event_id="evt_bounce_order", phone=PHONE)
    event = opt_out_event(env, placed, "bounce", type="bounce", reason="550 5.1.1 no such user", status="5.1.1")
    post_sendgrid(signer, [event])
    # When the next order is placed (transactional), and a shipment is created
    publish(env, "order.placed", "evt_bounce_order_2")
    publish(env, "shipment.created", "evt_bounce_ship")
    # Then both emails are suppressed as undeliverable; the SMS still go
    for event_id in ("evt_bounce_order_2", "evt_bounce_ship"):
        email_status, reason = status(env, event_id, "email")
        assert email_status == "suppressed"
        assert reason is not None
        assert "undeliverable" in reason
        assert "550 5.1.1 no such user" in reason
        assert status(env, event_id, "sms")[0] == "sent"


def test_blocked_bounce_does_not_suppress(env: Env, keywords: None, signer: SendGridSigner) -> None:
    # Given SendGrid reporting a bounce of type "blocked" (the receiving server refused for now)
    placed = placed_and_sent(env, event_id="evt_blocked_order", phone=PHONE)
    post_sendgrid(signer, [opt_out_event(env, placed, "bounce", type="blocked", reason="blocked by policy")])
    # Then no suppression is recorded, and the next shipment email is sent
    assert suppressions(env).get(SOURCE, Channel.EMAIL, EMAIL) is None
    publish(env, "shipment.created", "evt_blocked_ship")
    assert status(env, "evt_blocked_ship", "email")[0] == "sent"


def test_unsubscribe_after_a_hard_bounce_keeps_the_address_undeliverable(
    env: Env, keywords: None, signer: SendGridSigner
) -> None:
    placed = placed_and_sent(env, event_id="evt_order_both", phone=PHONE)
    # Given a hard bounce, then an unsubscribe for the same address
    post_sendgrid(signer, [opt_out_event(env, placed, "bounce", type="bounce", reason="550 no such user", n=1)])
    post_sendgrid(signer, [opt_out_event(env, placed, "unsubscribe", n=2)])
    # Then the stronger suppression stays: order confirmations remain stopped
    recorded = suppressions(env).get(SOURCE, Channel.EMAIL, EMAIL)
    assert recorded is not None
    assert recorded.signal is SuppressionSignal.BOUNCE


def test_group_resubscribe_lifts_a_group_unsubscribe(env: Env, keywords: None, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env, event_id="evt_group_order", phone=PHONE)
    # Given a group unsubscribe, then a group resubscribe
    post_sendgrid(signer, [opt_out_event(env, placed, "group_unsubscribe", n=1)])
    assert suppressions(env).get(SOURCE, Channel.EMAIL, EMAIL) is not None
    post_sendgrid(signer, [opt_out_event(env, placed, "group_resubscribe", n=2)])
    # Then the address gets shipment emails again
    assert suppressions(env).get(SOURCE, Channel.EMAIL, EMAIL) is None
    publish(env, "shipment.created", "evt_group_ship")
    assert status(env, "evt_group_ship", "email")[0] == "sent"


def test_opt_out_for_an_expired_notification_uses_the_source_custom_arg(
    env: Env, keywords: None, signer: SendGridSigner
) -> None:
    # Given an unsubscribe whose message Herald no longer has (its record expired), carrying Herald's custom args
    event = ALL_EVENTS[0] | {
        "event": "unsubscribe",
        "sg_event_id": "unsub-expired-1",
        "sg_message_id": "gone.filterdrecv-1",
        "email": "Jordan.Rivera@Example.com",
        "source": SOURCE,
        "event_id": "evt_long_gone",
        "order_id": "ord_0001",
    }
    response = post_sendgrid(signer, [event])
    # Then it matches no notification, yet the address is suppressed for that storefront (case-insensitively)
    assert json.loads(response["body"]) == {"events": 1, "not_found": 1}
    recorded = suppressions(env).get(SOURCE, Channel.EMAIL, EMAIL)
    assert recorded is not None
    assert recorded.signal is SuppressionSignal.UNSUBSCRIBE


# --- Twilio status callback URL ------------------------------------------------------------------


def test_sms_asks_twilio_for_status_callbacks_naming_the_notification(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose webhooks API is at a base URL
    monkeypatch.setenv("HERALD_WEBHOOKS_BASE_URL", "https://abc123defg.execute-api.us-east-1.amazonaws.com/")
    send_sms.root.reset()
    # When an order's SMS is sent
    event = publish(env, "order.placed", "evt_callback_1")
    # Then Twilio was given the status route with the notification's link fields in the query
    (accepted,) = env.twilio.accepted
    url = urlsplit(accepted["status_callback"])
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "abc123defg.execute-api.us-east-1.amazonaws.com",
        "/webhooks/twilio/status",
    )
    assert parse_qs(url.query) == {
        "source": [event["source"]],
        "event_id": ["evt_callback_1"],
        "order_id": [event["data"]["order"]["id"]],
    }


def test_without_a_base_url_no_status_callback_is_requested(env: Env) -> None:
    publish(env, "order.placed", "evt_callback_2")
    (accepted,) = env.twilio.accepted
    assert accepted["status_callback"] is None


def test_help_answers_in_the_storefronts_language_when_nobody_wrote_a_help_text(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a Quebec storefront's number, its entry (locale fr-CA) without a help text, the deployment without one
    quebec_number = "+15005550012"
    seed_registry(
        boto3.client("ssm", region_name="us-east-1"),
        REGISTRY_PATH,
        storefront("storefront/boreal", name="Boréal Plein Air", locale="fr-CA"),
    )
    monkeypatch.setenv("HERALD_SMS_SOURCE_BY_NUMBER", json.dumps({quebec_number: "storefront/boreal"}))
    monkeypatch.delenv("HERALD_SMS_HELP_TEXT", raising=False)
    webhooks.root.reset()
    # When a customer texts HELP to it
    response = text("HELP", sid="SM" + "b1" * 16, to=quebec_number)
    # Then Herald's default answer comes in French, the keywords still STOP and START
    assert (
        "<Message>Boréal Plein Air : avis de commande et de livraison. Répondez STOP pour les désactiver, START pour"
        " les réactiver. Frais de messagerie possibles.</Message>"
    ) in response["body"]


def test_help_answers_with_the_name_and_help_text_of_the_storefront_the_number_belongs_to(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two storefronts on one deployment, each with its own number; the second's entry has its own help text
    globex_number = "+15005550011"
    seed_registry(
        boto3.client("ssm", region_name="us-east-1"),
        REGISTRY_PATH,
        storefront("storefront/globex", name="Globex Garden", help_text="{store}: call 0800 555 0199"),
    )
    numbers = {TWILIO_FROM: SOURCE, globex_number: "storefront/globex"}
    monkeypatch.setenv("HERALD_SMS_SOURCE_BY_NUMBER", json.dumps(numbers))
    monkeypatch.setenv("HERALD_SMS_HELP_TEXT", "{store} support: help@acme.example")
    webhooks.root.reset()
    # When the customer texts HELP to each number
    globex = text("HELP", sid="SM" + "a1" * 16, to=globex_number)
    acme = text("HELP", sid="SM" + "a2" * 16)
    # Then each answer names its own storefront: Globex from its entry, Acme (no help text of its own) with the
    # deployment's text and its entry's name
    assert "<Message>Globex Garden: call 0800 555 0199</Message>" in globex["body"]
    assert "<Message>Acme Outdoor support: help@acme.example</Message>" in acme["body"]
