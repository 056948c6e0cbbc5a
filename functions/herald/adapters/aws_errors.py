"""botocore errors from SES and SNS sorted into ProviderError kinds, like domain/errors.py does for the primaries."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from herald.domain.errors import ErrorKind, ProviderError

MAX_MESSAGE_CHARS = 300  # enough for AWS's sentence; the notification record keeps the reason, not a stack

RETRYABLE_CODES = frozenset(
    {
        # Rate limits. SES v1 says "Throttling" with HTTP 400 (the status alone would call it permanent);
        # SNS says "Throttled"; SES v2 says "TooManyRequestsException".
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "ThrottledException",
        "TooManyRequestsException",
        # SES v2 answers a send over the account's daily quota or sending rate with this (HTTP 400).
        # The quota refills; the message is fine.
        "LimitExceededException",
        # The account (or its configuration set) has sending paused, by us or by AWS's review. The message
        # is not at fault: keep it on the queue for when sending resumes, instead of failing it for good.
        "SendingPausedException",
        # AWS's own faults, whatever status they come with.
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "InternalErrorException",
        "RequestTimeout",
    }
)


def provider_error(error: Exception, service: str) -> ProviderError:
    """The ProviderError for a botocore ClientError / BotoCoreError raised by `service` ("SES", "SNS")."""
    if isinstance(error, ClientError):
        return _client_error(error)
    # Timeouts first: ConnectTimeoutError is also a ConnectionError.
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError):
        return ProviderError(ErrorKind.RETRYABLE, "timeout", _truncate(f"{service} did not answer: {error}"))
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return ProviderError(ErrorKind.RETRYABLE, "connection", _truncate(f"{service} unreachable: {error}"))
    if isinstance(error, ParamValidationError):
        # The request we built does not fit the API's shape: the same message fails the same way every time.
        return ProviderError(ErrorKind.PERMANENT, "ParamValidationError", _truncate(str(error)))
    # Any other BotoCoreError (credentials that could not be fetched, ...) is a fault of our environment, not of
    # the message: failing it for good would lose it, while retries end in the DLQ, from where it can be redriven.
    return ProviderError(ErrorKind.RETRYABLE, type(error).__name__, _truncate(f"{service}: {error}"))


def _client_error(error: ClientError) -> ProviderError:
    details = error.response.get("Error", {})
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = details.get("Code") or (str(status) if status else "unknown")
    message = details.get("Message") or str(error)
    retryable = code in RETRYABLE_CODES or (status is not None and (status == 429 or status >= 500))
    kind = ErrorKind.RETRYABLE if retryable else ErrorKind.PERMANENT
    return ProviderError(kind, code, _truncate(message), http_status=status)


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
