"""Provider errors, sorted into what is worth retrying and what is not."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    RETRYABLE = "retryable"  # throttling, 5xx, timeouts, connection errors: try again later
    PERMANENT = "permanent"  # the request itself is wrong for this provider: record it, never retry


class ProviderError(Exception):
    """A provider refused or could not take a message. `code` is the provider's own code."""

    def __init__(
        self, kind: ErrorKind, code: str, message: str, *, http_status: int | None = None, auth: bool = False
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = message
        self.http_status = http_status
        # The provider refused our credentials (a rotated or revoked key): a fault of the provider account, never
        # of the message. Always retryable; the sender re-reads its secret and the circuit counts it.
        self.auth = auth

    @property
    def retryable(self) -> bool:
        return self.kind is ErrorKind.RETRYABLE


# Twilio error codes that no retry can fix (https://www.twilio.com/docs/api/errors).
TWILIO_PERMANENT_CODES = frozenset(
    {
        21211,  # invalid 'To' number
        21212,  # invalid 'From' number
        21408,  # SMS to that region not enabled
        21602,  # body required
        21604,  # 'To' required
        21606,  # 'From' is not an SMS-capable number of this account
        21610,  # recipient opted out (STOP)
        21612,  # cannot route to this number
        21614,  # 'To' is not a mobile number
        21617,  # body too long
    }
)
TWILIO_RETRYABLE_CODES = frozenset({20429, 30001})  # too many requests; queue overflow
TWILIO_AUTH_CODE = 20003  # "Authenticate": the account SID / auth token pair was refused (HTTP 401)


def twilio_auth_failure(http_status: int, code: int | None) -> bool:
    """Twilio refused the credentials (401, or its code 20003), whatever the message."""
    return http_status == 401 or code == TWILIO_AUTH_CODE


def sendgrid_auth_failure(http_status: int) -> bool:
    """SendGrid refused the API key: 401 (invalid, expired or revoked) or 403 (the key, or its subuser, may not
    send, or not as this sender). Either way the account's configuration, not the message."""
    return http_status in (401, 403)


def classify_twilio(http_status: int, code: int | None) -> ErrorKind:
    if code in TWILIO_RETRYABLE_CODES or http_status == 429 or http_status >= 500:
        return ErrorKind.RETRYABLE
    if twilio_auth_failure(http_status, code):
        return ErrorKind.RETRYABLE  # a rotated or revoked token: retried, failed over, alarmed; never lost
    return ErrorKind.PERMANENT


def classify_sendgrid(http_status: int) -> ErrorKind:
    # 400 bad request, 413 too large: the same request will fail the same way. 429 and 5xx are SendGrid
    # asking us to come back later; 401/403 are our key's fault (rotated, revoked): retried, never the message's.
    if http_status == 429 or http_status >= 500 or sendgrid_auth_failure(http_status):
        return ErrorKind.RETRYABLE
    return ErrorKind.PERMANENT


def retry_delay_seconds(attempt: int, *, base: int, maximum: int) -> int:
    """Exponential back-off for the `attempt`-th failure (1-based), capped at `maximum` (SQS allows 12 h)."""
    return int(min(maximum, base * 2 ** max(0, attempt - 1)))
