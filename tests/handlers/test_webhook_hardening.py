"""Webhooks that cannot be turned against us (issue 9, section 3): bounded refusals, replays, keyword order.

Every request here is an API Gateway HTTP API event through the real webhooks handler over moto; a refused request
must leave the table exactly as it was.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from herald.domain.notification import Channel
from herald.domain.suppression import SuppressionSignal
from herald.handlers import webhooks
from herald.usecases.delivery_status import DeliveryStatusService
from herald.webhooks import twilio_signature
from herald.webhooks.limits import SENDGRID_EVENTS, TWILIO_FORM

from .conftest import Env
from .signing import (
    ALL_EVENTS,
    INBOUND_PATH,
    SENDGRID_PATH,
    STATUS_PATH,
    SendGridSigner,
    call,
    delivery,
    http_event,
    placed_and_sent,
    sendgrid_event,
    snapshot,
    status_fields,
    twilio_post,
)
from .signing import signer as signer  # the fixture, used by name
from .test_suppression import PHONE, SOURCE, suppressions, text
from .test_suppression import keywords as keywords  # the fixture, used by name

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Untouchable:
    """Stands in for a parser, verifier or builder that a refusal must never reach."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise AssertionError("called for a request that should have been refused before it")


@pytest.fixture
def untouchable(monkeypatch: pytest.MonkeyPatch) -> dict[str, Untouchable]:
    """The Twilio parser and verifier, SendGrid's ECDSA check and the appliers' builder, each counting calls."""
    parts = {name: Untouchable() for name in ("parse", "verify", "ecdsa", "appliers")}
    monkeypatch.setattr(twilio_signature.FormParams, "parse", parts["parse"])
    monkeypatch.setattr(twilio_signature.TwilioWebhookVerifier, "verify", parts["verify"])
    monkeypatch.setattr("herald.webhooks.sendgrid_signature.signature_is_valid", parts["ecdsa"])
    monkeypatch.setattr(webhooks, "_build_appliers", parts["appliers"])
    return parts


def many_fields(count: int) -> bytes:
    return "&".join(f"F{i}=v" for i in range(count)).encode()


# --- bounded, cheap refusal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "encode"),
    [
        pytest.param(STATUS_PATH, many_fields(16_000), False, id="twilio status, 16,000 fields"),
        pytest.param(INBOUND_PATH, many_fields(TWILIO_FORM.max_fields + 1), True, id="twilio inbound, 101 fields"),
        pytest.param(STATUS_PATH, b"Body=" + b"a" * (200 * 1024), True, id="twilio status, 200 KiB base64"),
        pytest.param(INBOUND_PATH, b"Body=" + b"a" * (200 * 1024), False, id="twilio inbound, 200 KiB"),
        pytest.param(SENDGRID_PATH, b"[" + b" " * SENDGRID_EVENTS.max_bytes + b"]", True, id="sendgrid, over 1 MiB"),
    ],
)
def test_oversized_body_is_refused_413_before_it_is_parsed_or_verified(
    env: Env, signer: SendGridSigner, untouchable: dict[str, Untouchable], path: str, body: bytes, encode: bool
) -> None:
    # Given a table with one order sent, and a body over the route's documented bounds
    placed_and_sent(env)
    before = snapshot(env)
    headers = {"X-Twilio-Signature": "bad", "X-Twilio-Email-Event-Webhook-Signature": "bad"}
    headers["X-Twilio-Email-Event-Webhook-Timestamp"] = "1800000000"
    # When it is posted
    response = call(http_event(path, body, headers, encode=encode))
    # Then it is refused as too large, and nothing parsed, verified, built or recorded anything of it
    assert response["statusCode"] == 413
    assert "request body" in json.loads(response["body"])["message"]
    assert {name: part.calls for name, part in untouchable.items()} == dict.fromkeys(untouchable, 0)
    assert snapshot(env) == before


def test_callbacks_at_the_documented_bounds_are_admitted(env: Env, signer: SendGridSigner) -> None:
    # Given Twilio's published status callback padded with extra fields up to the 100-field bound
    placed = placed_and_sent(env)
    fields = status_fields(env, placed, "delivered")
    fields |= {f"Extra{i}": "x" for i in range(TWILIO_FORM.max_fields - len(fields))}
    assert len(fields) == TWILIO_FORM.max_fields
    # When it is posted, Then it is applied
    assert twilio_post(STATUS_PATH, fields, encode=True)["statusCode"] == 204
    assert delivery(env, placed["id"], "sms")[0] == "delivered"


