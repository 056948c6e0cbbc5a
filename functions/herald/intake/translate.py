"""One entry point per request: a verified body, its platform, its storefront -> the Translation.

Used by the intake functions (handlers.intake, handlers.intake_events) and by `herald intake`, so what a
storefront engineer sees on their machine is exactly what the deployed intake does with the same payload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from herald.domain.storefront import Storefront
from herald.intake.updates import IntakeRefused, Platform, Translation


def json_payload(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except ValueError as error:
        raise IntakeRefused(f"body is not JSON ({error})") from None


def translate(
    platform: Platform,
    payload: Any,
    storefront: Storefront,
    *,
    received_at: datetime,
    headers: Mapping[str, str] | None = None,
) -> Translation:
    """`payload` parsed from the verified body; `headers` (lower-case names) carry Shopify's topic and webhook id."""
    if not isinstance(payload, dict):
        raise IntakeRefused(f"a {platform} webhook body is a JSON object, not {type(payload).__name__}")
    headers = headers or {}
    if platform == "shopify":
        from herald.intake.shopify import translate_shopify

        topic = headers.get("x-shopify-topic")
        webhook_id = headers.get("x-shopify-webhook-id")
        if not topic or not webhook_id:
            raise IntakeRefused("a Shopify webhook names its topic and webhook id (X-Shopify-Topic, -Webhook-Id)")
        return translate_shopify(topic, payload, storefront, webhook_id=webhook_id, received_at=received_at)
    if platform == "easypost":
        from herald.intake.easypost import translate_easypost

        return translate_easypost(payload, received_at=received_at)
    if platform == "aftership":
        from herald.intake.aftership import translate_aftership

        return translate_aftership(payload, received_at=received_at)
    if platform == "shippo":
        from herald.intake.shippo import translate_shippo

        return translate_shippo(payload, received_at=received_at)
    from herald.intake.onfleet import translate_onfleet

    return translate_onfleet(payload, received_at=received_at)
