"""`herald timeline` and GET /orders/{source}/{order_id}/timeline over orders taken through the real handlers."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from herald.handlers import dispatch, send_email, send_sms
from herald.handlers import timeline as timeline_handler
from tests.storefronts import MOTO_SENDER_ID

from .conftest import TABLE, Env, FakeContext, sample
from .ops_support import deploy_outputs_stack, herald, plain_text

INTERNAL = {"pk", "sk", "expires_at", "lease_until", "delivery_events", "delivery_rank"}


@pytest.fixture
def ops_env(env: Env) -> Env:
    deploy_outputs_stack(env)
    timeline_handler.root.reset()
    return env


def _placed_email_sent_sms_throttled(env: Env) -> dict[str, Any]:
    """An order confirmation: email sent, SMS throttled once by Twilio (waiting for its retry)."""
    event = sample("order.placed")
    env.publish("order-events", [json.dumps(event)])
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    env.sms_faults.throttle_rate = 1.0
    assert len(env.deliver("sms", send_sms.handler)["batchItemFailures"]) == 1
    return event


def _report_delivery(env: Env, provider_message_id: str) -> None:
    """SendGrid reports the email delivered (the webhooks' use case, without the HTTP signature layer)."""
    from herald.adapters.dynamodb_delivery import DynamoDbDelivery
    from herald.usecases.delivery_status import DeliveryStatusService

    service = DeliveryStatusService(DynamoDbDelivery(env.dynamodb, TABLE))
    (result,) = service.apply_sendgrid_events(
        [
            {
                "event": "delivered",
                "sg_message_id": f"{provider_message_id}.filter0001.1-1",
                "sg_event_id": "evt-delivered-1",
                "timestamp": 1_700_000_000,
                "email": "someone@example.com",
            }
        ]
    )
    assert result.outcome.value == "advanced"


def test_timeline_json_tells_the_order_story_in_time_order(ops_env: Env) -> None:
    # Given an order confirmation whose email was sent and delivered and whose SMS Twilio throttled
    event = _placed_email_sent_sms_throttled(ops_env)
    email_item = ops_env.notifications()[f"NOTIF#{event['id']}#email"]
    _report_delivery(ops_env, email_item["provider_message_id"])

    # When the operator asks for the order's timeline as JSON
    result = herald("timeline", event["data"]["order"]["id"], "--source", event["source"], "--json")

    # Then it is the order's one event, then its two notifications
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.stdout)
    assert (timeline["source"], timeline["order_id"]) == (event["source"], event["data"]["order"]["id"])
    assert (timeline["events"], timeline["notifications"]) == (1, 2)
    kinds = [(e["kind"], e.get("channel")) for e in timeline["entries"]]
    assert kinds[0] == ("event", None)
    assert sorted(kinds[1:]) == [("notification", "email"), ("notification", "sms")]
    assert [e["at"] for e in timeline["entries"]] == sorted(e["at"] for e in timeline["entries"])
    by_channel = {e.get("channel"): e for e in timeline["entries"]}
    # And the event is dispatched, the email sent with SendGrid's id, delivered, with the report in its history
    assert by_channel[None]["status"] == "dispatched"
    email = by_channel["email"]
    assert (email["status"], email["attempts"]) == ("sent", 1)
    assert email["provider_message_id"] == ops_env.sendgrid.accepted[0]["message_id"]
    assert email["delivery_status"] == "delivered"
    assert [(h["provider"], h["event"], h["state"]) for h in email["history"]] == [
        ("sendgrid", "delivered", "delivered")
    ]
    # And the SMS waits for its retry with Twilio's code and its attempt count
    sms = by_channel["sms"]
    assert (sms["status"], sms["error_code"], sms["attempts"]) == ("retrying", "20429", 1)
    # And the table's bookkeeping stays out; recipients appear masked only
    for entry in timeline["entries"]:
        assert not INTERNAL & set(entry), entry
    assert event["data"]["customer"]["phone"] not in result.stdout
    assert event["data"]["customer"]["email"] not in result.stdout


def test_timeline_table_shows_states_codes_and_provider_reports(ops_env: Env) -> None:
    # Given the same story
    event = _placed_email_sent_sms_throttled(ops_env)
    _report_delivery(ops_env, ops_env.notifications()[f"NOTIF#{event['id']}#email"]["provider_message_id"])

    # When the operator reads the timeline in the terminal, without naming the source
    result = herald("timeline", event["data"]["order"]["id"])

    # Then the source was found, and each line says what happened
    assert result.exit_code == 0, result.output
    text = plain_text(result.stdout)
    assert f"of {event['source']}" in text
    assert "event order.placed" in text
    assert "dispatched" in text
    assert "sent / delivered" in text
    assert "sendgrid delivered -> delivered" in text
    assert "retrying" in text
    assert "error 20429" in text
    assert "1 events, 2 notifications" in text


def test_timeline_records_skipped_notifications_with_their_reason(ops_env: Env) -> None:
    # Given an order confirmation for a customer without a phone
    event = sample("order.placed", id="evt_no_phone")
    del event["data"]["customer"]["phone"]
    ops_env.publish("order-events", [json.dumps(event)])
    ops_env.deliver("order-events", dispatch.handler)

    # When the timeline is read
    result = herald("timeline", event["data"]["order"]["id"], "--source", event["source"], "--json")

    # Then the SMS is there, skipped, with dispatch's reason
    (sms,) = [e for e in json.loads(result.stdout)["entries"] if e.get("channel") == "sms"]
    assert sms["status"] == "skipped"
    assert sms["reason"]


