"""The outbound webhooks' HTTP transport (adapters.http_webhooks) against the receiver stand-in over HTTPS: it
verifies the certificate, follows no redirect, posts to https only, and reports no answer as retryable."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald.adapters.http_webhooks import HttpsOnly, Urllib3WebhookTransport
from herald.usecases.ports import WebhookNotAnswered
from herald.webhooks import standard_webhooks as sw
from herald_tools.local.standins.storefront_webhooks import StorefrontWebhookReceiver

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BODY = b'{"specversion":"1.0","id":"hrld_1"}'


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[StorefrontWebhookReceiver]:
    with StorefrontWebhookReceiver([SECRET], record_dir=tmp_path) as stand_in:
        yield stand_in


def signed() -> dict[str, str]:
    return sw.headers([KEY], "hrld_1", int(time.time()), BODY)


def test_a_signed_post_over_verified_https_is_answered_204(receiver: StorefrontWebhookReceiver) -> None:
    # Given the transport trusting the receiver's CA
    transport = Urllib3WebhookTransport(timeout_seconds=5, ca_certs=str(receiver.ca_path))
    # When it posts a signed body, Then the receiver verified it and answered 204
    assert transport.post(receiver.webhook_url, BODY, signed()).status == 204
    assert [r["webhook_id"] for r in receiver.received] == ["hrld_1"]


def test_a_certificate_the_transport_does_not_trust_is_no_answer(receiver: StorefrontWebhookReceiver) -> None:
    # Given the transport with the system's trust store only (the receiver's CA is its own)
    transport = Urllib3WebhookTransport(timeout_seconds=5)
    # When it posts, Then the TLS handshake fails: no answer (retried), and nothing reached the receiver
    with pytest.raises(WebhookNotAnswered):
        transport.post(receiver.webhook_url, BODY, signed())
    assert receiver.received == []


def test_a_redirect_is_answered_as_it_is_and_never_followed(receiver: StorefrontWebhookReceiver) -> None:
    # Given a receiver that redirects the next request to its own webhook URL (which would accept it)
    receiver.fail_next(1, status=307, headers={"Location": receiver.webhook_url})
    transport = Urllib3WebhookTransport(timeout_seconds=5, ca_certs=str(receiver.ca_path))
    # When the transport posts, Then it reports the 307, and the request was not sent again
    answer = transport.post(receiver.webhook_url, BODY, signed())
    assert answer.status == 307
    assert receiver.request_count == 1
    assert receiver.received == []


def test_retry_after_is_passed_on_as_sent(receiver: StorefrontWebhookReceiver) -> None:
    receiver.fail_next(1, status=503, headers={"Retry-After": "120"})
    transport = Urllib3WebhookTransport(timeout_seconds=5, ca_certs=str(receiver.ca_path))
    assert transport.post(receiver.webhook_url, BODY, signed()).retry_after == "120"


def test_a_plain_http_url_is_refused_before_any_connection(receiver: StorefrontWebhookReceiver) -> None:
    transport = Urllib3WebhookTransport(timeout_seconds=5, ca_certs=str(receiver.ca_path))
    with pytest.raises(HttpsOnly):
        transport.post(receiver.webhook_url.replace("https://", "http://"), BODY, signed())
    assert receiver.request_count == 0


def test_a_receiver_slower_than_the_timeout_is_no_answer(receiver: StorefrontWebhookReceiver) -> None:
    # Given a receiver that holds its answer far longer than the transport waits (released when it stops)
    receiver.hang_next(30)
    transport = Urllib3WebhookTransport(timeout_seconds=0.5, ca_certs=str(receiver.ca_path))
    # When the transport posts, Then its read timeout reports no answer (retried)
    with pytest.raises(WebhookNotAnswered, match="ReadTimeoutError"):
        transport.post(receiver.webhook_url, BODY, signed())
