"""The SendGrid stand-in, driven through the official `sendgrid` SDK over loopback.

Also pins `FaultPlan`, the fault injection both stand-ins share.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import requests
from python_http_client.exceptions import (
    BadRequestsError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail, Personalization, ReplyTo, To
from tests.fixtures import FIXTURES_DIR as FIXTURES  # published payloads: tests/fixtures/SOURCES.md

from herald_tools.local.standins.faults import FaultPlan
from herald_tools.local.standins.outbox import Outbox
from herald_tools.local.standins.sendgrid import MAX_BODY_BYTES, MESSAGES, SendGridStandIn

API_KEY = "SG.test-key.local"
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def _fixture() -> dict[str, Any]:
    return json.loads((FIXTURES / "sendgrid_v3_error_responses.json").read_text(encoding="utf-8"))


def _documented_messages() -> set[str]:
    return {m for table in _fixture()["d_mail_send_field_errors_legacy_docs"]["tables"] for m in table["messages"]}


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan(seed=7)


@pytest.fixture
def standin(outbox: Outbox, faults: FaultPlan) -> Iterator[SendGridStandIn]:
    with SendGridStandIn(outbox, API_KEY, faults=faults) as server:
        yield server


@pytest.fixture
def client(standin: SendGridStandIn) -> SendGridAPIClient:
    sg = SendGridAPIClient(API_KEY, host=standin.url)
    # SendGridAPIClient takes no timeout argument; the python_http_client it wraps has one, and the
    # per-call sub-clients (sg.client.mail.send) inherit it. Without it a hung request blocks forever.
    sg.client.timeout = 5
    return sg


def _mail(notification_id: str | None = "shopify|evt-1001|email") -> Mail:
    mail = Mail(
        from_email=("orders@shop.example", "Example Shop"),
        to_emails=To("ada@example.com", "Ada Lovelace"),
        subject="Your order #1001 is confirmed ✓",
        plain_text_content="Thanks for your order #1001.",
        html_content="<h1>Thanks</h1><p>Order #1001</p>",
    )
    mail.reply_to = ReplyTo("help@shop.example", "Shop Help")
    if notification_id is not None:
        mail.custom_arg = CustomArg("notification_id", notification_id)
    return mail


def _post_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    # Bypasses the SDK, which cannot send a request without a key or a body that is not JSON.
    response = requests.post(f"{url}/v3/mail/send", data=body, headers=headers, timeout=5)
    return response.status_code, response.json() if response.content else None


# -- accepted mail ------------------------------------------------------------------------------------


def test_a_valid_mail_is_accepted_with_202_and_a_sendgrid_style_message_id(
    standin: SendGridStandIn, client: SendGridAPIClient
) -> None:
    # Given the stand-in and an SDK client pointed at it
    # When the SDK sends a valid Mail
    response = client.send(_mail())

    # Then the answer is 202 with an empty body and a 22-character X-Message-Id
    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert MESSAGE_ID.match(message_id)
    # And the stand-in counted the request and summarised the accepted message
    assert standin.request_count == 1
    [summary] = standin.accepted
    assert summary["message_id"] == message_id
    assert summary["to"] == ["ada@example.com"]
    assert summary["subject"] == "Your order #1001 is confirmed ✓"
    assert summary["custom_args"] == {"notification_id": "shopify|evt-1001|email"}
    assert summary["name"] == "shopify_evt-1001_email"


def test_an_accepted_mail_lands_in_the_outbox_as_rfc5322_eml_and_html(
    outbox: Outbox, client: SendGridAPIClient
) -> None:
    # Given a mail with a display-name sender, a reply-to, text and HTML parts
    # When it is sent through the SDK
    response = client.send(_mail())

    # Then the outbox holds one .eml, named after the notification id, that a mail client can parse
    [eml_path] = outbox.emails()
    assert eml_path.name == "shopify_evt-1001_email.eml"
    msg = BytesParser(policy=policy.default).parsebytes(eml_path.read_bytes())
    assert isinstance(msg, EmailMessage)
    assert msg["From"] == "Example Shop <orders@shop.example>"
    assert msg["To"] == "Ada Lovelace <ada@example.com>"
    assert msg["Subject"] == "Your order #1001 is confirmed ✓"
    assert msg["Reply-To"] == "Shop Help <help@shop.example>"
    assert msg["Date"] is not None
    assert msg["Message-ID"].startswith(f"<{response.headers['X-Message-Id']}.")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().strip() == "Thanks for your order #1001."
    assert html.get_content().strip() == "<h1>Thanks</h1><p>Order #1001</p>"
    # And the HTML part is also saved on its own, for a browser
    assert eml_path.with_suffix(".html").read_text(encoding="utf-8") == "<h1>Thanks</h1><p>Order #1001</p>"


def test_without_a_notification_id_the_outbox_file_is_named_after_the_message_id(
    outbox: Outbox, client: SendGridAPIClient
) -> None:
    # Given a mail with no custom_args
    # When it is sent
    response = client.send(_mail(notification_id=None))

    # Then its files are named after the X-Message-Id
    [eml_path] = outbox.emails()
    assert eml_path.stem == response.headers["X-Message-Id"]


def test_each_personalization_becomes_its_own_email(
    outbox: Outbox, standin: SendGridStandIn, client: SendGridAPIClient
) -> None:
    # Given one request with two personalizations, each with its own notification id and subject
    mail = Mail(from_email="orders@shop.example", plain_text_content="Shipped")
    for n, address in enumerate(["ada@example.com", "grace@example.com"]):
        personalization = Personalization()
        personalization.add_to(To(address))
        personalization.subject = f"Shipped #{n}"
        personalization.add_custom_arg(CustomArg("notification_id", f"n-{n}"))
        mail.add_personalization(personalization)

    # When it is sent
    assert client.send(mail).status_code == 202

    # Then there is one .eml per personalization, with its own recipient and subject
    by_name = {p.stem: BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in outbox.emails()}
    assert set(by_name) == {"n-0", "n-1"}
    assert {m["To"] for m in by_name.values()} == {"ada@example.com", "grace@example.com"}
    assert {s["subject"] for s in standin.accepted} == {"Shipped #0", "Shipped #1"}


def test_sandbox_mode_validates_but_sends_nothing(outbox: Outbox, client: SendGridAPIClient) -> None:
    # Given a valid mail with sandbox mode on
    payload = _mail().get()
    payload["mail_settings"] = {"sandbox_mode": {"enable": True}}

    # When it is sent / Then the API answers 200 and nothing reaches the outbox
    response = client.client.mail.send.post(request_body=payload)
    assert response.status_code == 200
    assert outbox.emails() == []


# -- authentication -----------------------------------------------------------------------------------


def test_a_wrong_api_key_raises_unauthorized_with_the_live_api_body(standin: SendGridStandIn, outbox: Outbox) -> None:
    # Given an SDK client with a key the stand-in does not know
    client = SendGridAPIClient("SG.wrong", host=standin.url)

    # When it sends / Then the SDK raises UnauthorizedError carrying SendGrid's 401 body
    with pytest.raises(UnauthorizedError) as caught:
        client.send(_mail())
    assert caught.value.status_code == 401
    assert caught.value.to_dict == {
        "errors": [
            {"message": "The provided authorization grant is invalid, expired, or revoked", "field": None, "help": None}
        ]
    }
    assert outbox.emails() == []


def test_a_request_without_authorization_gets_the_published_401_body(standin: SendGridStandIn) -> None:
    # Given a request with no Authorization header
    body = json.dumps(_mail().get()).encode()

    # When it is posted / Then the answer is the OpenAPI example: "authorization required"
    status, error = _post_raw(standin.url, body, {"Content-Type": "application/json"})
    assert status == 401
    published = _fixture()["a_mail_send_responses_openapi"]["responses"]["401"]["example_body"]
    assert error["errors"][0]["message"] == published["errors"][0]["message"] == "authorization required"
    assert error["errors"][0]["field"] is None


# -- validation ---------------------------------------------------------------------------------------


def test_an_invalid_payload_raises_bad_request_listing_each_documented_error(
    standin: SendGridStandIn, outbox: Outbox, client: SendGridAPIClient
) -> None:
    # Given a payload with a malformed recipient, no subject anywhere and an empty content value
    payload = {
        "from": {"email": "orders@shop.example"},
        "personalizations": [{"to": [{"email": "not-an-address"}]}],
        "content": [{"type": "text/plain", "value": ""}],
    }

    # When the SDK posts it
    with pytest.raises(BadRequestsError) as caught:
        client.client.mail.send.post(request_body=payload)

    # Then the 400 lists one error per problem, with the documented message, field and help link
    assert caught.value.status_code == 400
    errors = caught.value.to_dict["errors"]
    by_field = {e["field"]: e for e in errors}
    assert set(by_field) == {"personalizations.0.to.0.email", "subject", "content.0.value"}
    assert by_field["subject"]["message"] == MESSAGES["subject_required"]
    assert by_field["personalizations.0.to.0.email"]["help"] == (
        "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"
    )
    documented = _documented_messages()
    assert all(e["message"] in documented for e in errors)
    assert outbox.emails() == []
    assert standin.accepted == []


@pytest.mark.parametrize(
    ("mutate", "field", "message_key"),
    [
        (lambda p: p.pop("personalizations"), "personalizations", "no_personalization"),
        (lambda p: p["personalizations"][0].pop("to"), "personalizations.0.to", "to_required"),
        (lambda p: p.pop("from"), "from", "from_missing"),
        (lambda p: p.update({"from": {"email": "nobody"}}), "from.email", "from_invalid"),
        (lambda p: p.pop("content"), "content", "content_required"),
        (lambda p: p.update({"content": []}), "content", "content_empty"),
        (lambda p: p["content"][0].pop("type"), "content.0.type", "content_type_required"),
        (lambda p: p.update({"content": list(reversed(p["content"]))}), "content", "content_order"),
        (lambda p: p.update({"custom_args": {"attempt": 1}}), "custom_args", "custom_args_strings"),
        (lambda p: p.update({"reply_to": {"email": "x"}}), "reply_to.email", "reply_to_invalid"),
        (lambda p: p.update({"headers": {"Subject": "spoof"}}), "headers", "headers_reserved"),
    ],
)
def test_each_documented_rule_is_enforced_with_its_documented_message(
    client: SendGridAPIClient, mutate: Any, field: str, message_key: str
) -> None:
    # Given a valid payload broken in exactly one documented way
    payload = _mail().get()
    mutate(payload)

    # When it is sent
    with pytest.raises(BadRequestsError) as caught:
        client.client.mail.send.post(request_body=payload)

    # Then the single error names that field with the published message
    [error] = caught.value.to_dict["errors"]
    assert (error["field"], error["message"]) == (field, MESSAGES[message_key])


def test_a_subject_in_every_personalization_replaces_the_top_level_subject(client: SendGridAPIClient) -> None:
    # Given a payload whose only subject is inside the personalization
    payload = _mail().get()
    del payload["subject"]
    payload["personalizations"][0]["subject"] = "Per-recipient subject"

    # When it is sent / Then it is accepted
    assert client.client.mail.send.post(request_body=payload).status_code == 202


def test_a_body_that_is_not_json_gets_the_live_api_bad_request(standin: SendGridStandIn) -> None:
    # Given a body that is not JSON / When it is posted with a valid key
    status, error = _post_raw(
        standin.url, b"{not json", {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    )

    # Then the answer is 400 "Bad Request" with null field and help, as the live API sends
    assert status == 400
    assert error == {"errors": [{"message": "Bad Request", "field": None, "help": None}]}


def test_a_body_over_30mb_is_refused_with_413_content_too_large(outbox: Outbox, client: SendGridAPIClient) -> None:
    # Given a mail whose JSON body is just over the 30 MB limit
    payload = _mail().get()
    payload["content"][0]["value"] = "x" * MAX_BODY_BYTES

    # When it is sent / Then the SDK raises PayloadTooLargeError with the published body
    with pytest.raises(PayloadTooLargeError) as caught:
        client.client.mail.send.post(request_body=payload)
    assert caught.value.to_dict["errors"][0]["message"] == "content too large"
    assert outbox.emails() == []


def test_an_unknown_path_is_404_and_a_wrong_method_is_405(client: SendGridAPIClient) -> None:
    # Given an SDK client / When it calls a path the stand-in does not serve
    with pytest.raises(NotFoundError) as not_found:
        client.client.mail.nope.post(request_body={})
    # And when it uses GET on mail/send
    with pytest.raises(MethodNotAllowedError) as wrong_method:
        client.client.mail.send.get()

    # Then both carry the published bodies
    assert not_found.value.to_dict["errors"][0]["message"] == "not found"
    assert wrong_method.value.to_dict["errors"][0]["message"] == "method not allowed"


def test_the_messages_used_are_the_documented_ones_verbatim() -> None:
    # Given the documented mail/send messages (fixture section d)
    documented = _documented_messages()

    # When the stand-in's message table is compared / Then every message is published text
    assert {key: text for key, text in MESSAGES.items() if text not in documented} == {}


# -- faults ---------------------------------------------------------------------------------------------


def test_a_throttle_fault_raises_429_with_rate_limit_headers_and_sends_nothing(
    faults: FaultPlan, outbox: Outbox, client: SendGridAPIClient
) -> None:
    # Given a plan that throttles every request
    faults.throttle_rate = 1.0

    # When a mail is sent
    with pytest.raises(TooManyRequestsError) as caught:
        client.send(_mail())

    # Then the SDK sees 429, the published body and the X-RateLimit-* headers, and nothing was sent
    assert caught.value.status_code == 429
    assert caught.value.to_dict == {"errors": [{"field": None, "message": "too many requests"}]}
    headers = caught.value.headers
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Limit"]) > 0
    assert int(headers["X-RateLimit-Reset"]) >= int(time.time())
    assert outbox.emails() == []


def test_a_server_error_fault_raises_500_with_the_published_body(faults: FaultPlan, client: SendGridAPIClient) -> None:
    # Given a plan that fails every request with a 5xx
    faults.server_error_rate = 1.0

    # When a mail is sent / Then the SDK raises InternalServerError with SendGrid's 500 body
    with pytest.raises(InternalServerError) as caught:
        client.send(_mail())
    assert caught.value.to_dict["errors"][0]["message"] == "internal server error"


def test_a_timeout_fault_trips_the_sdk_timeout_and_stop_releases_the_hung_request(
    faults: FaultPlan, standin: SendGridStandIn, outbox: Outbox, client: SendGridAPIClient
) -> None:
    # Given a plan that hangs every request for 30 s, and an SDK timeout of 0.3 s
    faults.update(timeout_rate=1.0, hang_seconds=30)
    client.client.timeout = 0.3

    # When a mail is sent
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.send(_mail())

    # Then the SDK gives up within its timeout, nothing was sent, and stopping does not wait 30 s
    assert time.monotonic() - started < 2
    assert outbox.emails() == []
    started = time.monotonic()
    standin.stop()
    assert time.monotonic() - started < 2


def test_accept_on_timeout_sends_the_message_although_the_client_timed_out(
    faults: FaultPlan, outbox: Outbox, client: SendGridAPIClient
) -> None:
    # Given a plan where the provider accepts but answers after the client's timeout
    faults.update(timeout_rate=1.0, hang_seconds=5, accept_on_timeout=True)
    client.client.timeout = 0.3

    # When a mail is sent
    with pytest.raises(TimeoutError):
        client.send(_mail())

    # Then the client saw a timeout, yet the message is in the outbox: the duplicate-send window
    assert [p.name for p in outbox.emails()] == ["shopify_evt-1001_email.eml"]


def test_latency_is_added_to_every_request(faults: FaultPlan, client: SendGridAPIClient) -> None:
    # Given 0.2 s of latency / When a mail is sent / Then the call takes at least that long
    faults.latency_seconds = 0.2
    started = time.monotonic()
    client.send(_mail())
    assert time.monotonic() - started >= 0.2


def test_a_fault_plan_changed_while_running_applies_to_the_next_request(
    faults: FaultPlan, client: SendGridAPIClient
) -> None:
    # Given a healthy stand-in that has accepted a mail
    assert client.send(_mail()).status_code == 202

    # When the plan starts throttling / Then the next call is throttled; when it stops, calls succeed again
    faults.throttle_rate = 1.0
    with pytest.raises(TooManyRequestsError):
        client.send(_mail())
    faults.throttle_rate = 0.0
    assert client.send(_mail()).status_code == 202


def test_a_restarted_stand_in_keeps_its_url_and_outbox(outbox: Outbox, standin: SendGridStandIn) -> None:
    # Given a running stand-in and a client configured with its URL
    url = standin.url
    client = SendGridAPIClient(API_KEY, host=url)
    client.client.timeout = 5
    client.send(_mail("before"))

    # When it is stopped and started again (a provider outage and recovery)
    standin.stop()
    standin.start()

    # Then the same client reaches it at the same URL
    assert standin.url == url
    assert client.send(_mail("after")).status_code == 202
    assert {p.stem for p in outbox.emails()} == {"before", "after"}


# -- FaultPlan ----------------------------------------------------------------------------------------------


def test_a_seeded_plan_draws_the_same_outcomes_in_roughly_the_configured_shares() -> None:
    # Given two plans with the same seed and rates
    make = lambda: FaultPlan(throttle_rate=0.2, server_error_rate=0.1, timeout_rate=0.05, seed=42)  # noqa: E731
    first, second = make(), make()

    # When each decides 10,000 requests
    a = [first.decide() for _ in range(10_000)]
    b = [second.decide() for _ in range(10_000)]

    # Then the sequences are identical and the shares match the rates
    assert a == b
    shares = Counter(a)
    assert abs(shares["throttle"] / 10_000 - 0.2) < 0.02
    assert abs(shares["server_error"] / 10_000 - 0.1) < 0.015
    assert abs(shares["timeout"] / 10_000 - 0.05) < 0.01
    assert abs(shares["ok"] / 10_000 - 0.65) < 0.02


def test_a_default_plan_never_faults() -> None:
    # Given the default plan / When it decides many times / Then every outcome is ok
    plan = FaultPlan()
    assert {plan.decide() for _ in range(1000)} == {"ok"}


def test_forced_outcomes_come_first_then_the_random_draw_resumes() -> None:
    # Given a healthy plan with two forced outcomes
    plan = FaultPlan()
    plan.force_next("throttle", "timeout")

    # When it decides three times / Then the forced ones come first, in order
    assert [plan.decide() for _ in range(3)] == ["throttle", "timeout", "ok"]


def test_rates_out_of_range_or_over_one_in_total_are_refused() -> None:
    # Given / When invalid rates are set / Then they are refused and the plan keeps its previous values
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan(throttle_rate=1.5)
    with pytest.raises(ValueError, match="add up"):
        FaultPlan(throttle_rate=0.6, server_error_rate=0.6)
    plan = FaultPlan(throttle_rate=0.5)
    with pytest.raises(ValueError, match="add up"):
        plan.server_error_rate = 0.7
    assert plan.server_error_rate == 0.0
    with pytest.raises(ValueError, match="add up"):
        plan.update(timeout_rate=0.4, server_error_rate=0.4)
    assert (plan.timeout_rate, plan.server_error_rate) == (0.0, 0.0)
    # And an atomic update can swap one fault for another even though each step alone would exceed 1
    plan.update(throttle_rate=0.0, server_error_rate=1.0)
    assert plan.decide() == "server_error"
    with pytest.raises(ValueError, match="seconds"):
        plan.hang_seconds = -1
