"""The webhooks function over moto: provider callbacks reach the notifications the pipeline recorded.

Notifications are created by the real pipeline (dispatch -> senders -> stand-ins -> DynamoDbLedger); callbacks
are API Gateway HTTP API events signed as SendGrid (ECDSA, a key generated here) and Twilio (HMAC with the
account's auth token) sign them.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from herald.handlers import webhooks

from .conftest import TWILIO_TOKEN, Env
from .signing import (
    ALL_EVENTS,
    BLOCKED,
    DOMAIN,
    INBOUND_PATH,
    SENDGRID_PATH,
    STATUS_PATH,
    SendGridSigner,
    call,
    delivery,
    http_event,
    notification,
    placed_and_sent,
    post_sendgrid,
    sendgrid_event,
    snapshot,
    status_fields,
    twilio_post,
)
from .signing import signer as signer  # the fixture, used by name

# --- SendGrid ---------------------------------------------------------------------------------------


def test_sendgrid_delivered_event_updates_the_email_it_reports_on(env: Env, signer: SendGridSigner) -> None:
    # Given an order confirmation emailed by the pipeline
    placed = placed_and_sent(env)
    base = ALL_EVENTS[0]
    # When SendGrid posts processed then delivered for it
    response = post_sendgrid(
        signer,
        [sendgrid_event(base, placed, env, "processed"), sendgrid_event(base, placed, env, "delivered")],
    )
    # Then the post is accepted and the email notification is delivered, with both reports in its history
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"events": 2, "advanced": 2}
    assert delivery(env, placed["id"], "email") == ("delivered", ["processed", "delivered"])
    # And the send pipeline's own status is untouched, as is the SMS notification
    assert notification(env, placed["id"], "email")["status"]["S"] == "sent"
    assert delivery(env, placed["id"], "sms") == (None, [])


def test_every_published_sendgrid_event_type_is_recorded_on_its_notification(env: Env, signer: SendGridSigner) -> None:
    # Given SendGrid's published sample of every event type, addressed to an email Herald sent
    placed = placed_and_sent(env)
    events = [sendgrid_event(event, placed, env, event["event"]) for event in ALL_EVENTS]
    # When it is posted
    response = post_sendgrid(signer, events)
    # Then every event is kept in the notification's history, and the state is the furthest: delivered
    # (bounce and dropped arrive after delivered in this sample: the first terminal state stays)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["events"] == len(ALL_EVENTS)
    state, history = delivery(env, placed["id"], "email")
    assert state == "delivered"
    assert history == [event["event"] for event in ALL_EVENTS]


@pytest.mark.parametrize(
    ("name", "fields", "state", "code"),
    [
        ("bounce", {"reason": "500 unknown recipient", "status": "5.0.0"}, "bounced", "5.0.0"),
        ("bounce", {"type": "blocked", "reason": "500 unknown recipient", "status": "5.0.0"}, "blocked", "5.0.0"),
        ("dropped", {"reason": "Bounced Address", "status": "5.0.0"}, "dropped", "5.0.0"),
        ("deferred", {"response": "400 try again later", "attempt": "5"}, "deferred", None),
    ],
)
def test_sendgrid_failures_record_state_reason_and_code(
    env: Env, signer: SendGridSigner, name: str, fields: dict[str, str], state: str, code: str | None
) -> None:
    placed = placed_and_sent(env)
    # When SendGrid reports the failure
    assert post_sendgrid(signer, [sendgrid_event(ALL_EVENTS[0], placed, env, name, **fields)])["statusCode"] == 200
    # Then the notification carries the state, SendGrid's reason and SMTP status
    item = notification(env, placed["id"], "email")
    assert item["delivery_status"]["S"] == state
    assert item.get("delivery_error_code", {}).get("S") == code
    assert item["delivery_reason"]["S"] == fields.get("reason", fields.get("response"))


def test_published_blocked_bounce_is_linked_by_sg_message_id_alone(env: Env, signer: SendGridSigner) -> None:
    # Given the published blocked bounce, its sg_message_id made to start with the X-Message-Id of an email
    # Herald sent, and no custom args (an event SendGrid emitted without them)
    placed = placed_and_sent(env)
    message_id = notification(env, placed["id"], "email")["provider_message_id"]["S"]
    event = BLOCKED | {"sg_message_id": f"{message_id}.filter0001.16648.5515E0B88.0"}
    # When it is posted
    response = post_sendgrid(signer, [event])
    # Then the provider-message index finds the notification and it is blocked
    assert json.loads(response["body"]) == {"events": 1, "advanced": 1}
    assert delivery(env, placed["id"], "email") == ("blocked", ["bounce"])


def test_published_sample_for_unknown_messages_is_acknowledged_and_changes_nothing(
    env: Env, signer: SendGridSigner
) -> None:
    # Given an email Herald sent, and SendGrid's sample verbatim (its messages are not Herald's)
    placed_and_sent(env)
    before = snapshot(env)
    # When it is posted
    response = post_sendgrid(signer, ALL_EVENTS)
    # Then it is acknowledged (SendGrid would retry it for a day otherwise), and no notification changed
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"events": len(ALL_EVENTS), "not_found": len(ALL_EVENTS)}
    after = [item for item in snapshot(env) if not item["pk"]["S"].startswith("WEBHOOK#")]
    assert after == before


def test_out_of_order_and_repeated_sendgrid_events_never_move_the_state_back(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    base = ALL_EVENTS[0]
    processed, deferred, delivered = (
        sendgrid_event(base, placed, env, n) for n in ("processed", "deferred", "delivered")
    )
    # Given delivered arriving first
    now = int(time.time())
    post_sendgrid(signer, [delivered], timestamp=now - 1)
    # When deferred and processed arrive late, and delivered again in a later post (signed anew, a later
    # timestamp: the same timestamp and body would be refused as a replay)
    response = post_sendgrid(signer, [deferred, processed])
    again = post_sendgrid(signer, [delivered], timestamp=now)
    # Then the state stays delivered; the late reports are history, the repeat is recorded once
    assert json.loads(response["body"]) == {"events": 2, "recorded": 2}
    assert json.loads(again["body"]) == {"events": 1, "duplicate": 1}
    assert delivery(env, placed["id"], "email") == ("delivered", ["delivered", "deferred", "processed"])


def test_terminal_sendgrid_state_is_not_replaced_by_a_later_terminal_report(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    # Given a dropped email; When a delivered report for it arrives afterwards
    post_sendgrid(signer, [sendgrid_event(ALL_EVENTS[0], placed, env, "dropped", reason="Bounced Address")])
    post_sendgrid(signer, [sendgrid_event(ALL_EVENTS[0], placed, env, "delivered")])
    # Then the first terminal state stays, and the contradiction is in the history for an operator
    assert delivery(env, placed["id"], "email") == ("dropped", ["dropped", "delivered"])


def test_unsigned_sendgrid_post_is_refused_401_and_records_nothing(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    before = snapshot(env)
    body = json.dumps([sendgrid_event(ALL_EVENTS[0], placed, env, "bounce")]).encode()
    # When the post carries no signature headers
    response = call(http_event(SENDGRID_PATH, body, {"content-type": "application/json"}))
    # Then it is refused as unauthenticated and the table is as it was
    assert response["statusCode"] == 401
    assert snapshot(env) == before


@pytest.mark.parametrize("forgery", ["other key", "tampered body", "other timestamp", "garbage signature"])
def test_forged_sendgrid_post_is_refused_403_and_records_nothing(
    env: Env, signer: SendGridSigner, forgery: str
) -> None:
    placed = placed_and_sent(env)
    before = snapshot(env)
    body = json.dumps([sendgrid_event(ALL_EVENTS[0], placed, env, "bounce")]).encode()
    headers = signer.headers(body)
    if forgery == "other key":
        headers = SendGridSigner().headers(body)
    elif forgery == "tampered body":
        body = body.replace(b"bounce", b"delivered")
    elif forgery == "other timestamp":
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(int(time.time()) - 1)
    else:
        headers["X-Twilio-Email-Event-Webhook-Signature"] = "bm90IGEgc2lnbmF0dXJl"
    # When the forged post arrives
    response = call(http_event(SENDGRID_PATH, body, headers))
    # Then it is refused and nothing was recorded (not even its signature)
    assert response["statusCode"] == 403
    assert snapshot(env) == before


def test_stale_sendgrid_post_is_refused_403_and_records_nothing(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    before = snapshot(env)
    # Given a correctly signed post whose timestamp is 301 s old (tolerance 300 s)
    response = post_sendgrid(
        signer, [sendgrid_event(ALL_EVENTS[0], placed, env, "bounce")], timestamp=int(time.time()) - 301
    )
    # Then it is refused as stale and nothing was recorded
    assert response["statusCode"] == 403
    assert "tolerance" in json.loads(response["body"])["message"]
    assert snapshot(env) == before


def test_tolerance_comes_from_the_environment(
    env: Env, signer: SendGridSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = placed_and_sent(env)
    # Given a deployment with a 1000 s tolerance
    monkeypatch.setenv("HERALD_WEBHOOK_TOLERANCE_SECONDS", "1000")
    webhooks.root.reset()
    # Then a post signed 600 s ago is admitted
    event = sendgrid_event(ALL_EVENTS[0], placed, env, "delivered")
    assert post_sendgrid(signer, [event], timestamp=int(time.time()) - 600)["statusCode"] == 200


def test_replayed_sendgrid_post_is_refused_403_and_changes_nothing(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    body = json.dumps([sendgrid_event(ALL_EVENTS[0], placed, env, "deferred")]).encode()
    headers = signer.headers(body)
    # Given a signed post that was accepted
    assert call(http_event(SENDGRID_PATH, body, headers))["statusCode"] == 200
    after_first = snapshot(env)
    # When the same request is played again within the tolerance
    response = call(http_event(SENDGRID_PATH, body, headers))
    # Then it is refused, and the table is exactly as the first post left it
    assert response["statusCode"] == 403
    assert "already applied" in json.loads(response["body"])["message"]
    assert snapshot(env) == after_first
    # And the replay record expires on its own (TTL)
    (guard,) = [i for i in after_first if i["pk"]["S"].startswith("WEBHOOK#")]
    assert int(guard["expires_at"]["N"]) > time.time() + 300


def test_signed_post_that_is_not_an_event_array_is_400_and_records_nothing(env: Env, signer: SendGridSigner) -> None:
    placed_and_sent(env)
    before = snapshot(env)
    for body in (b"{not json", b'{"event": "delivered"}', b"[1, 2]"):
        # When SendGrid's key signed a body that is not a JSON array of events
        response = call(http_event(SENDGRID_PATH, body, signer.headers(body)))
        # Then it is a bad request, and its signature was not used up
        assert response["statusCode"] == 400
    assert snapshot(env) == before


# --- Twilio -----------------------------------------------------------------------------------------


def test_twilio_status_callbacks_move_the_sms_forward_and_never_back(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    # Given Twilio's published "sent" callback for the SMS Herald sent (form body, base64 as HTTP APIs pass it)
    sent = twilio_post(STATUS_PATH, status_fields(env, placed, "sent"), encode=True)
    assert sent["statusCode"] == 204
    assert delivery(env, placed["id"], "sms") == ("sent", ["sent"])
    # When delivered arrives, then a late "queued" and a repeated "sent"
    twilio_post(STATUS_PATH, status_fields(env, placed, "delivered"))
    twilio_post(STATUS_PATH, status_fields(env, placed, "queued"))
    twilio_post(STATUS_PATH, status_fields(env, placed, "sent"))
    # Then the SMS is delivered; the late report is history, the repeat recorded once
    assert delivery(env, placed["id"], "sms") == ("delivered", ["sent", "delivered", "queued"])
    assert delivery(env, placed["id"], "email") == (None, [])


@pytest.mark.parametrize(("status", "code"), [("undelivered", "30003"), ("failed", "30008")])
def test_twilio_failure_records_its_error_code(env: Env, signer: SendGridSigner, status: str, code: str) -> None:
    placed = placed_and_sent(env)
    twilio_post(STATUS_PATH, status_fields(env, placed, status, ErrorCode=code))
    item = notification(env, placed["id"], "sms")
    assert (item["delivery_status"]["S"], item["delivery_error_code"]["S"]) == (status, code)


def test_twilio_callback_is_linked_by_its_status_callback_url_parameters(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    # Given a callback whose MessageSid the table does not know (it came before the sender recorded it), on a
    # status-callback URL carrying Herald's link parameters (covered by the signature)
    query = urlencode({"source": placed["source"], "event_id": placed["id"], "order_id": placed["data"]["order"]["id"]})
    fields = status_fields(env, placed, "delivered") | {"MessageSid": "SM" + "f" * 32, "SmsSid": "SM" + "f" * 32}
    # When it arrives
    assert twilio_post(STATUS_PATH, fields, query=query)["statusCode"] == 204
    # Then the notification the parameters name is delivered
    assert delivery(env, placed["id"], "sms") == ("delivered", ["delivered"])


@pytest.mark.parametrize("forgery", ["unsigned", "other token", "tampered status", "other url"])
def test_forged_twilio_callbacks_are_refused_and_record_nothing(env: Env, signer: SendGridSigner, forgery: str) -> None:
    placed = placed_and_sent(env)
    before = snapshot(env)
    fields = status_fields(env, placed, "undelivered", ErrorCode="30003")
    url = f"https://{DOMAIN}{STATUS_PATH}"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, fields)
    if forgery == "other token":
        signature = RequestValidator("not-the-token").compute_signature(url, fields)
    elif forgery == "other url":
        signature = RequestValidator(TWILIO_TOKEN).compute_signature("https://attacker.example" + STATUS_PATH, fields)
    body = urlencode(fields).encode()
    if forgery == "tampered status":
        body = urlencode(fields | {"MessageStatus": "delivered"}).encode()
    headers = {} if forgery == "unsigned" else {"X-Twilio-Signature": signature}
    # When the callback arrives
    response = call(http_event(STATUS_PATH, body, headers))
    # Then it is refused (401 unsigned, 403 otherwise) and nothing was recorded
    assert response["statusCode"] == (401 if forgery == "unsigned" else 403)
    assert snapshot(env) == before


def test_inbound_sms_is_verified_recorded_once_and_answered_with_empty_twiml(env: Env, signer: SendGridSigner) -> None:
    fields = {
        "MessageSid": "SM" + "a" * 32,
        "SmsSid": "SM" + "a" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15551234567",
        "To": "+15005550006",
        "Body": "STOP",
        "NumMedia": "0",
        "SmsStatus": "received",
    }
    # When Twilio posts an inbound message, twice (a retry)
    first = twilio_post(INBOUND_PATH, fields)
    second = twilio_post(INBOUND_PATH, fields)
    # Then each is answered with an empty TwiML response
    for response in (first, second):
        assert response["statusCode"] == 200
        assert response["headers"]["Content-Type"] == "text/xml"
        assert response["body"].endswith("<Response />")
    # And the message is recorded once, with the sender's number masked
    (inbound,) = [i for i in env.items() if i["kind"]["S"] == "inbound_sms"]
    assert inbound["pk"]["S"] == "INBOUND#+15005550006"
    assert inbound["body"]["S"] == "STOP"
    assert "+15551234567" not in json.dumps(inbound)


def test_forged_inbound_sms_is_refused_and_records_nothing(env: Env, signer: SendGridSigner) -> None:
    before = snapshot(env)
    fields = {"MessageSid": "SM" + "b" * 32, "From": "+15551234567", "To": "+15005550006", "Body": "STOP"}
    response = twilio_post(INBOUND_PATH, fields, token="not-the-token")
    assert response["statusCode"] == 403
    assert snapshot(env) == before
