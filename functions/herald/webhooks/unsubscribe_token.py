"""The signed token of a one-click unsubscribe link (RFC 8058): who may be unsubscribed from what, until when.

The token is a Fernet token (the `cryptography` library: AES-128-CBC encrypted, HMAC-SHA256 signed), so the URL
neither shows the address nor lets anyone change it: it binds the storefront, the channel, the address, the
scope and an expiry, and a token that does not verify under one of the deployment's keys is refused (403).
The keys come from a Secrets Manager secret (never the template): each key string is stretched with HKDF into a
Fernet key; the first signs, every one verifies (rotation: add the new key first, drop the old one after the
links it signed have expired).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from herald.webhooks.errors import SignatureInvalid, SignatureStale

SCOPE_NON_ESSENTIAL = "non_essential"  # every email but the transactional ones (domain.suppression.Scope)
MAX_TOKEN_CHARS = 1024  # an address of 254 characters makes a token of about 500; anything longer is refused unread
MIN_KEY_CHARS = 32
_VERSION = 1
_HKDF_INFO = b"herald/unsubscribe-token/v1"
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$")


@dataclass(frozen=True)
class UnsubscribeGrant:
    """What a valid token allows: `address` to be unsubscribed from `source`'s `channel` mail of `scope`."""

    source: str
    channel: str
    address: str
    scope: str
    expires_at: int  # epoch seconds
    locale: str | None = None  # the language of the email that carried the link (its page is written in it)


class UnsubscribeTokens:
    def __init__(self, keys: Sequence[str], *, lifetime_seconds: int, clock: Callable[[], float] = time.time) -> None:
        if not keys or any(len(key) < MIN_KEY_CHARS for key in keys):
            raise ValueError(f"unsubscribe keys must be at least {MIN_KEY_CHARS} characters each")
        self._fernet = MultiFernet([Fernet(_fernet_key(key)) for key in keys])
        self._lifetime = lifetime_seconds
        self._clock = clock

    def issue(
        self, source: str, channel: str, address: str, scope: str = SCOPE_NON_ESSENTIAL, *, locale: str | None = None
    ) -> str:
        claims: dict[str, object] = {
            "v": _VERSION,
            "s": source,
            "c": channel,
            "a": address.strip().lower(),
            "sc": scope,
            "x": int(self._clock()) + self._lifetime,
        }
        if locale and _LOCALE.match(locale):
            claims["l"] = locale  # optional: a token without it (issued before it existed) still verifies
        token = self._fernet.encrypt(json.dumps(claims, separators=(",", ":")).encode()).decode()
        return token.rstrip("=")  # padding is redundant; a path segment without it reads better

    def verify(self, token: str) -> UnsubscribeGrant:
        """The grant of a token this deployment signed and that has not expired; else SignatureInvalid/Stale."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise SignatureInvalid("unsubscribe token missing or too long")
        try:
            plain = self._fernet.decrypt((token + "=" * (-len(token) % 4)).encode())
            claims = json.loads(plain)
            grant = UnsubscribeGrant(
                source=str(claims["s"]),
                channel=str(claims["c"]),
                address=str(claims["a"]),
                scope=str(claims["sc"]),
                expires_at=int(claims["x"]),
                locale=_locale_claim(claims.get("l")),
            )
        except (InvalidToken, ValueError, KeyError, TypeError):
            raise SignatureInvalid("unsubscribe token does not verify") from None
        if claims.get("v") != _VERSION:
            raise SignatureInvalid("unsubscribe token of an unknown version")
        if grant.expires_at < self._clock():
            raise SignatureStale("unsubscribe link has expired")
        return grant


def _locale_claim(value: object) -> str | None:
    """The token's locale when it is a tag's shape (it was sealed by this deployment, but is shown on a page)."""
    return value if isinstance(value, str) and _LOCALE.match(value) else None


def _fernet_key(secret: str) -> bytes:
    """A Fernet key (32 random-looking bytes, base64) from an operator's key string of any form."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)
