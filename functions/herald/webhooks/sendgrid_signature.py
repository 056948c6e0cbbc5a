"""Verify SendGrid's Signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + raw body.

SendGrid signs `timestamp || body` (the exact bytes it posts) with the account's private key and sends the
base64 DER signature and the timestamp in two headers. The public key comes from SendGrid's Mail Settings
as base64 DER (SubjectPublicKeyInfo).

sendgrid.helpers.eventwebhook.EventWebhook does the same ECDSA check but is not used: it takes the body as
`str` and re-encodes it (a body that is not UTF-8 text, or that an adapter re-decoded, verifies against
other bytes than were signed), lets binascii/TypeError escape on malformed input, accepts any key type, and
checks neither freshness nor replay. This module works on bytes and refuses everything it cannot verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from herald.webhooks.errors import SignatureInvalid, SignatureMissing, SignatureReplayed, SignatureStale

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEFAULT_TOLERANCE_SECONDS = 300


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key from SendGrid's settings: base64 DER as SendGrid shows it, or PEM.

    Raises ValueError for anything but a P-256 public key (a misconfiguration, not a bad request).
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode("ascii"))
    else:
        try:
            der = base64.b64decode("".join(text.split()), validate=True)
        except binascii.Error as error:
            raise ValueError(f"SendGrid webhook public key is not base64: {error}") from None
        key = load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("SendGrid webhook public key must be an ECDSA P-256 public key")
    return key


def signature_is_valid(key: ec.EllipticCurvePublicKey, signature: str, timestamp: str, body: bytes) -> bool:
    """True when `signature` (base64 DER) is the key's ECDSA/SHA-256 signature of timestamp + body."""
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(der, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


class ReplayGuard(Protocol):
    def first_use(self, key: str, *, expires_at: int) -> bool:
        """Record `key`; True the first time, False if it was recorded before (atomically)."""
        ...


@dataclass(frozen=True)
class VerifiedRequest:
    timestamp: int
    replay_key: str


class SendGridWebhookVerifier:
    """Admits a request only if its signature verifies, its timestamp is fresh and it was not seen before."""

    def __init__(
        self,
        public_key: str | ec.EllipticCurvePublicKey,
        *,
        replay_guard: ReplayGuard,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_public_key(public_key) if isinstance(public_key, str) else public_key
        self._guard = replay_guard
        self._tolerance = tolerance_seconds
        self._clock = clock

    def check(self, headers: Mapping[str, str], body: bytes) -> int:
        """Signature and freshness only (no record). Returns the signed timestamp (epoch seconds)."""
        signature, timestamp = _header(headers, SIGNATURE_HEADER), _header(headers, TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise SignatureMissing("SendGrid signature or timestamp header missing")
        if not signature_is_valid(self._key, signature, timestamp, body):
            raise SignatureInvalid("SendGrid signature does not verify")
        # Verified first, parsed second: an unsigned timestamp is never trusted to mean anything.
        if not timestamp.isdigit():
            raise SignatureInvalid("SendGrid timestamp is not epoch seconds")
        signed_at = int(timestamp)
        # Both directions: a timestamp from the future would stay "fresh" for longer than the tolerance.
        if abs(self._clock() - signed_at) > self._tolerance:
            raise SignatureStale(f"SendGrid timestamp {signed_at} is outside the {self._tolerance}s tolerance")
        return signed_at

    def admit(self, headers: Mapping[str, str], signed_at: int) -> VerifiedRequest:
        """Record the (already checked) signature as used; refuse it if it was used before.

        The record only has to outlive the tolerance: after that the timestamp check refuses the request.
        SendGrid signs every delivery attempt anew (a retry hours later would otherwise be stale), so a
        repeated signature is always a replay, never a legitimate retry.
        """
        signature = _header(headers, SIGNATURE_HEADER) or ""
        replay_key = "sendgrid:" + hashlib.sha256(signature.strip().encode("utf-8")).hexdigest()
        if not self._guard.first_use(replay_key, expires_at=signed_at + 2 * self._tolerance + 60):
            raise SignatureReplayed("SendGrid signature already used")
        return VerifiedRequest(signed_at, replay_key)

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedRequest:
        return self.admit(headers, self.check(headers, body))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (API Gateway HTTP APIs lower-case them)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
