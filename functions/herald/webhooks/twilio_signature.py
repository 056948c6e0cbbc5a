"""Verify X-Twilio-Signature with the Twilio SDK's RequestValidator.

Twilio signs the full URL it requested (scheme, host, path and query string exactly as configured) followed
by every POST parameter name and value, sorted, with HMAC-SHA1 keyed by the account's auth token. The
validator tries the URL with and without the default port, as Twilio's own signing is inconsistent there.
Twilio's signature carries no timestamp, so freshness cannot be checked; every Twilio callback Herald
handles is idempotent instead (a status is recorded once per message and status, an inbound message once
per MessageSid).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from herald.webhooks.errors import SignatureInvalid, SignatureMissing

SIGNATURE_HEADER = "X-Twilio-Signature"


class FormParams:
    """Form fields keeping repeated names (RequestValidator signs every value: it calls `getall`)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    @classmethod
    def parse(cls, body: bytes) -> FormParams:
        """An application/x-www-form-urlencoded body. Raises ValueError if it is not UTF-8 form data."""
        text = body.decode("utf-8")
        return cls(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict"))

    def __iter__(self) -> Iterator[str]:
        # RequestValidator iterates the names (sorted(set(params))).
        return iter(name for name, _ in self._pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def first(self) -> dict[str, str]:
        """Name -> first value: what the use cases read (Twilio sends each field once)."""
        fields: dict[str, str] = {}
        for name, value in self._pairs:
            fields.setdefault(name, value)
        return fields


class TwilioWebhookVerifier:
    def __init__(self, auth_token: str) -> None:
        if not auth_token:
            raise ValueError("Twilio auth token is empty")
        self._validator = RequestValidator(auth_token)

    def verify(self, url: str, params: FormParams | Mapping[str, str], headers: Mapping[str, str]) -> None:
        signature = headers.get(SIGNATURE_HEADER) or next(
            (v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None
        )
        if not signature:
            raise SignatureMissing("X-Twilio-Signature header missing")
        if not self._validator.validate(url, params, signature):
            raise SignatureInvalid("X-Twilio-Signature does not verify for this URL and these parameters")
