"""The customer's order page: its link, the tokens of its forms, and the answers a customer gives on it.

The link is `<api>/o/<token>`: 22 characters of an HMAC of (storefront, order) under the order-page key, so it is
short enough for an SMS, the same in every message of one order, and unguessable (132 bits). Dispatch records
each token it hands out (adapters.dynamodb_order_pages) with an expiry, and the page serves only a recorded,
unexpired token: nothing else to log in with, and a rotated key leaves the links already sent working until
they expire.

Each form on the page carries its own token (issued time, a nonce, an HMAC over the page token and the form's
name): a post from another site cannot forge it, an old page cannot be posted after FORM_LIFETIME, and each
nonce is accepted once (the adapter records it), so a replayed post records nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from herald.domain.locales import N_

PAGE_PATH = "/o"
TOKEN_LENGTH = 22  # base64url characters: 132 bits
FORM_LIFETIME = timedelta(hours=12)
PAGE_LINK_DAYS = 120  # a link works this long after the order's last message (each message renews it)
MAX_NOTE_CHARACTERS = 500
_TOKEN = re.compile(rf"^[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}$")
_FORM_TOKEN = re.compile(r"^(\d{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$")


class FormRefused(ValueError):
    """A form post Herald does not accept: forged, expired, replayed, or not what the form asks.

    `message` is the page's words (a gettext msgid, marked with N_) and `params` its %-placeholders: the page shows
    it translated in the customer's language; str() is the English sentence, for the log.
    """

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class DeliveryAnswer(StrEnum):
    RECEIVED = "received"
    NOT_RECEIVED = "not_received"


class DisputeReason(StrEnum):
    NOTHING_ARRIVED = "nothing_arrived"
    WRONG_PLACE = "wrong_place"
    DAMAGED = "damaged"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def page_token(key: str, source: str, order_id: str) -> str:
    """The order's page token under `key` (the signing key, the first of the secret's keys)."""
    mac = hmac.new(key.encode(), f"order-page\n{source}\n{order_id}".encode(), hashlib.sha256).digest()
    return _b64(mac)[:TOKEN_LENGTH]


def is_page_token(value: str) -> bool:
    """Whether `value` has a page token's shape (checked before any lookup: a malformed one costs nothing)."""
    return bool(_TOKEN.match(value))


def page_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PAGE_PATH}/{token}"


@dataclass(frozen=True)
class FormTokens:
    """Issues and checks the per-form tokens under the page keys (the first signs, every one verifies)."""

    keys: tuple[str, ...]

    def issue(self, token: str, form: str, now: datetime) -> str:
        issued = str(int(now.timestamp()))
        nonce = _b64(secrets.token_bytes(12))
        return f"{issued}.{nonce}.{self._mac(self.keys[0], token, form, issued, nonce)}"

    def verify(self, token: str, form: str, value: str, now: datetime) -> str:
        """The form token's nonce (the adapter accepts each once). Raises FormRefused."""
        match = _FORM_TOKEN.match(value or "")
        if match is None:
            raise FormRefused(N_("the form's token is missing or malformed"))
        issued, nonce, mac = match.groups()
        if not any(hmac.compare_digest(mac, self._mac(key, token, form, issued, nonce)) for key in self.keys):
            raise FormRefused(N_("the form's token was not issued for this page"))
        age = now.timestamp() - int(issued)
        if age < -300 or age > FORM_LIFETIME.total_seconds():
            raise FormRefused(N_("the page is too old: reload it and answer again"))
        return nonce

    @staticmethod
    def _mac(key: str, token: str, form: str, issued: str, nonce: str) -> str:
        message = f"order-form\n{token}\n{form}\n{issued}\n{nonce}".encode()
        return _b64(hmac.new(key.encode(), message, hashlib.sha256).digest())


@dataclass(frozen=True)
class DeliveryResponse:
    """A customer's answer about one delivered shipment, as the page's form posted it (validated)."""

    shipment_id: str
    answer: DeliveryAnswer
    reason: DisputeReason | None = None
    note: str | None = None


def delivery_response(fields: dict[str, str], delivered_shipments: set[str]) -> DeliveryResponse:
    """Read the delivery form's fields. Raises FormRefused with what is wrong (the page shows it)."""
    shipment_id = fields.get("shipment", "")
    if shipment_id not in delivered_shipments:
        raise FormRefused(N_("this shipment has no delivery to answer about"))
    try:
        answer = DeliveryAnswer(fields.get("answer", ""))
    except ValueError:
        raise FormRefused(N_("choose whether you received it")) from None
    if answer is DeliveryAnswer.RECEIVED:
        return DeliveryResponse(shipment_id, answer)
    reason_text = fields.get("reason", "")
    try:
        reason = DisputeReason(reason_text) if reason_text else None
    except ValueError:
        raise FormRefused(N_("choose what happened")) from None
    note = " ".join(fields.get("note", "").split()) or None
    if note is not None and len(note) > MAX_NOTE_CHARACTERS:
        raise FormRefused(N_("the note is longer than %(limit)s characters"), limit=MAX_NOTE_CHARACTERS)
    return DeliveryResponse(shipment_id, answer, reason, note)
