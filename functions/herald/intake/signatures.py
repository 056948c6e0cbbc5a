"""Each platform's own check that a webhook came from it, over the raw body, before anything is parsed.

Every function answers a bool and never raises: a header that is missing, empty, of the wrong encoding, truncated
or of the wrong length is simply not a valid signature (the caller answers 401 and records nothing). An empty
secret is never valid, so a storefront whose secret was not configured refuses everything instead of accepting
everything. Digests are compared with `hmac.compare_digest` (constant time), always as bytes of equal meaning
(the raw digest, decoded from the header's encoding), so a hex header in upper case is judged by what it
encodes, not by its spelling; a header that does not decode (not hex, not strict base64) is refused.

Sources (each read on 2026-12-02):
- Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body keyed with the app's client secret
  (https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook).
- EasyPost: `X-Hmac-Signature: hmac-sha256-hex=<hex>`, HMAC-SHA256 of the raw body keyed with the webhook secret
  NFKD-normalised, UTF-8 (EasyPost's client libraries' `validate_webhook`; the official vector is
  tests/fixtures/easypost_webhook_hmac_test_vector.json).
- AfterShip Tracking: `aftership-hmac-sha256`, base64 HMAC-SHA256 of the raw body keyed with the webhook secret
  (https://www.aftership.com/docs/tracking/webhook/webhook-signature).
- Shippo: https://docs.goshippo.com/docs/tracking/webhooksecurity documents three options: an IP allowlist,
  a self-generated token in the webhook URL (`?token=123abc`, "secure as long as you protect the storage of the
  expected token") and HMAC, which is set up by emailing one's account manager and whose header name, encoding
  and timestamp rule the page does not publish. Herald implements the token (the only option a storefront can
  set up itself and that is fully documented); third-party code disagrees on the HMAC header's name
  (`X-Shippo-Signature`, `Shippo-Signature`, ...), so it is not guessed. IP allowlists belong to the network, not
  to this check.
- Onfleet: `X-Onfleet-Signature`, hex HMAC-SHA512 of the raw body keyed with the webhook secret hex-DECODED to
  bytes (https://docs.onfleet.com/reference/secrets: `hmac.new(binascii.a2b_hex(secret), body, 'sha512')`). The
  validation request when a webhook is registered is an unsigned `GET ?check=<value>` answered 200 with the value
  as the body (https://docs.onfleet.com/reference/validation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping

SHOPIFY_HEADER = "X-Shopify-Hmac-Sha256"
EASYPOST_HEADER = "X-Hmac-Signature"
AFTERSHIP_HEADER = "aftership-hmac-sha256"
SHIPPO_TOKEN_PARAMETER = "token"  # noqa: S105 - the query parameter's name, not a secret
ONFLEET_HEADER = "X-Onfleet-Signature"
ONFLEET_CHECK_PARAMETER = "check"

_EASYPOST_PREFIX = "hmac-sha256-hex="
# Onfleet's check value is echoed into a response body: bounded so an unsigned GET cannot make Herald answer
# with an arbitrarily large body. Onfleet's own values are short random strings.
_ONFLEET_CHECK_MAX = 200


def _b64_digest(header: str) -> bytes | None:
    """The bytes a strict base64 header encodes, or None when it is not base64."""
    try:
        return base64.b64decode(header.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _hex_digest(header: str) -> bytes | None:
    """The bytes a hex header encodes, or None when it is not hex."""
    try:
        return bytes.fromhex(header.strip())
    except ValueError:
        return None


def _matches(expected: bytes, presented: bytes | None) -> bool:
    return presented is not None and hmac.compare_digest(expected, presented)


def shopify_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Shopify's `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body with the app's secret."""
    if not header or not secret:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return _matches(expected, _b64_digest(header))


def easypost_valid(body: bytes, header: str | None, secret: str) -> bool:
    """EasyPost's `X-Hmac-Signature: hmac-sha256-hex=<hex>`, keyed with the NFKD-normalised secret."""
    if not header or not secret or not header.startswith(_EASYPOST_PREFIX):
        return False
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    expected = hmac.new(key, body, hashlib.sha256).digest()
    return _matches(expected, _hex_digest(header[len(_EASYPOST_PREFIX) :]))


def aftership_valid(body: bytes, header: str | None, secret: str) -> bool:
    """AfterShip Tracking's `aftership-hmac-sha256`: base64 HMAC-SHA256 of the raw body with the webhook secret."""
    if not header or not secret:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return _matches(expected, _b64_digest(header))


def shippo_valid(token: str | None, secret: str) -> bool:
    """Shippo's self-generated URL token (`?token=`), compared in constant time with the configured one.

    The token is not a signature of the body: it proves the sender knows the URL's secret, as Shippo documents.
    """
    if not token or not secret:
        return False
    return hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8"))


def onfleet_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Onfleet's `X-Onfleet-Signature`: hex HMAC-SHA512 of the raw body keyed with the hex-decoded secret."""
    if not header or not secret:
        return False
    key = _hex_digest(secret)
    if not key:
        # A secret that is not hex is a configuration mistake: nothing Onfleet signs can match it.
        return False
    expected = hmac.new(key, body, hashlib.sha512).digest()
    return _matches(expected, _hex_digest(header))


def onfleet_check_echo(query: Mapping[str, str]) -> str | None:
    """The value to answer Onfleet's registration `GET ?check=<value>` with (200, the value as the body), or
    None when the request is not such a check (a missing, empty or oversized value)."""
    value = query.get(ONFLEET_CHECK_PARAMETER)
    if not value or len(value) > _ONFLEET_CHECK_MAX or not value.isprintable():
        return None
    return value
