"""The outbound-webhooks function over moto and the storefront receiver stand-in (HTTPS, verifying as the docs say):
delivered, retried then delivered, refused for good, parked in the DLQ after maxReceiveCount receives, skipped for a
storefront without `outbound`, and put on the storefront's EventBridge bus."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from herald.adapters.dynamodb_ledger import DynamoDbLedger
from herald.adapters.sqs_outbound import SqsOutboundEvents
from herald.domain.outbound import OutboundType, outbound_event, outbound_event_id
from herald.handlers import outbound_webhooks
from herald.usecases.timeline import build_timeline
from herald_tools.local.ports import RECEIVER_CA_VARIABLE
from herald_tools.local.standins.storefront_webhooks import StorefrontWebhookReceiver
from tests.handlers.conftest import MAX_RECEIVE_COUNT, REGION, Env, _create_queue
from tests.storefronts import REGISTRY_PATH, seed_registry, storefront

SOURCE = "storefront/acme"
PLAIN = "storefront/plain"
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
BUS_NAME = "acme-orders"
BUS = f"arn:aws:events:{REGION}:123456789012:event-bus/{BUS_NAME}"


@pytest.fixture
def receiver(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[StorefrontWebhookReceiver]:
    """The storefront's receiver, its registry entry and secret, and the outbound-webhooks queue."""
    with StorefrontWebhookReceiver([SECRET], record_dir=tmp_path / "receiver") as stand_in:
        # The functions trust the stand-in's CA, as the local runtime makes them (herald_tools.local.ports)
        monkeypatch.setenv(RECEIVER_CA_VARIABLE, str(stand_in.ca_path))
        monkeypatch.setenv("HERALD_RETRY_BASE_SECONDS", "60")
        env.queues["outbound"] = _create_queue(env.sqs, "outbound")
        env.queues["outbound-dlq"] = env.sqs.get_queue_url(QueueName="outbound-dlq")["QueueUrl"]
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="herald/acme/outbound", SecretString=SECRET
        )
        seed_registry(
            boto3.client("ssm", region_name=REGION),
            REGISTRY_PATH,
            storefront(SOURCE, outbound={"url": stand_in.webhook_url, "secret_id": "herald/acme/outbound"}),
            storefront(PLAIN),
        )
        yield stand_in


def publish(env: Env, source: str = SOURCE, cause: str = "submission-1") -> dict[str, Any]:
    """What the lead's order page does on a dispute: build the event and publish it through the port."""
    event = outbound_event(
        source,
        OutboundType.DELIVERY_DISPUTED,
        "1001",
        {"shipment_id": "shp_1", "answer": "not_received", "note": "Nothing at the door; call jane@example.com"},
        outbound_event_id(OutboundType.DELIVERY_DISPUTED, "1001", cause),
    )
    SqsOutboundEvents(env.sqs, env.queues["outbound"]).publish(event)
    return event


def webhook_entries(env: Env, source: str = SOURCE) -> list[dict[str, Any]]:
    items = DynamoDbLedger(env.dynamodb, "herald-test-notifications").order_items(source, "1001")
    return [e for e in build_timeline(source, "1001", items)["entries"] if e["kind"].startswith("webhook_")]


