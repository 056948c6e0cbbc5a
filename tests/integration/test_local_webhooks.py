"""The local runtime closes the delivery loop: the stand-ins' signed callbacks reach the webhooks API it serves."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twilio.request_validator import RequestValidator

from herald_tools.local.demo import DemoRun, run_demo
from herald_tools.local.runtime import LocalRuntime

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ROOT / "events" / "demo" / "lifecycle.jsonl"
TOKEN = "it-twilio-token"


def _order(event_id: str, order_id: str, email: str) -> dict[str, Any]:
    """The lifecycle sample's first order.placed (email and SMS consent), with its own ids and address."""
    event = json.loads(LIFECYCLE.read_text().splitlines()[0])
    assert event["type"] == "order.placed"
    event["id"] = event_id
    event["subject"] = f"order/{order_id}"
    event["data"]["order"]["id"] = order_id
    event["data"]["customer"]["email"] = email
    return event


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    work = tmp_path_factory.mktemp("webhooks-demo")
    events = work / "events.jsonl"
    orders = [
        _order("evt_wh_ok", "ord_wh_ok", "jordan.rivera@example.com"),
        _order("evt_wh_bounce", "ord_wh_bounce", "bounce@simulator.amazonses.com"),
    ]
    events.write_text("".join(json.dumps(order) + "\n" for order in orders))
    return run_demo(events, template=ROOT / "template.yaml", outbox_dir=work / "outbox", work_dir=work, timeout=120)


def _notification(run: DemoRun, event_id: str, channel: str) -> dict[str, Any]:
    found = [n for n in run.report["notifications"] if n["event_id"] == event_id and n["channel"] == channel]
    assert len(found) == 1, run.report["notifications"]
    return found[0]


def test_an_order_ends_with_email_and_sms_reported_delivered(demo_run: DemoRun) -> None:
    # Given an order whose customer has an ordinary address and a deliverable phone
    # When it goes through the local demo, the stand-ins posting their signed delivery reports
    email = _notification(demo_run, "evt_wh_ok", "email")
    sms = _notification(demo_run, "evt_wh_ok", "sms")
    # Then the webhooks recorded both as delivered
    assert (email["status"], email["delivery_status"]) == ("sent", "delivered")
    assert (sms["status"], sms["delivery_status"]) == ("sent", "delivered")


