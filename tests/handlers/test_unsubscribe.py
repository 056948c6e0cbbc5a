"""One-click unsubscribe (RFC 8058) end to end: the headers a non-transactional email carries through SendGrid and
SES, and the signed link on the webhooks API that records the opt-out (issue 9, section 5)."""

from __future__ import annotations

import base64
import json
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
from herald.adapters.ses_email import SesEmail
from herald.domain.notification import Channel, ChannelMessage, EmailContent
from herald.domain.suppression import SuppressionSignal
from herald.handlers import dispatch, send_email, webhooks
from herald.webhooks.unsubscribe_token import UnsubscribeTokens

from .conftest import REGION, TABLE, Env, FakeContext, sample

BASE_URL = "https://abc123defg.execute-api.us-east-1.amazonaws.com"
KEY = "k" * 40
SOURCE = "storefront/acme-outdoor"
ADDRESS = "jordan.rivera@example.com"
ONE_CLICK = b"List-Unsubscribe=One-Click"


@pytest.fixture
def links(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment with the webhooks API's URL and the unsubscribe key secret."""
    monkeypatch.setenv("HERALD_WEBHOOKS_BASE_URL", BASE_URL)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="herald/unsubscribe", SecretString=json.dumps({"keys": [KEY]}))


def send(env: Env, event_type: str, event_id: str, locale: str | None = None) -> None:
    event = sample(event_type, id=event_id)
    if locale is not None:
        event["data"]["customer"]["locale"] = locale
    env.publish("order-events", [json.dumps(event)])
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []


def last_email_headers(env: Env) -> Any:
    # The default policy decodes what the stand-in folded into RFC 2047 words when it wrote the .eml.
    return message_from_bytes(env.outbox.emails()[-1].read_bytes(), policy=policy.default)


def request(
    method: str, path: str, body: bytes = b"", *, encode: bool = False, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    event = {
        "version": "2.0",
        "routeKey": f"{method} /unsubscribe/{{token}}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": urlsplit(BASE_URL).netloc,
            "content-type": "application/x-www-form-urlencoded",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": urlsplit(BASE_URL).netloc,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "req-unsub",
            "routeKey": f"{method} /unsubscribe/{{token}}",
            "stage": "$default",
            "timeEpoch": 1_800_000_000_000,
        },
        "pathParameters": {"token": path.rsplit("/", 1)[-1]},
        "body": base64.b64encode(body).decode() if encode else body.decode(),
        "isBase64Encoded": encode,
    }
    response: dict[str, Any] = webhooks.handler(event, FakeContext())
    return response


def suppression(env: Env) -> Any:
    return DynamoDbSuppressions(env.dynamodb, TABLE).get(SOURCE, Channel.EMAIL, ADDRESS)


def emailed_link(env: Env, locale: str | None = None) -> str:
    """The path of the one-click link in the last email SendGrid's stand-in accepted."""
    send(env, "order.backordered", "evt_unsub_link", locale)
    return urlsplit(str(last_email_headers(env)["List-Unsubscribe"]).strip("<>")).path


def test_non_transactional_email_carries_one_click_unsubscribe_headers_through_sendgrid(env: Env, links: None) -> None:
    # Given a deployment with the link key; When a backorder notice (not transactional) is sent through SendGrid
    send(env, "order.backordered", "evt_unsub_1")
    headers = last_email_headers(env)
    # Then SendGrid received both RFC 8058 headers, the link an HTTPS URL on the webhooks API without the address
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(headers["List-Unsubscribe"])
    assert link.startswith(f"<{BASE_URL}/unsubscribe/")
    assert link.endswith(">")
    assert "jordan" not in link.lower()
    assert "acme" not in link


def test_transactional_email_carries_no_unsubscribe_link(env: Env, links: None) -> None:
    # Given the same deployment; When an order confirmation (transactional) is sent
    send(env, "order.placed", "evt_unsub_2")
    # Then it has no List-Unsubscribe: an opt-out would not stop it, so offering one would mislead
    headers = last_email_headers(env)
    assert headers["List-Unsubscribe"] is None
    assert headers["List-Unsubscribe-Post"] is None


