"""How big a provider's webhook request may be: refused with 413 before anything parses or verifies it.

A request from outside is bounded before any work proportional to its size is done on it: the body's length is
read from the event as API Gateway delivered it (for a base64 body, from the encoded length, without decoding),
and a form body's field count is one `bytes.count`. Both run in C over at most the body, so a refusal costs
microseconds whatever was sent; the signature check and the parser only ever see bodies within the bounds.

The bounds follow what each provider documents it sends, with headroom (README's webhooks section, and
docs/decisions.md 2026-12-01 "webhook bounds"):
- SendGrid's Event Webhook posts a JSON array "within approximately 30 seconds or when the batch size reaches
  768 kilobytes": a batch is cut once it reaches 768 KB, so its last event may carry it a little past. 1 MiB.
- Twilio's status callbacks and inbound messages are a few dozen form fields: an inbound message's Body is up to
  1,600 characters (at most 12 bytes each once UTF-8 is percent-encoded: 19,200), an MMS adds up to 10 MediaUrl
  and 10 MediaContentType fields, WhatsApp and geographic fields a few dozen more; Twilio adds fields without
  notice. 64 KiB and 100 fields leave room for all of that several times over.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from herald.webhooks.errors import WebhookRefused

KIB = 1024


class BodyTooLarge(WebhookRefused):
    """A body over the route's documented bounds: refused unread (413), nothing of it recorded."""

    status_code = 413


@dataclass(frozen=True)
class BodyLimits:
    max_bytes: int
    # Form fields (application/x-www-form-urlencoded): None for a JSON body.
    max_fields: int | None = None


SENDGRID_EVENTS = BodyLimits(max_bytes=1024 * KIB)
TWILIO_FORM = BodyLimits(max_bytes=64 * KIB, max_fields=100)
# The intake's platforms post one JSON object per webhook: a Shopify order with a few hundred line items, a
# tracker with its scan history, an Onfleet task with its completion details stay well under 512 KiB.
INTAKE_BODY = BodyLimits(max_bytes=512 * KIB)


def bounded_body(body: str | None, *, base64_encoded: bool, limits: BodyLimits) -> bytes:
    """The request's raw bytes (what the provider signed), or BodyTooLarge before decoding an oversized one."""
    text = body or ""
    if base64_encoded:
        # Every 4 characters decode to at most 3 bytes: an encoded length over the bound's is too large
        # without decoding a byte of it.
        if len(text) > -(-limits.max_bytes // 3) * 4:
            raise _too_large(limits)
        raw = base64.b64decode(text)
    else:
        # A character encodes to at least one UTF-8 byte: more characters than the bound is too large unencoded.
        if len(text) > limits.max_bytes:
            raise _too_large(limits)
        raw = text.encode("utf-8")
    if len(raw) > limits.max_bytes:
        raise _too_large(limits)
    # A form body has one more field than it has separators (an empty body has none, which is within any bound).
    if limits.max_fields is not None and raw.count(b"&") >= limits.max_fields:
        raise BodyTooLarge(f"request body has more than {limits.max_fields} form fields")
    return raw


def _too_large(limits: BodyLimits) -> BodyTooLarge:
    return BodyTooLarge(f"request body is over {limits.max_bytes} bytes")