def test_a_published_event_reaches_the_storefront_signed_and_is_on_the_timeline(
    env: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a disputed delivery published on the outbound queue
    event = publish(env)
    # When the function drains the queue
    result = env.deliver("outbound", outbound_webhooks.handler)
    # Then the receiver verified it (its signature, as the docs say) and got the CloudEvent as published
    assert result["batchItemFailures"] == []
    (received,) = receiver.received
    assert received["event"] == event
    assert received["webhook_id"] == event["id"]
    assert received["content_type"] == "application/cloudevents+json"
    assert receiver.refused == 0
    # And the order's timeline says delivered, with the receiver's status, the customer's address masked
    (entry,) = webhook_entries(env)
    assert (entry["kind"], entry["status"], entry["status_code"], entry["attempts"]) == (
        "webhook_delivered",
        "delivered",
        204,
        1,
    )
    assert entry["event_id"] == event["id"]
    assert entry["summary"] == "webhook delivery.disputed delivered (HTTP 204; 1 attempt)"
    # And nothing is left on the queue
    assert env.depth("outbound") == 0


def test_a_receiver_that_fails_is_retried_after_the_back_off_then_delivered(
    env: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a receiver told to answer its next request with a 500, on a queue that hides a received message for no
    # time at all (so only the function's back-off can keep the message away)
    env.sqs.set_queue_attributes(QueueUrl=env.queues["outbound"], Attributes={"VisibilityTimeout": "0"})
    receiver.fail_next(1)
    event = publish(env)
    # When the function drains the queue
    first = env.deliver("outbound", outbound_webhooks.handler)
    # Then the record failed, and its message waits out the back-off (60 s) instead of coming straight back
    assert len(first["batchItemFailures"]) == 1
    assert env.deliver("outbound", outbound_webhooks.handler)["records"] == 0
    (retrying,) = webhook_entries(env)
    assert (retrying["kind"], retrying["status_code"]) == ("webhook_retrying", 500)
    # When the back-off has passed and the function drains the queue again
    env.make_visible("outbound")
    second = env.deliver("outbound", outbound_webhooks.handler)
    # Then it was delivered on the second attempt, once, with the same id
    assert second["batchItemFailures"] == []
    assert [r["webhook_id"] for r in receiver.received] == [event["id"]]
    (entry,) = webhook_entries(env)
    assert (entry["kind"], entry["attempts"]) == ("webhook_delivered", 2)
    assert [h["kind"] for h in entry["history"]] == ["webhook_retrying", "webhook_delivered"]


def test_a_4xx_is_a_final_failure_recorded_with_its_status_and_never_retried(
    env: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a receiver that answers 422 (it will refuse the same request again)
    receiver.fail_next(1, status=422)
    publish(env)
    # When the function drains the queue
    result = env.deliver("outbound", outbound_webhooks.handler)
    # Then the message is acknowledged (not retried, not parked), and the failure recorded with the status
    assert result["batchItemFailures"] == []
    assert env.depth("outbound") == 0
    assert env.depth("outbound-dlq") == 0
    (entry,) = webhook_entries(env)
    assert (entry["kind"], entry["status"], entry["status_code"]) == ("webhook_failed", "failed", 422)
    assert receiver.received == []


def test_a_receiver_that_keeps_failing_parks_the_event_in_the_dlq_after_max_receive_count(
    env: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a receiver that answers 503 to every attempt
    receiver.fail_next(MAX_RECEIVE_COUNT + 5, status=503)
    publish(env)
    # When the queue is drained MaxReceiveCount times, each time once the back-off has passed
    for _ in range(MAX_RECEIVE_COUNT):
        assert env.deliver("outbound", outbound_webhooks.handler)["records"] == 1
        env.make_visible("outbound")
    # Then SQS hands it to no one again but parks it in the DLQ
    assert env.deliver("outbound", outbound_webhooks.handler)["records"] == 0
    assert env.depth("outbound-dlq") == 1
    # And the timeline says it failed for good, with every attempt, the last one naming the DLQ
    (entry,) = webhook_entries(env)
    assert (entry["kind"], entry["status"], entry["attempts"]) == ("webhook_failed", "dlq", MAX_RECEIVE_COUNT)
    assert "the message goes to the DLQ" in entry["reason"]


def test_a_storefront_without_outbound_is_recorded_skipped_not_an_error(
    env: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given an event about a storefront whose entry has no outbound webhook
    publish(env, source=PLAIN)
    # When the function drains the queue
    result = env.deliver("outbound", outbound_webhooks.handler)
    # Then the message is acknowledged, nothing was sent, and the skip is on the timeline with its reason
    assert result["batchItemFailures"] == []
    assert receiver.request_count == 0
    (entry,) = webhook_entries(env, PLAIN)
    assert entry["kind"] == "webhook_skipped"
    assert entry["reason"] == f"storefront {PLAIN!r} has no outbound webhook in its registry entry"


def test_a_request_signed_with_another_secret_is_refused_by_the_receiver_and_fails(
    env: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a receiver that holds another secret than Herald signs with
    receiver.secrets = ["whsec_" + base64.b64encode(bytes(24)).decode()]
    publish(env)
    # When the function delivers the event
    env.deliver("outbound", outbound_webhooks.handler)
    # Then the receiver refused it (401), and Herald recorded the refusal
    assert receiver.refused == 1
    assert receiver.received == []
    (entry,) = webhook_entries(env)
    assert (entry["kind"], entry["status_code"]) == ("webhook_failed", 401)


def test_with_an_event_bus_the_event_is_put_on_it_as_source_herald(
    env: Env, receiver: StorefrontWebhookReceiver
) -> None:
    # Given a storefront whose entry names its bus, and a rule on it that copies every herald event to a queue
    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name=BUS_NAME)
    seen = _create_queue(env.sqs, "bus-seen")
    seen_arn = env.sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="herald", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": ["herald"]}))
    events.put_targets(Rule="herald", EventBusName=BUS_NAME, Targets=[{"Id": "seen", "Arn": seen_arn}])
    outbound = {"url": receiver.webhook_url, "secret_id": "herald/acme/outbound", "event_bus_arn": BUS}
    seed_registry(boto3.client("ssm", region_name=REGION), REGISTRY_PATH, storefront(SOURCE, outbound=outbound))
    event = publish(env)
    # When the function delivers it
    assert env.deliver("outbound", outbound_webhooks.handler)["batchItemFailures"] == []
    # Then the bus got it: source herald, detail-type the event's type, detail the CloudEvent
    (message,) = env.sqs.receive_message(QueueUrl=seen, MaxNumberOfMessages=10)["Messages"]
    put = json.loads(message["Body"])
    assert (put["source"], put["detail-type"], put["detail"]) == ("herald", "delivery.disputed", event)
    # And so did the webhook, and the timeline names both targets
    assert len(receiver.received) == 1
    (entry,) = webhook_entries(env)
    assert entry["delivered"] == ["event_bus", "webhook"]
