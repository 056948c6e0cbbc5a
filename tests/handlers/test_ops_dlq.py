"""`herald dlq list|show|redrive` against the handler-test queues: messages parked by the real senders."""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald.handlers import dispatch, send_email, send_sms

from .conftest import MAX_RECEIVE_COUNT, Env, sample
from .ops_support import deploy_outputs_stack, herald, plain_text


@pytest.fixture
def ops_env(env: Env) -> Env:
    deploy_outputs_stack(env)
    return env


def _park_sms_after_retries(env: Env) -> dict[str, Any]:
    """An order confirmation whose SMS Twilio throttled until SQS moved it to the SMS DLQ."""
    event = sample("order.placed")
    env.publish("order-events", [json.dumps(event)])
    env.deliver("order-events", dispatch.handler)
    env.sms_faults.throttle_rate = 1.0
    for _ in range(MAX_RECEIVE_COUNT):
        assert len(env.deliver("sms", send_sms.handler)["batchItemFailures"]) == 1
        env.make_visible("sms")
    assert env.deliver("sms", send_sms.handler)["records"] == 0  # SQS moves it to the DLQ instead
    assert env.depth("sms-dlq") == 1
    return event


def _visible(env: Env, queue: str) -> int:
    attributes = env.sqs.get_queue_attributes(
        QueueUrl=env.queues[queue], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _sms_status(env: Env, event_id: str) -> dict[str, str]:
    return env.notifications()[f"NOTIF#{event_id}#sms"]


def test_dlq_list_counts_the_sms_parked_after_retries(ops_env: Env) -> None:
    # Given an SMS parked in its DLQ after maxReceiveCount throttled attempts
    _park_sms_after_retries(ops_env)

    # When the operator lists the DLQs of the stack
    result = herald("dlq", "list", "--json")

    # Then every DLQ of the stack's outputs is listed, and only the SMS one holds a message
    assert result.exit_code == 0, result.output
    depths = {row["queue"]: row["messages"] for row in json.loads(result.stdout)}
    assert depths == {"email": 0, "order-events": 0, "shipment-events": 0, "sms": 1}
    # And the table form names it too
    table = plain_text(herald("dlq", "list").stdout)
    assert "sms 1 0" in table


def test_dlq_show_gives_the_provider_error_and_leaves_the_message_in_the_queue(ops_env: Env) -> None:
    # Given an SMS parked after Twilio throttled every attempt
    event = _park_sms_after_retries(ops_env)

    # When the operator shows the SMS DLQ
    result = herald("dlq", "show", "sms", "--json")

    # Then the message is explained from its notification record: parked, Twilio's 20429, three attempts
    assert result.exit_code == 0, result.output
    (parked,) = json.loads(result.stdout)
    assert parked["kind"] == "notification"
    assert parked["identity"]["event_id"] == event["id"]
    assert parked["identity"]["channel"] == "sms"
    assert (parked["status"], parked["error_code"], parked["attempts"]) == ("dlq", "20429", MAX_RECEIVE_COUNT)
    assert parked["reason"]
    # And nothing was removed: the message is still there and visible at once (not hidden by the peek)
    assert _visible(ops_env, "sms-dlq") == 1
    # And the table form shows the same reason
    table = plain_text(herald("dlq", "show", "sms").stdout)
    assert "20429" in table
    assert "dlq" in table


def test_dlq_show_explains_event_messages_by_their_contract_rejection(ops_env: Env) -> None:
    # Given an order-events DLQ holding a body that breaks the contract and a valid event never dispatched
    ops_env.sqs.send_message(QueueUrl=ops_env.queues["order-events-dlq"], MessageBody='{"specversion": "1.0"}')
    valid = sample("order.placed", id="evt_never_dispatched")
    ops_env.sqs.send_message(QueueUrl=ops_env.queues["order-events-dlq"], MessageBody=json.dumps(valid))

    # When the operator shows that DLQ
    result = herald("dlq", "show", "order-events", "--json")

    # Then the broken one carries the contract's reason, the valid one its identity and the missing record
    assert result.exit_code == 0, result.output
    by_status = {p["status"]: p for p in json.loads(result.stdout)}
    assert set(by_status) == {"rejected", None}
    assert by_status["rejected"]["kind"] == "event"
    assert by_status["rejected"]["reason"]
    never = by_status[None]
    assert never["identity"] == {
        "source": valid["source"],
        "event_id": "evt_never_dispatched",
        "event_type": "order.placed",
        "order_id": valid["data"]["order"]["id"],
    }
    assert "no dispatch record" in never["reason"]


def test_dlq_show_limit_pages_through_more_than_one_receive_batch(ops_env: Env) -> None:
    # Given 13 unreadable messages in the email DLQ (more than one ReceiveMessage returns)
    for number in range(13):
        ops_env.sqs.send_message(QueueUrl=ops_env.queues["email-dlq"], MessageBody=f"not json {number}")

    # When the operator shows up to 12 of them
    result = herald("dlq", "show", "email-dlq", "--limit", "12", "--json")

    # Then 12 distinct messages are shown, each unreadable with the JSON error, and all 13 stay visible
    shown = json.loads(result.stdout)
    assert len({p["message_id"] for p in shown}) == 12
    assert all(p["kind"] == "unreadable" and "not JSON" in p["reason"] for p in shown)
    assert _visible(ops_env, "email-dlq") == 13


def test_redrive_dry_run_lists_the_message_and_moves_nothing(ops_env: Env) -> None:
    # Given a parked SMS
    _park_sms_after_retries(ops_env)
    message_id = json.loads(herald("dlq", "show", "sms", "--json").stdout)[0]["message_id"]

    # When the operator asks what a redrive would move
    result = herald("dlq", "redrive", "sms", "--dry-run")

    # Then the message is listed and still in the DLQ, and the SMS queue is still empty
    assert result.exit_code == 0, result.output
    assert message_id[:8] in result.stdout  # Rich may fold the rest of the id onto the next line
    assert "would move 1" in plain_text(result.stdout)
    assert _visible(ops_env, "sms-dlq") == 1
    assert ops_env.depth("sms") == 0


def test_redrive_after_the_fix_sends_the_parked_sms_once(ops_env: Env) -> None:
    # Given an SMS parked while Twilio throttled, and Twilio fixed
    event = _park_sms_after_retries(ops_env)
    ops_env.sms_faults.throttle_rate = 0.0

    # When the operator redrives the SMS DLQ and the sender runs
    result = herald("dlq", "redrive", "sms")
    assert result.exit_code == 0, result.output
    assert "1 moved" in result.stdout
    assert (ops_env.depth("sms-dlq"), ops_env.depth("sms")) == (0, 1)
    assert ops_env.deliver("sms", send_sms.handler)["batchItemFailures"] == []

    # Then the SMS went out once and its notification is sent
    assert [s["to"] for s in ops_env.outbox.sms()] == [event["data"]["customer"]["phone"]]
    assert _sms_status(ops_env, event["id"])["status"] == "sent"
    # And a second redrive finds nothing to move
    again = herald("dlq", "redrive", "sms")
    assert again.exit_code == 0
    assert "0 moved" in again.stdout


def test_redriving_a_notification_that_was_already_sent_sends_nothing(ops_env: Env) -> None:
    # Given an order confirmation email sent once, and a copy of its queue message parked in the email DLQ
    # (a redelivered copy whose attempt failed after the first had been sent)
    event = sample("order.placed")
    ops_env.publish("order-events", [json.dumps(event)])
    ops_env.deliver("order-events", dispatch.handler)
    body = ops_env.receive("email")["Records"][0]["body"]
    ops_env.make_visible("email")
    assert ops_env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert len(ops_env.outbox.emails()) == 1
    ops_env.sqs.send_message(QueueUrl=ops_env.queues["email-dlq"], MessageBody=body)

    # When the operator redrives the email DLQ and the sender runs
    assert herald("dlq", "redrive", "email").exit_code == 0
    outcome = ops_env.deliver("email", send_email.handler)

    # Then the copy was acknowledged (not retried) and no second email reached SendGrid
    assert (outcome["records"], outcome["batchItemFailures"]) == (1, [])
    assert len(ops_env.outbox.emails()) == 1
    assert ops_env.depth("email") == ops_env.depth("email-dlq") == 0
    assert ops_env.notifications()[f"NOTIF#{event['id']}#email"]["status"] == "sent"


def test_unknown_queue_is_a_usage_error_naming_the_known_ones(ops_env: Env) -> None:
    # When the operator names a queue the stack does not have
    result = herald("dlq", "show", "fax")
    # Then the command exits 2 and lists the DLQs it knows
    assert result.exit_code == 2
    assert "email" in result.stderr
    assert "order-events" in result.stderr
