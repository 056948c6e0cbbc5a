"""Verify X-Twilio-Signature in linear time, as the Twilio SDK's RequestValidator computes it.

Twilio signs the full URL it requested (scheme, host, path and query string exactly as configured) followed
by every POST parameter name and value, sorted, with HMAC-SHA1 keyed by the account's auth token. As the SDK does,
the URL is tried with and without the default port (Twilio's own signing is inconsistent there), and a name's
repeated values are each signed once, sorted.

The SDK's `RequestValidator.validate` is not called: it looks each name's values up one name at a time
(`getall`, a scan of every field on a plain list of pairs) and grows the signed text by `+=`, so a request of n
fields costs O(n^2): 16,000 fields with a bad signature took 16 s to refuse. Here the fields are grouped in one
pass and the signed text is one `join`; the SDK's own port helpers are reused, and the unit tests check this
against the SDK's published vectors and its `compute_signature`. Bodies are bounded before this runs
(webhooks/limits.py).

Twilio's signature carries no timestamp, so freshness cannot be checked; every Twilio callback Herald
handles is idempotent instead (a status is recorded once per message and status, an inbound message and its
keyword once per MessageSid).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable, Iterator, Mapping
from hashlib import sha1
from urllib.parse import parse_qsl, urlparse

from twilio.request_validator import add_port, remove_port

from herald.webhooks.errors import SignatureInvalid, SignatureMissing

SIGNATURE_HEADER = "X-Twilio-Signature"


class FormParams:
    """Form fields keeping repeated names (every value is signed), indexed by name in one pass."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = list(pairs)
        self._by_name: dict[str, list[str]] = {}
        for name, value in self._pairs:
            self._by_name.setdefault(name, []).append(value)

    @classmethod
    def parse(cls, body: bytes) -> FormParams:
        """An application/x-www-form-urlencoded body. Raises ValueError if it is not UTF-8 form data."""
        text = body.decode("utf-8")
        return cls(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict"))

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def getall(self, name: str) -> list[str]:
        return list(self._by_name.get(name, ()))

    def first(self) -> dict[str, str]:
        """Name -> first value: what the use cases read (Twilio sends each field once)."""
        fields: dict[str, str] = {}
        for name, value in self._pairs:
            fields.setdefault(name, value)
        return fields


def signed_text(params: FormParams | Mapping[str, str]) -> str:
    """The parameters as Twilio signs them after the URL: each name, sorted, then each of its distinct values,
    sorted, concatenated (what the SDK's compute_signature builds), in one join."""
    if isinstance(params, FormParams):
        grouped = {name: params.getall(name) for name in params}
    else:
        grouped = {name: [value] for name, value in params.items()}
    return "".join(name + value for name in sorted(grouped) for value in sorted(set(grouped[name])))


def signature_for(token: bytes, url: str, params_text: str) -> str:
    mac = hmac.new(token, (url + params_text).encode("utf-8"), sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


class TwilioWebhookVerifier:
    def __init__(self, auth_token: str) -> None:
        if not auth_token:
            raise ValueError("Twilio auth token is empty")
        self._token = auth_token.encode("utf-8")

    def verify(self, url: str, params: FormParams | Mapping[str, str], headers: Mapping[str, str]) -> None:
        signature = headers.get(SIGNATURE_HEADER) or next(
            (v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None
        )
        if not signature:
            raise SignatureMissing("X-Twilio-Signature header missing")
        text = signed_text(params)
        parsed = urlparse(url)
        expected = signature.encode("utf-8")
        # Both forms are always computed and compared in constant time: which one matched is not timed out.
        matches = [
            hmac.compare_digest(signature_for(self._token, variant, text).encode("ascii"), expected)
            for variant in (remove_port(parsed), add_port(parsed))
        ]
        if not any(matches):
            raise SignatureInvalid("X-Twilio-Signature does not verify for this URL and these parameters")