def test_an_email_to_the_mailbox_simulators_bounce_address_ends_bounced(demo_run: DemoRun) -> None:
    # Given an order for bounce@simulator.amazonses.com; When it goes through the local demo
    email = _notification(demo_run, "evt_wh_bounce", "email")
    # Then SendGrid's bounce event reached the webhook and was recorded
    assert email["delivery_status"] == "bounced"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, ec.EllipticCurvePrivateKey]]:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    with LocalRuntime(
        ROOT / "template.yaml", log_dir=tmp_path_factory.mktemp("webhooks-logs"), stack_name="herald-webhooks-it"
    ) as started:
        secrets = started.aws.client("secretsmanager")
        env = started.stack.function("WebhooksFunction").environment
        secrets.create_secret(
            Name=env["HERALD_TWILIO_SECRET_ID"],
            SecretString=json.dumps(
                {"account_sid": "AC" + "0" * 32, "auth_token": TOKEN, "from_number": "+15005550006"}
            ),
        )
        secrets.create_secret(
            Name=env["HERALD_SENDGRID_WEBHOOK_SECRET_ID"],
            SecretString=json.dumps({"public_key": base64.b64encode(der).decode()}),
        )
        yield started, key


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _twilio_fields() -> dict[str, str]:
    return {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_twilio_callback_signed_with_the_auth_token_is_accepted(
    runtime: tuple[LocalRuntime, ec.EllipticCurvePrivateKey],
) -> None:
    # Given a status callback signed as Twilio signs it, for the URL the local API serves
    url = f"{runtime[0].webhooks_url}/webhooks/twilio/status?n=ntf_unknown"
    fields = _twilio_fields()
    signature = RequestValidator(TOKEN).compute_signature(url, fields)
    # When it is posted; Then the webhook takes it (the control for the refusals below)
    assert _post(url, urlencode(fields).encode(), {**FORM, "X-Twilio-Signature": signature}) == 204


def test_forged_twilio_callbacks_are_refused(runtime: tuple[LocalRuntime, ec.EllipticCurvePrivateKey]) -> None:
    url = f"{runtime[0].webhooks_url}/webhooks/twilio/status"
    fields = _twilio_fields()
    body = urlencode(fields).encode()
    # Given callbacks signed with another token, signed for other fields, and not signed at all
    wrong_token = RequestValidator("not-the-token").compute_signature(url, fields)
    other_fields = RequestValidator(TOKEN).compute_signature(url, {**fields, "MessageStatus": "sent"})
    # When each is posted; Then each is refused
    assert _post(url, body, {**FORM, "X-Twilio-Signature": wrong_token}) == 403
    assert _post(url, body, {**FORM, "X-Twilio-Signature": other_fields}) == 403
    assert _post(url, body, FORM) == 401


def test_forged_sendgrid_event_posts_are_refused(runtime: tuple[LocalRuntime, ec.EllipticCurvePrivateKey]) -> None:
    url = f"{runtime[0].webhooks_url}/webhooks/sendgrid/events"
    body = json.dumps([{"event": "delivered", "email": "a@example.com", "sg_message_id": "x.y"}]).encode()
    timestamp = str(int(time.time()))

    def signed(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
        signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }

    # Given a post signed with a key that is not the configured one, and one without a signature
    forged = signed(ec.generate_private_key(ec.SECP256R1()))
    # When each is posted; Then each is refused
    assert _post(url, body, forged) == 403
    assert _post(url, body, {"Content-Type": "application/json"}) == 401
    # And the same post signed with the configured key is taken, once: its replay is refused too
    genuine = signed(runtime[1])
    assert _post(url, body, genuine) == 200
    assert _post(url, body, genuine) == 403


def test_one_click_unsubscribe_link_is_served_by_the_local_api(
    runtime: tuple[LocalRuntime, ec.EllipticCurvePrivateKey],
) -> None:
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
    from herald.domain.notification import Channel
    from herald.webhooks.unsubscribe_token import UnsubscribeTokens

    local, _ = runtime
    # Given the deployment's unsubscribe key and a link signed with it, as the email sender signs one
    key = "local-unsubscribe-key-" + "x" * 20
    env = local.stack.function("WebhooksFunction").environment
    local.aws.client("secretsmanager").create_secret(
        Name=env["HERALD_UNSUBSCRIBE_SECRET_ID"], SecretString=json.dumps({"keys": [key]})
    )
    token = UnsubscribeTokens([key], lifetime_seconds=3600).issue("storefront/acme", "email", "jo@example.com")
    url = f"{local.webhooks_url}/unsubscribe/{token}"
    forged = f"{local.webhooks_url}/unsubscribe/{token[:-4]}AAAA"
    # When it is opened, then posted as a mail client's one-click button posts it (and a forged one too)
    with urllib.request.urlopen(url, timeout=30) as page:  # noqa: S310 - loopback
        assert page.status == 200
        assert b'name="List-Unsubscribe" value="One-Click"' in page.read()
    assert _post(forged, b"List-Unsubscribe=One-Click", FORM) == 403
    assert _post(url, b"List-Unsubscribe=One-Click", FORM) == 200
    # Then the address is unsubscribed from that storefront's non-transactional email
    table = local.stack.outputs["NotificationsTableName"]
    suppressions = DynamoDbSuppressions(local.aws.client("dynamodb"), table)
    recorded = suppressions.get("storefront/acme", Channel.EMAIL, "jo@example.com")
    assert recorded is not None
    assert recorded.reason == "one-click unsubscribe"
