"""Every path an event can take through the real handlers: dispatch -> channel queues -> senders -> providers."""

from __future__ import annotations

import json

import pytest

from herald.handlers import dispatch, send_email, send_sms

from .conftest import MAX_RECEIVE_COUNT, Env, sample


def _dispatch_all(env: Env, queue: str = "order-events") -> dict:
    return env.deliver(queue, dispatch.handler)


def _notification(env: Env, event_id: str, channel: str) -> dict[str, str]:
    return env.notifications()[f"NOTIF#{event_id}#{channel}"]


def test_order_placed_is_sent_once_by_email_and_once_by_sms(env: Env) -> None:
    # Given an order confirmation for a customer with an email and a consenting phone
    event = sample("order.placed")
    env.publish("order-events", [json.dumps(event)])

    # When dispatch and both senders run
    assert _dispatch_all(env)["batchItemFailures"] == []
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []

    # Then one email and one SMS reached the providers, and both are recorded as sent with the provider ids
    assert len(env.outbox.emails()) == 1
    assert [s["to"] for s in env.outbox.sms()] == [event["data"]["customer"]["phone"]]
    email, sms = _notification(env, event["id"], "email"), _notification(env, event["id"], "sms")
    assert email["status"] == "sent"
    assert email["provider_message_id"] == env.sendgrid.accepted[0]["message_id"]
    assert sms["status"] == "sent"
    assert sms["provider_message_id"].startswith("SM")
    assert env.depth("email") == env.depth("sms") == 0


def test_same_event_published_twice_is_dispatched_once(env: Env) -> None:
    # Given the same event (same source and id) published twice
    event = sample("order.placed")
    env.publish("order-events", [json.dumps(event)])
    _dispatch_all(env)
    env.publish("order-events", [json.dumps(event)])

    # When dispatch sees it again
    _dispatch_all(env)

    # Then only the first copy queued messages
    assert env.depth("email") == 1
    assert env.depth("sms") == 1


def test_redelivered_channel_message_sends_nothing_twice(env: Env) -> None:
    # Given a dispatched order whose email message SQS delivers twice (at-least-once delivery)
    env.publish("order-events", [json.dumps(sample("order.placed"))])
    _dispatch_all(env)
    message = env.receive("email")["Records"][0]["body"]
    env.make_visible("email")
    env.publish("email", [message])

    # When the sender handles both copies
    env.deliver("email", send_email.handler)
    env.deliver("email", send_email.handler)

    # Then SendGrid was called once
    assert len(env.sendgrid.accepted) == 1
    assert len(env.outbox.emails()) == 1


def test_invalid_event_is_rejected_with_reason_and_never_retried(env: Env) -> None:
    # Given an event that breaks the contract (no customer)
    event = sample("order.placed", id="evt_broken")
    del event["data"]["customer"]
    env.publish("order-events", [json.dumps(event)])

    # When dispatch runs
    response = _dispatch_all(env)

    # Then the message is acknowledged (not retried), the rejection is recorded with why, nothing is queued
    assert response["batchItemFailures"] == []
    rejections = [i for i in env.items() if i["kind"]["S"] == "rejection"]
    assert len(rejections) == 1
    assert rejections[0]["event_id"]["S"] == "evt_broken"
    assert "customer" in rejections[0]["reason"]["S"]
    assert env.depth("order-events") == env.depth("email") == env.depth("sms") == 0


def test_opted_out_number_fails_permanently_with_twilio_code(env: Env) -> None:
    # Given a customer whose number has replied STOP (Twilio's test number +15005550004)
    event = sample("order.placed")
    event["data"]["customer"]["phone"] = "+15005550004"
    env.publish("order-events", [json.dumps(event)])
    _dispatch_all(env)

    # When the SMS sender runs
    response = env.deliver("sms", send_sms.handler)

    # Then it is recorded as failed with Twilio's code, acknowledged, and not retried
    assert response["batchItemFailures"] == []
    sms = _notification(env, event["id"], "sms")
    assert (sms["status"], sms["error_code"]) == ("failed", "21610")
    assert env.depth("sms") == 0
    assert env.depth("sms-dlq") == 0
    assert env.outbox.sms() == []


