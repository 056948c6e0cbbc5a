"""Channel fallback and deadline escalation over moto: the real dispatch, senders, webhooks and follow-up handlers.

A storefront that asks for one channel first (`notify.channels`) gets the other kept in standby; a failed
channel (a signed bounce, an undelivered callback, a provider's refusal) sends it once. An order confirmation
that no channel reports delivered by the deadline is escalated through each channel's secondary provider.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
from herald.domain.notification import Channel
from herald.domain.suppression import Suppression, SuppressionSignal
from herald.handlers import dispatch, followup, send_email, send_sms

from .conftest import REGION, TABLE, Env, sample
from .signing import (
    STATUS_PATH,
    SendGridSigner,
    post_sendgrid,
    sendgrid_event,
    signer,  # noqa: F401 - the fixture, used by name
    status_fields,
    twilio_post,
)

BOUNCE = {"email": "jordan.rivera@example.com", "timestamp": 1_800_000_000, "type": "bounce", "status": "5.1.1"}


def confirmation(event_id: str, *, first: list[str] | None = None, phone: str | None = None) -> dict[str, Any]:
    event = sample("order.placed", id=event_id)
    if first is not None:
        event["data"]["notify"] = {"channels": first}
    if phone:
        event["data"]["customer"]["phone"] = phone
    return event


def dispatched(env: Env, event: dict[str, Any]) -> None:
    env.publish("order-events", [json.dumps(event)])
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []


def item(env: Env, event_id: str, channel: str, suffix: str = "") -> dict[str, str]:
    return env.notifications()[f"NOTIF#{event_id}#{channel}{suffix}"]


def follow_up(env: Env) -> dict[str, Any]:
    return env.deliver("followup", followup.handler)


def follow_up_bodies(env: Env) -> list[dict[str, Any]]:
    response = env.sqs.receive_message(QueueUrl=env.queues["followup"], MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def sent_to(env: Env, channel: str) -> list[Any]:
    """What the stand-ins accepted on `channel` (SMS records, or .eml paths)."""
    return list(env.outbox.sms()) if channel == "sms" else list(env.outbox.emails())


# --- standby at dispatch ---------------------------------------------------------------------------


def test_email_first_confirmation_queues_the_email_and_keeps_the_sms_in_standby(env: Env) -> None:
    # Given an order confirmation the storefront wants by email first, to a customer who consented to SMS
    event = confirmation("evt_fb_standby", first=["email"])
    # When it is dispatched
    dispatched(env, event)
    # Then only the email is queued; the SMS is recorded in standby with its rendered message
    assert (env.depth("email"), env.depth("sms")) == (1, 0)
    sms = item(env, event["id"], "sms")
    assert sms["status"] == "standby"
    assert json.loads(sms["message"])["to"] == "+15005550006"
    assert "+15005550006" not in sms["recipient"]  # masked
    # And the email's deadline check waits on the follow-up queue
    (deadline,) = follow_up_bodies(env)
    assert (deadline["kind"], deadline["channel"]) == ("deadline", "email")


def test_a_preference_nobody_can_be_reached_on_falls_back_to_the_type_defaults(env: Env) -> None:
    # Given an SMS-first confirmation for a customer without a phone
    event = confirmation("evt_fb_pref", first=["sms"])
    del event["data"]["customer"]["phone"]
    # When it is dispatched
    dispatched(env, event)
    # Then the email goes out at once rather than nothing
    assert (env.depth("email"), env.depth("sms")) == (1, 0)
    assert item(env, event["id"], "email")["status"] == "pending"


def test_email_only_types_keep_a_reachable_sms_in_standby(env: Env) -> None:
    # Given a shipment.in_transit (email only by default) for a customer with a consented phone
    event = sample("shipment.in_transit", id="evt_fb_transit")
    env.publish("shipment-events", [json.dumps(event)])
    # When it is dispatched
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    # Then the SMS waits in standby and no deadline check is scheduled (only confirmations have one)
    assert item(env, event["id"], "sms")["status"] == "standby"
    assert env.depth("sms") == 0
    assert follow_up_bodies(env) == []


# --- fallback ---------------------------------------------------------------------------------------


def test_bounced_confirmation_email_sends_the_standby_sms_once(env: Env, signer: SendGridSigner) -> None:  # noqa: F811
    # Given an email-first confirmation whose email SendGrid accepted
    event = confirmation("evt_fb_bounce", first=["email"])
    dispatched(env, event)
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    follow_up(env)  # the deadline check (due at once here) finds nothing delivered yet but the email pending
    # When SendGrid reports a bounce, twice (providers repeat themselves)
    bounce = sendgrid_event(BOUNCE, event, env, "bounce")
    assert post_sendgrid(signer, [bounce])["statusCode"] == 200
    assert post_sendgrid(signer, [bounce | {"sg_event_id": "bounce-again"}])["statusCode"] == 200
    results = [follow_up(env), follow_up(env)]
    assert all(r["batchItemFailures"] == [] for r in results)
    # Then the standby SMS is queued, sent once, and says why it went
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    env.deliver("sms", send_sms.handler)
    assert len(sent_to(env, "sms")) == 1
    sms = item(env, event["id"], "sms")
    assert (sms["status"], sms["fallback_of"]) == ("sent", "email")
    assert "bounced" in sms["fallback_reason"]


def test_undelivered_sms_sends_the_standby_email(env: Env, signer: SendGridSigner) -> None:  # noqa: F811
    # Given an SMS-first confirmation whose SMS Twilio accepted
    event = confirmation("evt_fb_undelivered", first=["sms"])
    dispatched(env, event)
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    assert item(env, event["id"], "email")["status"] == "standby"
    # When Twilio calls back "undelivered" (30003: unreachable handset)
    response = twilio_post(STATUS_PATH, status_fields(env, event, "undelivered", ErrorCode="30003"))
    assert response["statusCode"] == 204
    follow_up(env)
    # Then the email goes out instead
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    (email,) = sent_to(env, "email")
    assert "To: jordan.rivera@example.com" in email.read_text()
    stored = item(env, event["id"], "email")
    assert (stored["status"], stored["fallback_of"]) == ("sent", "sms")
    assert "undelivered (30003)" in stored["fallback_reason"]


def test_provider_refusal_at_send_time_falls_back_too(env: Env) -> None:
    # Given an SMS-first confirmation to Twilio's magic number for an invalid "To" (21211, permanent)
    event = confirmation("evt_fb_refused", first=["sms"], phone="+15005550001")
    dispatched(env, event)
    # When Twilio refuses it
    env.deliver("sms", send_sms.handler)
    assert item(env, event["id"], "sms")["error_code"] == "21211"
    # Then the follow-up sends the standby email
    assert follow_up(env)["batchItemFailures"] == []
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert len(sent_to(env, "email")) == 1
    assert item(env, event["id"], "email")["fallback_reason"] == "sms refused (21211)"


def test_no_fallback_when_the_other_channel_was_sent_already(env: Env, signer: SendGridSigner) -> None:  # noqa: F811
    # Given a confirmation sent on both channels (the type's defaults: nothing in standby)
    event = confirmation("evt_fb_both")
    dispatched(env, event)
    env.deliver("email", send_email.handler)
    env.deliver("sms", send_sms.handler)
    # When the email bounces
    post_sendgrid(signer, [sendgrid_event(BOUNCE, event, env, "bounce")])
    follow_up(env)
    follow_up(env)
    # Then nothing more is sent: one SMS, one email, and the SMS is not touched
    assert (len(sent_to(env, "email")), len(sent_to(env, "sms"))) == (1, 1)
    assert "fallback_of" not in item(env, event["id"], "sms")


def test_standby_sms_is_not_sent_to_a_customer_who_texted_stop_since(env: Env, signer: SendGridSigner) -> None:  # noqa: F811
    # Given an email-first confirmation, and then STOP from the customer's phone
    event = confirmation("evt_fb_stop", first=["email"])
    dispatched(env, event)
    env.deliver("email", send_email.handler)
    DynamoDbSuppressions(boto3.client("dynamodb", region_name=REGION), TABLE).suppress(
        Suppression(
            event["source"], Channel.SMS, "+15005550006", SuppressionSignal.KEYWORD, "STOP", "2026-11-27T10:00:00Z"
        )
    )
    # When the email bounces
    post_sendgrid(signer, [sendgrid_event(BOUNCE, event, env, "bounce")])
    follow_up(env)
    follow_up(env)
    # Then the SMS is suppressed with the reason and never queued
    sms = item(env, event["id"], "sms")
    assert sms["status"] == "suppressed"
    assert "opted out" in sms["reason"]
    assert env.depth("sms") == 0


# --- deadline escalation ---------------------------------------------------------------------------


def test_confirmation_nobody_confirmed_by_the_deadline_is_escalated_once_per_channel(env: Env) -> None:
    # Given a confirmation sent on both channels, with no delivery report at all
    event = confirmation("evt_deadline_silent")
    dispatched(env, event)
    env.deliver("email", send_email.handler)
    env.deliver("sms", send_sms.handler)
    # When its deadline checks come due (twice: SQS delivers at least once)
    bodies = follow_up_bodies(env)
    env.publish("followup", [json.dumps(body) for body in bodies])
    assert follow_up(env)["batchItemFailures"] == []
    follow_up(env)
    # Then each channel has one escalation notification, queued once, marked for the secondary provider
    for channel in ("email", "sms"):
        escalation = item(env, event["id"], channel, "#escalation")
        assert escalation["status"] == "pending"
        assert escalation["escalation_of"] == f"{event['source']}|{event['id']}|{channel}"
        assert escalation["reason"] == "no delivery reported within 0 s"
    assert (env.depth("email"), env.depth("sms")) == (1, 1)
    # And the senders send each escalation once, through SES and SNS, saying why
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    for channel, provider in (("email", "ses"), ("sms", "sns")):
        escalation = item(env, event["id"], channel, "#escalation")
        assert (escalation["status"], escalation["provider"]) == ("sent", provider)
        assert escalation["route_reason"].startswith("escalation")
    ses_sent = boto3.client("ses", region_name=REGION).get_send_quota()["SentLast24Hours"]
    assert ses_sent == 1
    # And the primaries were sent once each, by SendGrid and Twilio
    assert (len(sent_to(env, "email")), len(sent_to(env, "sms"))) == (1, 1)


def test_confirmation_delivered_on_one_channel_is_not_escalated(env: Env, signer: SendGridSigner) -> None:  # noqa: F811
    # Given a confirmation whose email SendGrid reports delivered
    event = confirmation("evt_deadline_delivered")
    dispatched(env, event)
    env.deliver("email", send_email.handler)
    env.deliver("sms", send_sms.handler)
    post_sendgrid(signer, [sendgrid_event({"timestamp": 1_800_000_000}, event, env, "delivered")])
    # When the deadline checks come due
    assert follow_up(env)["batchItemFailures"] == []
    # Then nothing is escalated on either channel
    assert not [sk for sk in env.notifications() if sk.endswith("#escalation")]
    assert (env.depth("email"), env.depth("sms")) == (0, 0)


# --- provider failover ------------------------------------------------------------------------------


def test_sendgrid_outage_moves_email_to_ses_after_the_threshold(
    env: Env, monkeypatch: Any, capsys: Any, caplog: Any
) -> None:
    # Given a failover threshold of 2 and a SendGrid that answers every call with a 500
    monkeypatch.setenv("HERALD_FAILOVER_THRESHOLD", "2")
    monkeypatch.setenv("HERALD_FAILOVER_PROBE_SECONDS", "3600")
    send_email.root.reset()
    env.email_faults.server_error_rate = 1.0
    events = [confirmation(f"evt_failover_{n}", first=["email"]) for n in range(3)]
    for event in events:
        dispatched(env, event)
    # When the senders try (two failures open the circuit), then the retries come back
    first = env.deliver("email", send_email.handler)
    assert len(first["batchItemFailures"]) == 3
    env.make_visible("email")
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    # Then every email went out once, through SES, with the failover recorded on it; SendGrid sent none
    for event in events:
        email = item(env, event["id"], "email")
        assert (email["status"], email["provider"]) == ("sent", "ses")
        assert email["route_reason"] == "failover: sendgrid circuit open"
    assert sent_to(env, "email") == []
    assert boto3.client("ses", region_name=REGION).get_send_quota()["SentLast24Hours"] == 3
    # And the shared circuit says why
    circuit = env.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "CIRCUIT#email"}, "sk": {"S": "sendgrid"}})[
        "Item"
    ]
    assert circuit["state"]["S"] == "open"
    # And the switch was logged once and counted once (CloudWatch embedded metric format on stdout)
    switches = [r for r in caplog.records if r.getMessage().startswith("provider failover")]
    assert [(r.channel, r.from_provider, r.to_provider, r.levelname) for r in switches] == [
        ("email", "sendgrid", "ses", "WARNING")
    ]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "ProviderFailovers" in line]
    assert [m["ProviderFailovers"] for m in metrics] == [[1.0]]


# --- the follow-up's own failures ------------------------------------------------------------------


def test_a_follow_up_that_is_not_one_ends_in_the_follow_up_dlq(env: Env) -> None:
    # Given a body on the follow-up queue that is not a follow-up request
    env.publish("followup", ["{not json"])
    # When the follow-up function receives it as many times as the queue allows
    for _ in range(3):
        assert len(follow_up(env)["batchItemFailures"]) == 1
        env.make_visible("followup")
    follow_up(env)
    # Then SQS parked it in the follow-up DLQ, and nothing was queued
    assert env.depth("followup-dlq") == 1
    assert (env.depth("email"), env.depth("sms")) == (0, 0)


def test_a_fallback_that_could_not_be_queued_is_retried_and_sent_once(
    env: Env,
    signer: SendGridSigner,  # noqa: F811
    monkeypatch: Any,
) -> None:
    # Given an email-first confirmation whose email bounced
    event = confirmation("evt_fb_retry", first=["email"])
    dispatched(env, event)
    env.deliver("email", send_email.handler)
    follow_up(env)  # the deadline check
    post_sendgrid(signer, [sendgrid_event(BOUNCE, event, env, "bounce")])
    # When the SMS queue refuses the fallback once
    from herald.adapters.sqs_queue import SqsChannelQueue

    real_enqueue = SqsChannelQueue.enqueue
    monkeypatch.setattr(SqsChannelQueue, "enqueue", lambda self, messages: {m.notification_id for m in messages})
    assert len(follow_up(env)["batchItemFailures"]) == 1
    monkeypatch.setattr(SqsChannelQueue, "enqueue", real_enqueue)
    env.make_visible("followup")
    # Then the retried request queues it, and the SMS goes out once
    assert follow_up(env)["batchItemFailures"] == []
    env.deliver("sms", send_sms.handler)
    assert len(sent_to(env, "sms")) == 1
    assert item(env, event["id"], "sms")["status"] == "sent"


def test_an_escalation_that_ses_refuses_fails_with_the_code_and_asks_for_nothing_more(env: Env) -> None:
    # Given an email-first confirmation (SMS in standby) nobody confirmed, and an SES without the sender verified
    event = confirmation("evt_deadline_refused", first=["email"])
    dispatched(env, event)
    env.deliver("email", send_email.handler)
    boto3.client("sesv2", region_name=REGION).delete_email_identity(EmailIdentity="acme.example")
    # When the deadline escalates it and the sender tries SES
    follow_up(env)
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    # Then the escalation is failed with SES's code (never retried) and no further follow-up is asked for
    escalation = item(env, event["id"], "email", "#escalation")
    assert (escalation["status"], escalation["error_code"]) == ("failed", "MessageRejected")
    assert env.depth("followup") == 0
    assert env.depth("email") == 0


def test_a_repeated_identical_failure_report_asks_again_and_still_sends_once(
    env: Env,
    signer: SendGridSigner,  # noqa: F811
) -> None:
    # Given an email-first confirmation whose email SendGrid accepted
    event = confirmation("evt_fb_same_report", first=["email"])
    dispatched(env, event)
    env.deliver("email", send_email.handler)
    follow_up(env)  # the deadline check
    # When SendGrid posts the very same bounce twice (our first answer may have been lost); SendGrid signs each
    # attempt anew, so the retry carries a later timestamp (the same timestamp and body would be a replay)
    bounce = sendgrid_event(BOUNCE, event, env, "bounce")
    now = int(time.time())
    assert post_sendgrid(signer, [bounce], timestamp=now - 1)["statusCode"] == 200
    assert post_sendgrid(signer, [bounce], timestamp=now)["statusCode"] == 200
    # Then each post asked for the fallback, and the SMS still goes out once
    assert env.depth("followup") == 2
    follow_up(env)
    env.deliver("sms", send_sms.handler)
    env.deliver("sms", send_sms.handler)
    assert len(sent_to(env, "sms")) == 1