def test_timeline_of_an_unknown_order_exits_1(ops_env: Env) -> None:
    # When the operator asks for an order nothing was recorded for, with and without its source
    without_source = herald("timeline", "ord_nobody")
    with_source = herald("timeline", "ord_nobody", "--source", "storefront/acme-outdoor")
    # Then both exit 1 and say so
    assert (without_source.exit_code, with_source.exit_code) == (1, 1)
    assert "no events recorded" in without_source.stderr


def test_timeline_without_source_refuses_an_order_id_two_storefronts_share(ops_env: Env) -> None:
    # Given the same order id placed at two storefronts
    for source, event_id in (("storefront/acme-outdoor", "evt_a"), ("storefront/other-shop", "evt_b")):
        ops_env.publish("order-events", [json.dumps(sample("order.placed", id=event_id, source=source))])
    ops_env.deliver("order-events", dispatch.handler)

    # When the operator leaves --source out
    result = herald("timeline", "ord_1001")

    # Then it is a usage error naming both sources
    assert result.exit_code == 2
    assert "storefront/acme-outdoor" in result.stderr
    assert "storefront/other-shop" in result.stderr


def _http_get(path: str, caller: str = MOTO_SENDER_ID) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) GET, as the IAM-authorised route delivers it, signed by `caller`
    (by default the samples' storefront's publisher)."""
    route = f"GET /orders/{{source}}/{{order_id}}/{path.rsplit('/', 1)[-1]}"
    event = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "authorizer": {
                "iam": {
                    "accountId": "123456789012",
                    "userArn": "arn:aws:iam::123456789012:user/publisher",
                    "userId": caller,
                }
            },
            "domainName": "api.example",
            "requestId": "r1",
            "routeKey": route,
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    response: dict[str, Any] = timeline_handler.handler(event, FakeContext())
    return response


def test_http_route_returns_the_same_json_as_the_cli(ops_env: Env) -> None:
    # Given an order taken through the pipeline
    event = _placed_email_sent_sms_throttled(ops_env)
    order_id = event["data"]["order"]["id"]
    cli = json.loads(herald("timeline", order_id, "--source", event["source"], "--json").stdout)

    # When the route is called with the source URL-encoded into one path segment
    response = _http_get(f"/orders/{quote(event['source'], safe='')}/{order_id}/timeline")

    # Then it answers 200 with the CLI's document
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == cli


def test_http_route_answers_404_for_an_unknown_order(ops_env: Env) -> None:
    # When the route is asked for an order nothing was recorded for
    response = _http_get("/orders/storefront%2Facme-outdoor/ord_nobody/timeline")
    # Then it is a 404, not an empty 200
    assert response["statusCode"] == 404


def test_http_route_refuses_another_storefronts_identity_before_reading_anything(ops_env: Env) -> None:
    # Given an order of the samples' storefront, and a caller that is no publisher of it nor an operator
    event = _placed_email_sent_sms_throttled(ops_env)
    path = f"/orders/{quote(event['source'], safe='')}/{event['data']['order']['id']}/timeline"
    # When that caller asks for the order's timeline, or for a storefront that does not exist
    other = _http_get(path, caller="AIDAOTHERSTOREFRONT01")
    unknown = _http_get("/orders/storefront%2Fnobody/ord_1001/timeline", caller="AIDAOTHERSTOREFRONT01")
    # Then both are 403, alike (the answer does not tell which storefronts exist)
    assert (other["statusCode"], unknown["statusCode"]) == (403, 403)
    assert other["body"] == unknown["body"]


def test_http_route_admits_an_operator_for_every_storefront(ops_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an operator listed in the template's TimelineOperatorIds
    monkeypatch.setenv("HERALD_TIMELINE_OPERATOR_IDS", "AIDAOPERATOR00000001")
    timeline_handler.root.reset()
    event = _placed_email_sent_sms_throttled(ops_env)
    path = f"/orders/{quote(event['source'], safe='')}/{event['data']['order']['id']}/timeline"
    # When the operator reads the order's timeline; Then it is answered
    assert _http_get(path, caller="AIDAOPERATOR00000001")["statusCode"] == 200


def test_evidence_route_returns_the_clis_pack_and_refuses_another_storefront(ops_env: Env) -> None:
    # Given an order taken through the pipeline
    event = _placed_email_sent_sms_throttled(ops_env)
    order_id = event["data"]["order"]["id"]
    cli = json.loads(herald("evidence", order_id, "--source", event["source"], "--json").stdout)
    path = f"/orders/{quote(event['source'], safe='')}/{order_id}/evidence"
    # When its storefront asks for the evidence pack over the route
    response = _http_get(path)
    # Then it is the CLI's pack (but for the moment it was made)
    assert response["statusCode"] == 200
    pack = json.loads(response["body"])
    assert {k: v for k, v in pack.items() if k != "generated_at"} == {
        k: v for k, v in cli.items() if k != "generated_at"
    }
    # And another storefront's identity is refused before anything is read, and an unknown order is a 404
    assert _http_get(path, caller="AIDAOTHERSTOREFRONT01")["statusCode"] == 403
    assert _http_get("/orders/storefront%2Facme-outdoor/ord_nobody/evidence")["statusCode"] == 404