def test_badly_signed_callback_builds_nothing_of_the_table(
    env: Env, signer: SendGridSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fresh sandbox whose appliers' builder records that it ran
    built = Untouchable()
    monkeypatch.setattr(webhooks, "_build_appliers", built)
    webhooks.root.reset()
    placed = placed_and_sent(env)
    before = snapshot(env)
    # When a Twilio status callback and a SendGrid post arrive with signatures that do not verify
    twilio = twilio_post(STATUS_PATH, status_fields(env, placed, "delivered"), token="not-the-token")
    body = json.dumps([sendgrid_event(ALL_EVENTS[0], placed, env, "delivered")]).encode()
    sendgrid = call(http_event(SENDGRID_PATH, body, SendGridSigner().headers(body)))
    # Then both are refused without the DynamoDB client or any applier being built, and nothing is recorded
    assert (twilio["statusCode"], sendgrid["statusCode"]) == (403, 403)
    assert built.calls == 0
    assert snapshot(env) == before


# --- SendGrid replays ---------------------------------------------------------------------------------


def malleated(signature_b64: str) -> str:
    """The other valid ECDSA signature of the same content: (r, n - s)."""
    r, s = decode_dss_signature(base64.b64decode(signature_b64))
    return base64.b64encode(encode_dss_signature(r, P256_ORDER - s)).decode()


def test_malleated_signature_of_an_applied_request_is_refused_as_a_replay(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    body = json.dumps([sendgrid_event(ALL_EVENTS[0], placed, env, "deferred")]).encode()
    headers = signer.headers(body)
    # Given a signed post that was applied
    assert call(http_event(SENDGRID_PATH, body, headers))["statusCode"] == 200
    after_first = snapshot(env)
    # When the same timestamp and body arrive with the other form of its signature, (r, n - s), which verifies
    other = headers | {
        "X-Twilio-Email-Event-Webhook-Signature": malleated(headers["X-Twilio-Email-Event-Webhook-Signature"])
    }
    assert other != headers
    response = call(http_event(SENDGRID_PATH, body, other))
    # Then it is refused as a replay and the table is as the first post left it
    assert response["statusCode"] == 403
    assert "already applied" in json.loads(response["body"])["message"]
    assert snapshot(env) == after_first


def test_request_whose_apply_failed_is_admitted_when_sendgrid_retries_it(
    env: Env, signer: SendGridSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = placed_and_sent(env)
    body = json.dumps([sendgrid_event(ALL_EVENTS[0], placed, env, "delivered")]).encode()
    headers = signer.headers(body)
    # Given a signed post whose apply fails (DynamoDB throttled, say)
    original = DeliveryStatusService.apply_sendgrid_events

    def failing(self: DeliveryStatusService, events: Any) -> Any:
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(DeliveryStatusService, "apply_sendgrid_events", failing)
    with pytest.raises(RuntimeError):
        call(http_event(SENDGRID_PATH, body, headers))
    # Then no replay record was kept
    assert not [item for item in env.items() if item["pk"]["S"].startswith("WEBHOOK#")]
    # When SendGrid retries the identical request and the table answers
    monkeypatch.setattr(DeliveryStatusService, "apply_sendgrid_events", original)
    response = call(http_event(SENDGRID_PATH, body, headers))
    # Then it is admitted and applied, and only now recorded
    assert response["statusCode"] == 200
    assert delivery(env, placed["id"], "email")[0] == "delivered"
    assert len([item for item in env.items() if item["pk"]["S"].startswith("WEBHOOK#")]) == 1


# --- Twilio status replays ----------------------------------------------------------------------------


def test_replayed_status_callbacks_never_move_the_sms_back(env: Env, signer: SendGridSigner) -> None:
    placed = placed_and_sent(env)
    # Given Twilio's callbacks for the SMS, in order: queued, sent, undelivered (a terminal state)
    posted = [status_fields(env, placed, name) for name in ("queued", "sent")]
    posted.append(status_fields(env, placed, "undelivered", ErrorCode="30003"))
    for fields in posted:
        assert twilio_post(STATUS_PATH, fields)["statusCode"] == 204
    settled = snapshot(env)
    # When each exact signed request is played again, earliest first
    for fields in posted:
        assert twilio_post(STATUS_PATH, fields)["statusCode"] == 204
    # Then the SMS stays undelivered with its code, and the table is exactly as the first callbacks left it
    assert delivery(env, placed["id"], "sms") == ("undelivered", ["queued", "sent", "undelivered"])
    assert snapshot(env) == settled


# --- inbound keywords ---------------------------------------------------------------------------------

SM1, SM2, SM3 = ("SM" + digit * 32 for digit in "789")


def test_replayed_start_does_not_undo_a_later_stop(env: Env, keywords: None) -> None:
    # Given the customer texted START (SM1), then STOP (SM2)
    text("START", sid=SM1)
    text("STOP", sid=SM2)
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is not None
    # When Twilio's request for SM1 arrives again (a retry, or a captured request played back)
    text("START", sid=SM1)
    # Then the customer is still opted out
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is not None
    # And a new START (SM3) still lifts it
    text("START", sid=SM3)
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is None


def test_replayed_stop_does_not_undo_a_later_start(env: Env, keywords: None) -> None:
    # Given STOP (SM1) then START (SM2): the customer opted back in
    text("STOP", sid=SM1)
    text("START", sid=SM2)
    # When SM1 is played again, Then the customer stays opted in
    text("STOP", sid=SM1)
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is None


def test_a_repeated_stop_is_applied_once(env: Env, keywords: None) -> None:
    # Given STOP (SM1) applied, and its suppression lifted by something other than a newer keyword
    text("STOP", sid=SM1)
    suppressions(env).lift(SOURCE, Channel.SMS, PHONE, signals={SuppressionSignal.KEYWORD})
    after = snapshot(env)
    # When SM1 arrives again, Then it changes nothing: a MessageSid's keyword is applied once
    text("STOP", sid=SM1)
    assert snapshot(env) == after


def test_keyword_whose_apply_failed_is_applied_when_twilio_retries(
    env: Env, keywords: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions

    # Given a STOP whose suppression write fails after the message was recorded
    original = DynamoDbSuppressions.suppress

    def failing(self: DynamoDbSuppressions, suppression: Any) -> bool:
        raise RuntimeError("throttled")

    monkeypatch.setattr(DynamoDbSuppressions, "suppress", failing)
    with pytest.raises(RuntimeError):
        text("STOP", sid=SM1)
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is None
    # When Twilio retries it
    monkeypatch.setattr(DynamoDbSuppressions, "suppress", original)
    text("STOP", sid=SM1)
    # Then the customer is opted out
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is not None


def test_refused_inbound_keyword_records_nothing(env: Env, keywords: None) -> None:
    before = snapshot(env)
    fields = {"MessageSid": SM1, "From": PHONE, "To": "+15005550006", "Body": "START"}
    # When an inbound START arrives signed with another token, or over the field bound
    forged = twilio_post(INBOUND_PATH, fields, token="not-the-token")
    flood = twilio_post(INBOUND_PATH, fields | {f"F{i}": "x" for i in range(200)})
    # Then both are refused and the table has no new item
    assert (forged["statusCode"], flood["statusCode"]) == (403, 413)
    assert snapshot(env) == before


def test_an_older_keyword_retried_after_a_newer_one_does_not_undo_it(
    env: Env, keywords: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions

    # Given the customer's START (SM1) reached Herald but its lift failed part way, so Twilio will retry it
    original = DynamoDbSuppressions.lift

    def failing(self: DynamoDbSuppressions, *args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("throttled")

    monkeypatch.setattr(DynamoDbSuppressions, "lift", failing)
    with pytest.raises(RuntimeError):
        text("START", sid=SM1)
    monkeypatch.setattr(DynamoDbSuppressions, "lift", original)
    # And then the customer's STOP (SM2), received after it, was applied
    text("STOP", sid=SM2)
    # When Twilio's retry of SM1 arrives
    text("START", sid=SM1)
    # Then the older START does not undo the newer STOP
    assert suppressions(env).get(SOURCE, Channel.SMS, PHONE) is not None
