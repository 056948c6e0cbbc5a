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
    def seen(self, key: str) -> bool:
        """True when `key` was recorded (a consistent read)."""
        ...

    def first_use(self, key: str, *, expires_at: int) -> bool:
        """Record `key`; True the first time, False if it was recorded before (atomically)."""
        ...


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose signature verified and whose timestamp is fresh."""

    timestamp: int
    # What identifies the request: a hash of the signed content (timestamp + body), not of the signature.
    # An ECDSA signature is not unique: (r, s) and (r, n - s) both verify, a DER or base64 text can be written
    # more than one way (unused trailing bits, padding), and a new signature can be made over the same content.
    # Any of them over the same content is the same request.
    replay_key: str
    # The record only has to outlive the tolerance: after that the timestamp check refuses the request.
    expires_at: int


class SendGridWebhookVerifier:
    """Admits a request only if its signature verifies and its timestamp is fresh (`check`); with a ReplayGuard,
    refuses a request whose signed content was applied before (`refuse_replay`) and records it once applied
    (`record`).

    A request is recorded only after its events were applied (`record`): an apply that failed leaves no record,
    so SendGrid's retry of the identical request is admitted and applied.
    """

    def __init__(
        self,
        public_key: str | ec.EllipticCurvePublicKey,
        *,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_public_key(public_key) if isinstance(public_key, str) else public_key
        self._tolerance = tolerance_seconds
        self._clock = clock

    def check(self, headers: Mapping[str, str], body: bytes) -> VerifiedRequest:
        """Signature and freshness only (reads and records nothing)."""
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
        content = hashlib.sha256(timestamp.encode("utf-8") + body).hexdigest()
        return VerifiedRequest(signed_at, "sendgrid:" + content, signed_at + 2 * self._tolerance + 60)

    @staticmethod
    def refuse_replay(request: VerifiedRequest, guard: ReplayGuard) -> None:
        """SignatureReplayed when this signed content was applied before (a read: records nothing)."""
        if guard.seen(request.replay_key):
            raise SignatureReplayed("SendGrid request already applied (same timestamp and body)")

    @staticmethod
    def record(request: VerifiedRequest, guard: ReplayGuard) -> bool:
        """Record the request as applied; False when a concurrent copy recorded it first (both applied its
        events, which the ledger makes harmless: each event is recorded on its notification once)."""
        return guard.first_use(request.replay_key, expires_at=request.expires_at)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (API Gateway HTTP APIs lower-case them)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