def test_ses_receives_the_headers_in_simple_content(env: Env) -> None:
    # Given the SES adapter (the secondary provider) on moto, with the request as sent captured
    client = boto3.client("sesv2", region_name=REGION)
    sent: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.sesv2.SendEmail", lambda params, **_: sent.append(params))
    url = f"{BASE_URL}/unsubscribe/tok"
    message = ChannelMessage(
        notification_id=f"{SOURCE}|evt_ses|email",
        channel=Channel.EMAIL,
        source=SOURCE,
        event_id="evt_ses",
        event_type="order.backordered",
        event_time="2026-12-01T10:00:00Z",
        order_id="ord_1",
        order_number="1001",
        to=ADDRESS,
        email=EmailContent(
            subject="s", html="<p>h</p>", text="t", from_email="orders@acme.example", list_unsubscribe=url
        ),
    )
    # When it sends an email with a link
    assert SesEmail(client).send(message)
    # Then SES accepted Simple content carrying both headers (moto validates the request and keeps no headers,
    # so the request botocore sent is what is read)
    assert sent[0]["Content"]["Simple"]["Headers"] == [
        {"Name": "List-Unsubscribe", "Value": f"<{url}>"},
        {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
    ]


def test_one_click_post_records_the_unsubscribe_through_the_opt_out_path(env: Env, links: None) -> None:
    # Given the link of an email Herald sent
    path = emailed_link(env)
    # When the mail client posts the one-click body (base64, as HTTP APIs pass form bodies)
    response = request("POST", path, ONE_CLICK, encode=True)
    # Then the address is unsubscribed from that storefront's non-transactional email, as a SendGrid unsubscribe is
    assert response["statusCode"] == 200
    recorded = suppression(env)
    assert recorded is not None
    assert recorded.signal is SuppressionSignal.UNSUBSCRIBE
    assert recorded.reason == "one-click unsubscribe"
    # And the next backorder notice is suppressed while the order confirmation still goes
    send(env, "order.backordered", "evt_unsub_after")
    send(env, "order.placed", "evt_placed_after")
    statuses = {item["sk"]["S"]: item["status"]["S"] for item in env.items() if item["sk"]["S"].startswith("NOTIF#")}
    assert statuses["NOTIF#evt_unsub_after#email"] == "suppressed"
    assert statuses["NOTIF#evt_placed_after#email"] == "sent"


def test_get_shows_a_confirmation_form_and_records_nothing(env: Env, links: None) -> None:
    # Given the link of an email Herald sent; When it is opened (a person, or a mail scanner following links)
    path = emailed_link(env)
    response = request("GET", path)
    # Then a page with a form posting the one-click body is shown, without script, and nothing is recorded
    assert response["statusCode"] == 200
    page = response["body"]
    assert '<form method="post" action="">' in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    assert "<script" not in page
    assert "j***@example.com" in page
    assert ADDRESS not in page
    assert response["headers"]["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response["headers"]["Content-Security-Policy"]
    assert suppression(env) is None


def test_the_page_of_a_spanish_emails_link_is_in_spanish_and_so_is_its_answer(env: Env, links: None) -> None:
    # Given the link of an email Herald wrote in Spanish (an es-US customer's backorder notice)
    path = emailed_link(env, "es-US")
    # When it is opened in a browser that asks for French (the email's language, sealed in the token, comes first)
    page = request("GET", path, headers={"accept-language": "fr-CA"})["body"]
    # Then the confirmation page is in Spanish, with the same one-click form
    assert '<html lang="es-US">' in page
    assert "Darse de baja" in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    # And the answer to its post too
    answer = request("POST", path, ONE_CLICK)
    assert answer["statusCode"] == 200
    assert "j***@example.com ya no recibirá estos correos electrónicos." in answer["body"]
    assert suppression(env) is not None


def test_a_refused_link_answers_in_the_browsers_language(env: Env, links: None) -> None:
    # Given a link that does not verify (no language to read from it), When a French browser opens it
    response = request("GET", "/unsubscribe/not-a-token", headers={"accept-language": "fr-FR,fr;q=0.9"})
    # Then the refusal is in (Canadian) French
    assert response["statusCode"] == 403
    assert "Ce lien de désabonnement n&#39;est pas valide ou a expiré." in response["body"]


@pytest.mark.parametrize(
    "forgery", ["altered", "other_key", "expired", "garbage", "too_long", "other_scope", "other_channel"]
)
def test_forged_or_expired_link_is_refused_403_and_records_nothing(env: Env, links: None, forgery: str) -> None:
    # Given a link that Herald did not sign as it is, or that has expired
    path = emailed_link(env)
    token = path.rsplit("/", 1)[-1]
    tokens = {
        "altered": token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"),
        "other_key": UnsubscribeTokens(["x" * 40], lifetime_seconds=3600).issue(SOURCE, "email", ADDRESS),
        "expired": UnsubscribeTokens([KEY], lifetime_seconds=-1).issue(SOURCE, "email", ADDRESS),
        "garbage": "not-a-token",
        "too_long": token * 5,
        # signed with the deployment's key, but for what the link route never grants
        "other_scope": UnsubscribeTokens([KEY], lifetime_seconds=3600).issue(SOURCE, "email", ADDRESS, scope="all"),
        "other_channel": UnsubscribeTokens([KEY], lifetime_seconds=3600).issue(SOURCE, "sms", ADDRESS),
    }
    forged = f"/unsubscribe/{tokens[forgery]}"
    # When it is posted with the one-click body, and opened
    posted = request("POST", forged, ONE_CLICK)
    opened = request("GET", forged)
    # Then both are refused and no suppression is recorded
    assert (posted["statusCode"], opened["statusCode"]) == (403, 403)
    assert suppression(env) is None


def test_oversized_body_is_refused_413_before_parsing_and_records_nothing(env: Env, links: None) -> None:
    # Given a valid link; When posted with a body far above the one-click body's size
    path = emailed_link(env)
    response = request("POST", path, ONE_CLICK + b"&x=" + b"y" * 200_000)
    # Then it is refused as too large and nothing is recorded
    assert response["statusCode"] == 413
    assert suppression(env) is None


def test_post_without_the_one_click_body_is_refused_400_and_records_nothing(env: Env, links: None) -> None:
    # Given a valid link; When something posts to it without List-Unsubscribe=One-Click
    path = emailed_link(env)
    response = request("POST", path, b"hello=world")
    # Then it is refused and nothing is recorded
    assert response["statusCode"] == 400
    assert suppression(env) is None
