"""A storefront's webhook receiver, for the demo and the tests: it verifies Herald's outbound webhooks the way
docs/outbound-webhooks.md tells storefronts to, and records what it received.

It serves HTTPS on 127.0.0.1 with a certificate it makes at start (its own throwaway CA, written to `ca_path`):
Herald sends to https:// URLs only, so the local runtime hands the functions that CA (herald_tools.local.ports).
`fail_next(n, status)` makes it answer the next n requests with `status` (500 by default) to show the retries
(with `headers`, a redirect's Location say); `hang_next(seconds)` holds the next answer back (a timeout).

- a request whose signature verifies is answered 204 and recorded in `received` (and `received.jsonl`), with its
  signature headers and body as received;
- one that does not is answered 401 and counted in `refused` (nothing else is kept of it);
- a second delivery of one webhook-id is answered 204 and recorded once (the docs' deduplication).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from herald_tools.local.standins._http import Reply, Request, StandInServer

PATH = "/herald/webhooks"
TOLERANCE_SECONDS = 300


# --- the verification docs/outbound-webhooks.md shows storefronts (kept identical: a test compares them) ------
def verify_herald_webhook(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> dict[str, Any]:
    """Return the CloudEvent if the request is Herald's, else raise ValueError."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise ValueError("stale timestamp")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return json.loads(body)
    raise ValueError("no valid signature")


# --- end of the docs' snippet ---------------------------------------------------------------------------------


_SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class StorefrontWebhookReceiver(StandInServer):
    name = "storefront-webhooks"
    max_body_bytes = 64 * 1024

    def __init__(self, secrets: Sequence[str], *, record_dir: Path | None = None, port: int = 0) -> None:
        super().__init__(port=port)
        self.secrets = list(secrets)
        self._record_dir = Path(record_dir) if record_dir else Path(tempfile.mkdtemp(prefix="herald-receiver-"))
        self._record_dir.mkdir(parents=True, exist_ok=True)
        self.ca_path = self._record_dir / "receiver-ca.pem"
        self.tls_context = _tls_context(self._record_dir, self.ca_path)
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._hangs: list[float] = []
        self._refused = 0
        self._received: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._state = threading.Lock()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        """What a storefront's registry entry names as `outbound.url`."""
        return self.url + PATH

    @property
    def received_path(self) -> Path:
        return self._record_dir / "received.jsonl"

    def fail_next(self, count: int, status: int = 500, headers: Mapping[str, str] | None = None) -> None:
        with self._state:
            self._failures.extend([(status, dict(headers or {}))] * count)

    def hang_next(self, seconds: float) -> None:
        """Answer the next request only after `seconds` (or when the receiver stops)."""
        with self._state:
            self._hangs.append(seconds)

    @property
    def received(self) -> list[dict[str, Any]]:
        """Each verified webhook once: its headers, the CloudEvent, and how many times it was delivered."""
        with self._state:
            return [dict(entry) for entry in self._received]

    @property
    def refused(self) -> int:
        with self._state:
            return self._refused

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != PATH:
            return Reply(404, b"not found")
        if request.too_large:
            return Reply(413, b"too large")
        with self._state:
            failure = self._failures.pop(0) if self._failures else None
            hang = self._hangs.pop(0) if self._hangs else None
        if hang is not None:
            self.hang(hang)
        if failure is not None:
            status, headers = failure
            return Reply(status, b"told to fail", headers)
        headers = {name.lower(): value for name, value in request.headers.items()}
        event = self._verified(headers, request.body)
        if event is None:
            with self._state:
                self._refused += 1
            return Reply(401, b"signature refused")
        self._record(headers, event, request.body)
        return Reply(204)

    def _verified(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
        for secret in self.secrets:
            try:
                return verify_herald_webhook(secret, headers, body, time.time())
            except (KeyError, ValueError):
                continue  # another of the storefront's secrets may verify it (a rotation)
        return None

    def _record(self, headers: Mapping[str, str], event: dict[str, Any], body: bytes) -> None:
        webhook_id = headers["webhook-id"]
        with self._state:
            if webhook_id in self._seen:
                # The docs' idempotency: a second delivery of one id is acknowledged, not processed again.
                next(e for e in self._received if e["webhook_id"] == webhook_id)["deliveries"] += 1
                return
            self._seen.add(webhook_id)
            entry = {
                "webhook_id": webhook_id,
                "content_type": headers.get("content-type"),
                "signatures": len(headers["webhook-signature"].split(" ")),
                "event": event,
                "deliveries": 1,
                # What was signed, as received: whoever holds the storefront's secret can verify it again, as the
                # storefront's own code would (the body is ASCII: docs/outbound-webhooks.md).
                "signed": {name: headers[name] for name in _SIGNED_HEADERS},
                "body": body.decode("ascii"),
            }
            self._received.append(entry)
            with self.received_path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(entry) + "\n")

    def throttle_reply(self) -> Reply:
        return Reply(429, b"slow down")

    def server_error_reply(self) -> Reply:
        return Reply(500, b"receiver failed")


def _tls_context(folder: Path, ca_path: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 and localhost, signed by a CA made for this receiver."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Herald local receiver CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path = folder / "receiver-cert.pem"
    key_path = folder / "receiver-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context
