"""Free text from providers and customers is stored masked; shipment state items expire with the table's TTL.

Issue 9, section 5: a SendGrid bounce `reason` or `response`, a Twilio `ErrorMessage`, a provider's error body and
an inbound SMS quote addresses and numbers; what the table keeps of them is masked as log lines are.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from herald.adapters.dynamodb_ledger import DynamoDbLedger
from herald.domain.notification import ChannelMessage
from herald.handlers import dispatch

from .conftest import TABLE, Env, sample
from .signing import (
    ALL_EVENTS,
    INBOUND_PATH,
    STATUS_PATH,
    SendGridSigner,
    notification,
    placed_and_sent,
    post_sendgrid,
    sendgrid_event,
    status_fields,
    twilio_post,
)
from .signing import signer as signer  # the fixture, used by name

ADDRESS = "o'brien+tag@x.example"
UK_MOBILE = "07700 900123"


def _history_reasons(item: dict[str, Any]) -> list[str]:
    return [entry["M"]["reason"]["S"] for entry in item.get("history", {}).get("L", []) if "reason" in entry["M"]]


def test_sendgrid_bounce_reason_is_stored_masked(env: Env, signer: SendGridSigner) -> None:
    # Given an email Herald sent
    placed = placed_and_sent(env)
    # When SendGrid reports a bounce whose SMTP reply quotes the address (and a phone number from a signature)
    reason = f"550 5.1.1 <{ADDRESS}>: mailbox unknown, call {UK_MOBILE}"
    event = sendgrid_event(ALL_EVENTS[0], placed, env, "bounce", reason=reason, status="5.1.1", type="bounce")
    assert post_sendgrid(signer, [event])["statusCode"] == 200
    # Then the notification's reason and its history keep the SMTP text but neither the address nor the number
    item = notification(env, placed["id"], "email")
    stored = [item["delivery_reason"]["S"], *_history_reasons(item)]
    assert len(stored) == 2
    for text in stored:
        assert "brien" not in text
        assert "900123" not in text
        assert "550 5.1.1 <o***@x.example>: mailbox unknown" in text


def test_sendgrid_deferral_response_is_stored_masked(env: Env, signer: SendGridSigner) -> None:
    # Given an email Herald sent; When SendGrid reports a deferral whose `response` quotes the address
    placed = placed_and_sent(env)
    event = sendgrid_event(ALL_EVENTS[0], placed, env, "deferred", response=f"421 try later for {ADDRESS}")
    assert post_sendgrid(signer, [event])["statusCode"] == 200
    # Then the stored reason is masked
    assert notification(env, placed["id"], "email")["delivery_reason"]["S"] == "421 try later for o***@x.example"


def test_twilio_error_message_is_stored_masked(env: Env, signer: SendGridSigner) -> None:
    # Given an SMS Herald sent; When Twilio reports it undelivered with an ErrorMessage quoting the number
    placed = placed_and_sent(env)
    fields = status_fields(
        env, placed, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable handset +44 7700 900123"
    )
    assert twilio_post(STATUS_PATH, fields)["statusCode"] == 204
    # Then the stored reason names the failure, not the number
    item = notification(env, placed["id"], "sms")
    for text in [item["delivery_reason"]["S"], *_history_reasons(item)]:
        assert "7700 900123" not in text
        assert "7700900123" not in text
        assert text.startswith("Unreachable handset +4")


def test_inbound_sms_body_is_stored_masked(env: Env, signer: SendGridSigner) -> None:
    # Given a customer texting their new address and number to the storefront's number
    fields = {
        "MessageSid": "SMmask1",
        "From": "+15005550006",
        "To": "+15005550001",
        "Body": f"new email {ADDRESS}, new phone (415) 555-0100",
        "AccountSid": "ACtest",
    }
    assert twilio_post(INBOUND_PATH, fields)["statusCode"] == 200
    # Then the recorded body keeps the words but not the address or the number
    (item,) = [i for i in env.items() if i["sk"]["S"] == "SMS#SMmask1"]
    assert item["body"]["S"] == "new email o***@x.example, new phone 4******100"


def test_provider_error_reason_recorded_on_a_failed_notification_is_masked(env: Env) -> None:
    # Given a notification a sender claimed
    ledger = DynamoDbLedger(env.dynamodb, TABLE)
    message = ChannelMessage.model_validate(
        {
            "notification_id": "storefront/acme|evt_mask|email",
            "channel": "email",
            "source": "storefront/acme",
            "event_id": "evt_mask",
            "event_type": "order.placed",
            "event_time": "2026-12-01T10:00:00Z",
            "order_id": "ord_mask",
            "order_number": "1001",
            "to": ADDRESS,
        }
    )
    now = datetime.now(UTC)
    ledger.claim(message, lease_seconds=60, now=now)
    # When the provider refuses it with an error body quoting the address, then a retry quotes a number
    ledger.mark_retrying(message, code="429", reason=f"slow down for {UK_MOBILE}", final=False, now=now)
    retrying = next(i for i in env.items() if i["sk"]["S"] == "NOTIF#evt_mask#email")["reason"]["S"]
    ledger.mark_failed(message, code="400", reason=f"The to address {ADDRESS} is invalid", now=now)
    # Then both stored reasons are masked
    (item,) = [i for i in env.items() if i["sk"]["S"] == "NOTIF#evt_mask#email"]
    assert retrying == "slow down for 0*******123"
    assert item["reason"]["S"] == "The to address o***@x.example is invalid"


def test_shipment_state_item_expires_with_the_tables_ttl(env: Env, monkeypatch: Any) -> None:
    # Given a deployment keeping records 30 days
    monkeypatch.setenv("HERALD_NOTIFICATION_TTL_DAYS", "30")
    # When a shipment event is dispatched
    before = int(time.time())
    env.publish("shipment-events", [json.dumps(sample("shipment.delivered"))])
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    # Then its shipment state item carries expires_at 30 days ahead, as the event's own records do
    (state,) = [i for i in env.items() if i["pk"]["S"].startswith("SHIPMENT#")]
    expires_at = int(state["expires_at"]["N"])
    assert before + 30 * 86_400 <= expires_at <= int(time.time()) + 30 * 86_400