def test_provider_outage_is_retried_then_sent(env: Env) -> None:
    # Given SendGrid answering 500
    env.publish("order-events", [json.dumps(sample("order.placed"))])
    _dispatch_all(env)
    env.email_faults.server_error_rate = 1.0

    # When the sender runs during the outage, then after it
    first = env.deliver("email", send_email.handler)
    event_id = sample("order.placed")["id"]
    during = _notification(env, event_id, "email")
    env.email_faults.server_error_rate = 0.0
    env.make_visible("email")
    second = env.deliver("email", send_email.handler)

    # Then the first attempt is reported as a batch failure and recorded as retrying, the second sends
    assert len(first["batchItemFailures"]) == 1
    assert (during["status"], during["error_code"]) == ("retrying", "500")
    assert second["batchItemFailures"] == []
    after = _notification(env, event_id, "email")
    assert after["status"] == "sent"
    assert after["attempts"] == "2"
    assert len(env.outbox.emails()) == 1


def test_retries_exhausted_park_the_message_in_the_dlq(env: Env) -> None:
    # Given Twilio throttling every request
    env.publish("order-events", [json.dumps(sample("order.placed"))])
    _dispatch_all(env)
    env.sms_faults.throttle_rate = 1.0

    # When the sender has tried maxReceiveCount times
    for _ in range(MAX_RECEIVE_COUNT):
        assert len(env.deliver("sms", send_sms.handler)["batchItemFailures"]) == 1
        env.make_visible("sms")
    leftover = env.deliver("sms", send_sms.handler)  # SQS moves it to the DLQ instead of delivering it

    # Then the message is in the DLQ and the notification says so, with the last provider code
    assert leftover["records"] == 0
    assert env.depth("sms-dlq") == 1
    sms = _notification(env, sample("order.placed")["id"], "sms")
    assert (sms["status"], sms["error_code"]) == ("dlq", "20429")
    assert env.outbox.sms() == []


def test_older_shipment_status_is_superseded(env: Env) -> None:
    # Given a shipment already delivered
    delivered = sample("shipment.delivered")
    env.publish("shipment-events", [json.dumps(delivered)])
    _dispatch_all(env, "shipment-events")
    queued = env.depth("email"), env.depth("sms")

    # When an in_transit scan for it arrives late, with an older time
    late = sample("shipment.in_transit", id="evt_late_scan", time="2020-01-01T00:00:00Z")
    env.publish("shipment-events", [json.dumps(late)])
    _dispatch_all(env, "shipment-events")

    # Then it is recorded as superseded and nothing more is queued
    assert (env.depth("email"), env.depth("sms")) == queued
    items = {i["sk"]["S"]: i for i in env.items()}
    assert items["EVENT#evt_late_scan"]["status"]["S"] == "superseded"
    assert "in_transit does not follow delivered" in items["EVENT#evt_late_scan"]["reason"]["S"]


def test_only_the_first_in_transit_scan_is_notified(env: Env) -> None:
    # Given a first in_transit scan already notified
    first = sample("shipment.in_transit")
    env.publish("shipment-events", [json.dumps(first)])
    _dispatch_all(env, "shipment-events")

    # When a second scan (newer) arrives
    second = sample("shipment.in_transit", id="evt_second_scan", time="2026-11-01T00:00:00Z")
    env.publish("shipment-events", [json.dumps(second)])
    _dispatch_all(env, "shipment-events")

    # Then only the first produced an email, and in_transit never produces an SMS
    assert env.depth("email") == 1
    assert env.depth("sms") == 0
    items = {i["sk"]["S"]: i for i in env.items()}
    assert items["EVENT#evt_second_scan"]["status"]["S"] == "superseded"


