"""The webhooks' signed posts: SendGrid's and Twilio's side of each signature, and the scenario they report on.

Shared by every handler test that posts to the webhooks function (test_webhooks, test_webhook_hardening,
test_stored_text_masking, test_suppression, test_redundancy): one signer, one request shape.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from herald.handlers import dispatch, send_email, send_sms, webhooks
from tests.fixtures import FIXTURES_DIR as FIXTURES  # published payloads: tests/fixtures/SOURCES.md

from .conftest import REGION, TWILIO_TOKEN, Env, FakeContext, sample

ALL_EVENTS = json.loads((FIXTURES / "sendgrid_event_webhook_all_events.json").read_text())
BLOCKED = json.loads((FIXTURES / "sendgrid_event_webhook_bounce_blocked.json").read_text())[0]
TWILIO_SENT = json.loads((FIXTURES / "twilio_sms_status_callback_sent_docs_example.json").read_text())["fields"]

DOMAIN = "abc123defg.execute-api.us-east-1.amazonaws.com"
SENDGRID_PATH = "/webhooks/sendgrid/events"
STATUS_PATH = "/webhooks/twilio/status"
INBOUND_PATH = "/webhooks/twilio/inbound"


class SendGridSigner:
    """SendGrid's side of the Signed Event Webhook, with a key pair of our own."""

    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        der = self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }


def http_event(path: str, body: bytes, headers: dict[str, str], *, query: str = "", encode: bool = False) -> dict:
    """An API Gateway HTTP API (payload 2.0) request event, as the webhooks function receives it."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": query,
        # HTTP APIs lower-case header names
        "headers": {k.lower(): v for k, v in headers.items()} | {"host": DOMAIN, "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": DOMAIN,
            "domainPrefix": "abc123defg",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "req-1",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "27/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_800_000_000_000,
        },
        "body": base64.b64encode(body).decode() if encode else body.decode(),
        "isBase64Encoded": encode,
    }


@pytest.fixture
def signer(env: Env) -> Iterator[SendGridSigner]:
    import boto3

    signer = SendGridSigner()
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="herald/sendgrid-webhook", SecretString=json.dumps({"public_key": signer.public_key}))
    webhooks.root.reset()
    yield signer
    webhooks.root.reset()


def call(event: dict) -> dict[str, Any]:
    response: dict[str, Any] = webhooks.handler(event, FakeContext())
    return response


def snapshot(env: Env) -> list[dict[str, Any]]:
    return sorted(env.items(), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def placed_and_sent(env: Env, *, event_id: str = "evt_webhooks_1", phone: str | None = None) -> dict[str, Any]:
    """An order confirmation dispatched and sent on both channels by the real pipeline."""
    event = sample("order.placed", id=event_id)
    if phone:
        event["data"]["customer"]["phone"] = phone
    env.publish("order-events", [json.dumps(event)])
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    return event


def notification(env: Env, event_id: str, channel: str) -> dict[str, Any]:
    (item,) = [i for i in env.items() if i["sk"]["S"] == f"NOTIF#{event_id}#{channel}"]
    return item


def sendgrid_event(event: dict[str, Any], placed: dict[str, Any], env: Env, name: str, **fields: Any) -> dict:
    """A SendGrid event for the email Herald sent for `placed`, with the custom args Herald set."""
    message_id = notification(env, placed["id"], "email")["provider_message_id"]["S"]
    return {
        **event,
        "event": name,
        "sg_event_id": f"{name}-{placed['id']}-{len(fields)}-{fields.get('n', 0)}",
        "sg_message_id": f"{message_id}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        "source": placed["source"],
        "event_id": placed["id"],
        "order_id": placed["data"]["order"]["id"],
        "notification_id": f"{placed['source']}|{placed['id']}|email",
        **{k: v for k, v in fields.items() if k != "n"},
    }


def post_sendgrid(signer: SendGridSigner, events: list[dict], **sign: Any) -> dict[str, Any]:
    body = json.dumps(events).encode() + b"\r\n"
    return call(http_event(SENDGRID_PATH, body, signer.headers(body, **sign)))


def delivery(env: Env, event_id: str, channel: str) -> tuple[str | None, list[str]]:
    item = notification(env, event_id, channel)
    state = item.get("delivery_status", {}).get("S")
    history = [entry["M"]["event"]["S"] for entry in item.get("history", {}).get("L", [])]
    return state, history


def twilio_post(path: str, fields: dict[str, str], *, query: str = "", token: str = TWILIO_TOKEN, **kw: Any) -> dict:
    body = urlencode(fields).encode()
    url = f"https://{DOMAIN}{path}" + (f"?{query}" if query else "")
    signature = RequestValidator(token).compute_signature(url, fields)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    return call(http_event(path, body, headers, query=query, **kw))


def status_fields(env: Env, placed: dict[str, Any], status: str, **extra: str) -> dict[str, str]:
    """Twilio's published status callback, for the SMS Herald sent for `placed`."""
    sid = notification(env, placed["id"], "sms")["provider_message_id"]["S"]
    return TWILIO_SENT | {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status} | extra
