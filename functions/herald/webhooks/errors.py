"""Why a webhook request was refused: 401 when it carries no signature, 403 when the signature is wrong."""

from __future__ import annotations


class WebhookRefused(Exception):
    """A request that is not (provably) from the provider. Nothing of it may be recorded."""

    status_code = 403

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureMissing(WebhookRefused):
    """No signature (or no timestamp): the caller did not even try to authenticate."""

    status_code = 401


class SignatureInvalid(WebhookRefused):
    """A signature that does not verify: forged, tampered, signed with another key, or malformed."""


class SignatureStale(WebhookRefused):
    """A valid signature over a timestamp outside the tolerance: an old request played again."""


class SignatureReplayed(WebhookRefused):
    """A valid, fresh signature that was already accepted once."""
