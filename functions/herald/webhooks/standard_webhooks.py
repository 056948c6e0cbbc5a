"""The Standard Webhooks signature scheme (https://www.standardwebhooks.com/, specification 1.0.0), symmetric form.

Herald signs its outbound webhooks with it (usecases.outbound), so a storefront verifies them with any of the
specification's libraries or with the few lines of docs/outbound-webhooks.md:

- the signed content is `{webhook-id}.{webhook-timestamp}.{body}` (the exact bytes sent);
- each signature is `v1,` + base64(HMAC-SHA256(key, signed content));
- `webhook-signature` holds one signature per key, space-separated (zero-downtime rotation);
- a secret is serialised `whsec_` + base64 of its key, 24 to 64 random bytes (the specification's bounds).

Checked against the specification's published test vector (tests/fixtures/SOURCES.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence

from herald.webhooks.errors import SignatureInvalid, SignatureMissing, SignatureStale

SECRET_PREFIX = "whsec_"  # noqa: S105 - the specification's serialisation prefix, not a secret
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
# The tolerance the specification's libraries enforce on webhook-timestamp (either way).
TOLERANCE_SECONDS = 300


class SigningSecretInvalid(ValueError):
    """A signing secret that is not `whsec_` + base64 of 24 to 64 bytes. The message never quotes the secret."""


def signing_key(secret: str) -> bytes:
    """The HMAC key a `whsec_...` secret serialises."""
    if not secret.startswith(SECRET_PREFIX):
        raise SigningSecretInvalid(f"a signing secret starts with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SigningSecretInvalid(f"a signing secret is {SECRET_PREFIX} followed by base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise SigningSecretInvalid(f"a signing key is {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, not {len(key)}")
    return key


def signing_keys(secret_string: str) -> list[bytes]:
    """The keys a Secrets Manager SecretString holds: one `whsec_...` secret, or `{"keys": ["whsec_...", ...]}`
    while rotating (the newest first). Raises SigningSecretInvalid, without quoting the value."""
    text = secret_string.strip()
    if not text.startswith("{"):
        return [signing_key(text)]
    try:
        document = json.loads(text)
    except ValueError:
        raise SigningSecretInvalid("the secret starts with { but is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(key, str) for key in keys):
        raise SigningSecretInvalid('the secret is JSON but not {"keys": ["whsec_...", ...]}')
    return [signing_key(key) for key in keys]


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    if "." in webhook_id:
        # The specification: the id must not contain a full stop, or two (id, timestamp) pairs could sign alike.
        raise ValueError("a webhook-id holds no '.'")
    return f"{webhook_id}.{timestamp}.".encode() + body


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature."""
    digest = hmac.new(key, signed_content(webhook_id, timestamp, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(keys: Sequence[bytes], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per key, in the keys' order, space-separated."""
    if not keys:
        raise ValueError("signing needs at least one key")
    return " ".join(signature(key, webhook_id, timestamp, body) for key in keys)


def headers(keys: Sequence[bytes], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(keys, webhook_id, timestamp, body),
    }


def verify(
    keys: Sequence[bytes],
    request_headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> str:
    """Check a request as a receiver does; return its webhook-id. Raises SignatureMissing, SignatureInvalid
    or SignatureStale.

    `request_headers` is looked up by lower-case name. Every `v1` signature is compared with every key in
    constant time; other versions (`v1a`, ...) are skipped, as the specification's libraries do.
    """
    webhook_id = request_headers.get("webhook-id")
    raw_timestamp = request_headers.get("webhook-timestamp")
    header = request_headers.get("webhook-signature")
    if not webhook_id or not raw_timestamp or not header:
        raise SignatureMissing("missing webhook-id, webhook-timestamp or webhook-signature")
    if not raw_timestamp.isdigit():
        raise SignatureInvalid("webhook-timestamp is not a number of seconds")
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureStale(f"webhook-timestamp is more than {tolerance_seconds}s from now")
    try:
        expected = [signature(key, webhook_id, timestamp, body).encode() for key in keys]
    except ValueError:
        raise SignatureInvalid("webhook-id holds a '.'") from None
    offered = [part.encode() for part in header.split(" ") if part.startswith("v1,")]
    if any(hmac.compare_digest(mine, theirs) for mine in expected for theirs in offered):
        return webhook_id
    raise SignatureInvalid("no signature matches")