def test_poison_message_fails_alone_in_its_batch(env: Env) -> None:
    # Given a batch on the email queue with two good messages and one that is not a notification at all
    for event_id in ("evt_a", "evt_b"):
        env.publish("order-events", [json.dumps(sample("order.placed", id=event_id))])
    _dispatch_all(env)
    env.publish("email", ['{"not": "a notification"}'])

    # When the sender handles the batch
    response = env.deliver("email", send_email.handler)

    # Then only the poison message is reported failed; its neighbours are sent and deleted
    assert response["records"] == 3
    assert len(response["batchItemFailures"]) == 1
    assert len(env.outbox.emails()) == 2
    assert env.depth("email") == 1


def test_invalid_event_does_not_hold_up_its_batch_neighbours(env: Env) -> None:
    # Given a batch of dispatch input: good events around bad JSON and an unknown type
    env.publish(
        "order-events",
        [
            json.dumps(sample("order.placed", id="evt_good_1")),
            "{not json",
            json.dumps(sample("order.placed", id="evt_unknown", type="order.teleported")),
            json.dumps(sample("order.placed", id="evt_good_2")),
        ],
    )

    # When dispatch runs over it
    response = _dispatch_all(env)

    # Then nothing is redelivered, both good events are queued on both channels, two rejections recorded
    assert response["records"] == 4
    assert response["batchItemFailures"] == []
    assert env.depth("email") == 2
    assert env.depth("sms") == 2
    reasons = sorted(i["reason"]["S"] for i in env.items() if i["kind"]["S"] == "rejection")
    assert reasons[0].startswith("body is not valid JSON")
    assert "unknown event type 'order.teleported'" in reasons[1]


def test_customer_without_sms_consent_gets_email_only(env: Env) -> None:
    # Given a customer who did not consent to SMS
    event = sample("order.placed")
    event["data"]["customer"]["sms_consent"] = False
    env.publish("order-events", [json.dumps(event)])

    # When dispatch runs
    _dispatch_all(env)

    # Then only email is queued, and the SMS is recorded as skipped with the reason
    assert env.depth("email") == 1
    assert env.depth("sms") == 0
    sms = _notification(env, event["id"], "sms")
    assert sms["status"] == "skipped"
    assert "consent" in sms["reason"]


def test_twilio_opt_out_refusal_suppresses_the_next_sms_at_dispatch(env: Env) -> None:
    # Given an SMS Twilio refused with 21610 (the customer had replied STOP to our number)
    first = sample("order.placed")
    first["data"]["customer"]["phone"] = "+15005550004"
    env.publish("order-events", [json.dumps(first)])
    _dispatch_all(env)
    env.deliver("sms", send_sms.handler)

    # When the same customer places another order
    second = sample("order.placed", id="evt_second_order")
    second["data"]["customer"]["phone"] = "+15005550004"
    env.publish("order-events", [json.dumps(second)])
    _dispatch_all(env)

    # Then its SMS is suppressed at dispatch with the reason (never queued, never refused again), its email is queued
    sms = _notification(env, "evt_second_order", "sms")
    assert sms["status"] == "suppressed"
    assert "21610" in sms["reason"]
    assert env.depth("sms") == 0
    assert env.depth("email") == 2


def test_failed_enqueue_redelivers_the_event_and_its_dispatch_resumes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SQS refusing every channel message of a first dispatch (SendMessageBatch entries all Failed)
    from herald.adapters.sqs_queue import SqsChannelQueue

    event = sample("order.placed")
    env.publish("order-events", [json.dumps(event)])
    monkeypatch.setattr(SqsChannelQueue, "_send_batch", lambda self, url, chunk: {nid for nid, _ in chunk})
    first = _dispatch_all(env)
    status_after_failure = {i["sk"]["S"]: i for i in env.items()}[f"EVENT#{event['id']}"]["status"]["S"]
    monkeypatch.undo()

    # When SQS redelivers the event
    env.make_visible("order-events")
    second = _dispatch_all(env)

    # Then the first attempt asked for redelivery and left the event resumable, the second queued each channel once
    assert len(first["batchItemFailures"]) == 1
    assert status_after_failure == "dispatching"
    assert second["batchItemFailures"] == []
    assert env.depth("email") == 1
    assert env.depth("sms") == 1
    assert {i["sk"]["S"]: i for i in env.items()}[f"EVENT#{event['id']}"]["status"]["S"] == "dispatched"
