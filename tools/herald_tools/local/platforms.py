"""The platforms' side of the intake, for the local demo: each webhook signed as its platform signs it, and
Shopify's EventBridge delivery wrapped as the partner event source's rule delivers it.

The mirror of `herald.intake.signatures` (which verifies): the same algorithms, written from the platforms'
documentation, so that a demo webhook verifies only if Herald's check agrees with the platform's own signing
(tests/unit/test_local_platforms.py runs each through Herald's verifier). Nothing here is used by the functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

SignedPlatform = Literal["shopify", "easypost", "aftership", "onfleet"]
SIGNED_PLATFORMS: tuple[SignedPlatform, ...] = ("shopify", "easypost", "aftership", "onfleet")
# Shopify's partner event source, as EventBridge lists it once a Shopify app's subscriptions point at it.
LOCAL_SHOPIFY_EVENT_SOURCE = "aws.partner/shopify.com/1830279/herald-local"
SHOPIFY_API_VERSION = "2026-04"  # the version of the published samples the demo sends (tests/fixtures/SOURCES.md)
_DEMO_NAMESPACE = uuid.UUID("6f1c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f")  # the demo's webhook ids: stable per file


def signature_headers(platform: SignedPlatform, body: bytes, secret: str) -> dict[str, str]:
    """The header each platform signs `body` with, keyed with the storefront's secret for it."""
    if platform == "shopify":
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
        return {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode("ascii")}
    if platform == "easypost":
        # EasyPost keys its HMAC with the NFKD-normalised secret and prefixes the hex digest.
        key = unicodedata.normalize("NFKD", secret).encode("utf-8")
        return {"X-Hmac-Signature": "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()}
    if platform == "aftership":
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
        return {"aftership-hmac-sha256": base64.b64encode(digest).decode("ascii")}
    # Onfleet's secret is hex: the key is its bytes, and the digest SHA-512 in hex.
    return {"X-Onfleet-Signature": hmac.new(bytes.fromhex(secret), body, hashlib.sha512).hexdigest()}


def shopify_webhook_id(topic: str, name: str) -> str:
    """The demo's `X-Shopify-Webhook-Id` for one file and topic: the same on every run, as a retry keeps its id."""
    return str(uuid.uuid5(_DEMO_NAMESPACE, f"{topic}:{name}"))


def shopify_headers(topic: str, shop_domain: str, webhook_id: str) -> dict[str, str]:
    """The headers Shopify sends with every webhook besides its signature (shopify.dev, webhooks over HTTPS)."""
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": SHOPIFY_API_VERSION,
    }


@dataclass(frozen=True)
class Delivery:
    """One request as a platform sends it: where, the raw body, the headers."""

    path: str
    body: bytes
    headers: dict[str, str]


def https_delivery(
    platform: SignedPlatform,
    body: bytes,
    *,
    secret: str,
    slug: str,
    shop_domain: str | None,
    topic: str | None,
    name: str,
) -> Delivery:
    """The signed POST a platform makes to Herald's intake route for the storefront."""
    headers = {"Content-Type": "application/json", **signature_headers(platform, body, secret)}
    if platform == "shopify":
        if not topic or not shop_domain:
            raise ValueError("a Shopify webhook needs its topic and the storefront's shop domain")
        headers |= shopify_headers(topic, shop_domain, shopify_webhook_id(topic, name))
        return Delivery("/intake/shopify", body, headers)
    return Delivery(f"/intake/{platform}/{slug}", body, headers)


def eventbridge_envelope(
    topic: str,
    payload: Mapping[str, Any],
    *,
    shop_domain: str,
    name: str,
    region: str,
    account: str,
    event_source: str = LOCAL_SHOPIFY_EVENT_SOURCE,
) -> dict[str, Any]:
    """The event the template's rule puts on the shopify-events queue for one Shopify webhook.

    EventBridge's envelope (version, id, detail-type, source, account, time, region, resources, detail) with
    Shopify's `detail.payload` (the HTTPS body) and `detail.metadata` (its headers, no HMAC: the bus's policy is the
    authentication). No published Shopify EventBridge event was found (tests/fixtures/SOURCES.md §7): the shape is
    the one `herald.intake.shopify.unwrap_eventbridge` reads, with Shopify's fixed detail-type.
    """
    webhook_id = shopify_webhook_id(topic, name)
    return {
        "version": "0",
        "id": str(uuid.uuid5(_DEMO_NAMESPACE, f"eventbridge:{webhook_id}")),
        "detail-type": "shopifyWebhook",
        "source": event_source,
        "account": account,
        "time": _now(),
        "region": region,
        "resources": [],
        "detail": {"payload": dict(payload), "metadata": shopify_headers(topic, shop_domain, webhook_id)},
    }


def post(url: str, delivery: Delivery, *, timeout: float = 60.0) -> tuple[int, Any]:
    """POST the delivery; (status, JSON answer or the raw text). A 4xx/5xx is returned, not raised."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - the local API on loopback
        url + delivery.path, data=delivery.body, headers=delivery.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, text = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
