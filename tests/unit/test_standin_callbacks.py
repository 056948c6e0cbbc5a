"""The stand-ins' delivery reports: SendGrid's signed Event Webhook posts and Twilio's signed status callbacks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from herald.webhooks.sendgrid_signature import SendGridWebhookVerifier
from herald.webhooks.twilio_signature import FormParams, TwilioWebhookVerifier
from herald_tools.local.standins.outbox import Outbox
from herald_tools.local.standins.sendgrid import SendGridStandIn, mailbox_simulator_outcome
from herald_tools.local.standins.twilio import TwilioStandIn

API_KEY = "SG.callbacks-test"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "callbacks-token"
SENDER = "+15005550006"


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Record)
        self.posts: list[tuple[str, dict[str, str], bytes]] = []


class _Record(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append((self.path, dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _Receiver, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def _send_email(standin: SendGridStandIn, to: str) -> None:
    payload: dict[str, Any] = {
        "personalizations": [{"to": [{"email": to}], "custom_args": {"notification_id": "ntf_1"}}],
        "from": {"email": "orders@acme.example"},
        "subject": "Your order",
        "content": [{"type": "text/plain", "value": "Thanks"}],
    }
    response = requests.post(
        f"{standin.url}/v3/mail/send", json=payload, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("email", "outcome"),
    [
        ("success@simulator.amazonses.com", "delivered"),
        ("bounce@simulator.amazonses.com", "bounce"),
        ("complaint@simulator.amazonses.com", "spamreport"),
        ("suppressionlist@simulator.amazonses.com", "dropped"),
        ("Bounce+label@Simulator.AmazonSES.com", "bounce"),
        ("jordan@example.com", "delivered"),
    ],
)
def test_mailbox_simulator_addresses_choose_the_event_after_processed(email: str, outcome: str) -> None:
    # Given a recipient; When the stand-in decides its fate; Then the SES simulator's convention applies
    assert mailbox_simulator_outcome(email) == outcome


def test_sendgrid_posts_processed_then_bounce_signed_with_the_published_key(
    tmp_path: Path, receiver: _Receiver
) -> None:
    # Given a SendGrid stand-in with callbacks on, posting to a receiver
    url = _url(receiver, "/webhooks/sendgrid/events")
    with SendGridStandIn(
        Outbox(tmp_path), API_KEY, callbacks_enabled=True, events_webhook_url=url, callback_delay=0.01
    ) as standin:
        # When it accepts a message for the simulator's bounce address
        _send_email(standin, "bounce@simulator.amazonses.com")
        assert standin.callbacks.wait_idle(10)
        key = standin.webhook_public_key
    # Then two posts arrive, each verifying against the public key it publishes, processed first
    verifier = SendGridWebhookVerifier(key)
    events = []
    for path, headers, body in receiver.posts:
        assert path == "/webhooks/sendgrid/events"
        verifier.check(headers, body)
        events.extend(json.loads(body))
    assert [e["event"] for e in events] == ["processed", "bounce"]
    assert {e["notification_id"] for e in events} == {"ntf_1"}
    assert events[1]["type"] == "bounce"
    assert events[0]["sg_message_id"] == events[1]["sg_message_id"]


def test_sendgrid_posts_nothing_with_callbacks_off(tmp_path: Path, receiver: _Receiver) -> None:
    # Given a stand-in with a webhook URL but callbacks left off (the default)
    with SendGridStandIn(Outbox(tmp_path), API_KEY, events_webhook_url=_url(receiver, "/e")) as standin:
        # When it accepts a message; Then nothing is scheduled or posted
        _send_email(standin, "success@simulator.amazonses.com")
        assert standin.callbacks.wait_idle(1)
    assert receiver.posts == []


def _send_sms(standin: TwilioStandIn, to: str, callback: str) -> str:
    response = requests.post(
        f"{standin.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"To": to, "From": SENDER, "Body": "Shipped", "StatusCallback": callback},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["sid"])


@pytest.mark.parametrize(
    ("to", "last"),
    [
        ("+14155550100", {"MessageStatus": "delivered"}),
        ("+15005550010", {"MessageStatus": "undelivered", "ErrorCode": "30003"}),
        ("+15005550011", {"MessageStatus": "undelivered", "ErrorCode": "30005"}),
    ],
)
def test_twilio_posts_status_callbacks_signed_with_the_auth_token(
    tmp_path: Path, receiver: _Receiver, to: str, last: dict[str, str]
) -> None:
    # Given a Twilio stand-in with callbacks on
    callback = _url(receiver, "/webhooks/twilio/status?n=ntf_1")
    with TwilioStandIn(
        Outbox(tmp_path), ACCOUNT_SID, AUTH_TOKEN, callbacks_enabled=True, callback_delay=0.01
    ) as standin:
        # When it accepts an SMS with a StatusCallback
        sid = _send_sms(standin, to, callback)
        assert standin.callbacks.wait_idle(10)
    # Then queued, sent and the outcome arrive, each signed for the callback URL with the auth token
    verifier = TwilioWebhookVerifier(AUTH_TOKEN)
    statuses = []
    for path, headers, body in receiver.posts:
        assert path == "/webhooks/twilio/status?n=ntf_1"
        params = FormParams(parse_qsl(body.decode(), keep_blank_values=True))
        verifier.verify(callback, params, headers)
        fields = params.first()
        assert fields["MessageSid"] == sid
        statuses.append(fields)
    assert [s["MessageStatus"] for s in statuses] == ["queued", "sent", last["MessageStatus"]]
    assert statuses[-1].get("ErrorCode") == last.get("ErrorCode")


def test_twilio_reports_nothing_after_sent_for_a_number_whose_carrier_never_confirms(
    tmp_path: Path, receiver: _Receiver
) -> None:
    # Given a Twilio stand-in with callbacks on
    callback = _url(receiver, "/webhooks/twilio/status?n=ntf_2")
    with TwilioStandIn(
        Outbox(tmp_path), ACCOUNT_SID, AUTH_TOKEN, callbacks_enabled=True, callback_delay=0.01
    ) as standin:
        # When it accepts an SMS to the never-confirming test number
        _send_sms(standin, "+15005550012", callback)
        assert standin.callbacks.wait_idle(10)
    # Then the callbacks stop at "sent": neither delivered nor undelivered ever comes
    statuses = [FormParams(parse_qsl(body.decode())).first()["MessageStatus"] for _, _, body in receiver.posts]
    assert statuses == ["queued", "sent"]
