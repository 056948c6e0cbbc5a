"""Per-storefront sending: each message goes out as its storefront's registry entry says, through its own credentials.

The entry is read at send time (the registry is cached, herald.adapters.ssm_storefronts), not copied into the
message at dispatch: the From a key may send as, the subuser and the Messaging Service belong with the credentials
the sender picks, and an operator's correction applies to the messages already queued.

- `StorefrontRouter` (outside the failover router): looks the entry up, puts the entry's From, name and Reply-To
  on an email (for SendGrid and SES alike), and turns a missing entry into a retryable error. Dispatch refuses
  unregistered storefronts, so a missing entry here is a configuration race (an entry removed or not yet
  propagated); being outside the circuit, it never fails the provider over.
- `StorefrontSendGrid`, `StorefrontTwilio`, `StorefrontSes` (inside it): the provider for the entry, from a
  `ClientPool` keyed by the secret the entry names (one client per distinct secret, rebuilt on rotation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger

from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import Channel, ChannelMessage
from herald.handlers.credentials import ClientPool
from herald.usecases.ports import Accepted, ProviderRouter, StorefrontDirectory

if TYPE_CHECKING:
    from herald.domain.storefront import Storefront

UNREGISTERED_CODE = "herald:storefront-unregistered"
REGISTRY_UNREADABLE_CODE = "herald:registry-unreadable"


def entry_for(directory: StorefrontDirectory, message: ChannelMessage) -> Storefront:
    try:
        store = directory.get(message.source)
    except Exception as error:
        # The registry could not answer (SSM throttled or denied, an entry the model refuses): a fault of our
        # configuration, not of the message. Retryable, with the reason on the notification, so nothing is lost.
        raise ProviderError(
            ErrorKind.RETRYABLE, REGISTRY_UNREADABLE_CODE, f"storefront {message.source!r}: {error}"
        ) from error
    if store is None:
        raise ProviderError(
            ErrorKind.RETRYABLE,
            UNREGISTERED_CODE,
            f"storefront {message.source!r} has no registry entry at send time (dispatch admitted it: a "
            "configuration race); retried until the entry is back, then parked in the DLQ for a redrive",
        )
    return store


def with_store_sender(message: ChannelMessage, store: Storefront) -> ChannelMessage:
    """The message with the storefront's own From, display name and Reply-To (an email; anything else as it is)."""
    if message.email is None or not store.email_from:
        return message
    email = message.email.model_copy(
        update={
            "from_email": store.email_from,
            "from_name": store.email_from_name or message.email.from_name,
            "reply_to": store.reply_to or message.email.reply_to,
        }
    )
    return message.model_copy(update={"email": email})


class StorefrontRouter:
    """A ProviderRouter that sends each message as its storefront, through the router it wraps."""

    def __init__(self, inner: ProviderRouter, directory: StorefrontDirectory, logger: Logger) -> None:
        self.channel = inner.channel
        self._inner = inner
        self._directory = directory
        self._logger = logger

    def send(self, message: ChannelMessage) -> Accepted:
        try:
            store = entry_for(self._directory, message)
        except ProviderError as missing:
            self._logger.warning(
                "storefront not in the registry at send time: retrying",
                extra={"source": message.source, "error_code": missing.code},
            )
            raise
        return self._inner.send(with_store_sender(message, store))


class _Sends(Protocol):
    def send(self, message: ChannelMessage) -> str | None: ...


class StorefrontSendGrid:
    """SendGrid with the storefront's key (`sendgrid_secret_id`) and subuser."""

    name = "sendgrid"
    channel = Channel.EMAIL

    def __init__(self, directory: StorefrontDirectory, pool: ClientPool[_Sends]) -> None:
        self._directory = directory
        self._pool = pool

    def send(self, message: ChannelMessage) -> str | None:
        store = entry_for(self._directory, message)
        # The subuser shapes the client (SendGrid's On-Behalf-Of header), so it is part of the pool's key.
        key = (store.sendgrid_secret_id, store.sendgrid_subuser or None)
        return self._pool.get(key).call(lambda client: client.send(message))


class _SendsSms(Protocol):
    def send(
        self, message: ChannelMessage, *, from_number: str | None = None, messaging_service_sid: str | None = None
    ) -> str | None: ...


class StorefrontTwilio:
    """Twilio on the storefront's account (`twilio_secret_id`), from its Messaging Service or number (else the
    number in the account's secret)."""

    name = "twilio"
    channel = Channel.SMS

    def __init__(self, directory: StorefrontDirectory, pool: ClientPool[_SendsSms]) -> None:
        self._directory = directory
        self._pool = pool

    def send(self, message: ChannelMessage) -> str | None:
        store = entry_for(self._directory, message)
        client = self._pool.get(store.twilio_secret_id)
        return client.call(
            lambda twilio: twilio.send(
                message,
                from_number=store.sms_from or None,
                messaging_service_sid=store.twilio_messaging_service_sid or None,
            )
        )


class _SendsSes(Protocol):
    def send(self, message: ChannelMessage, *, identity_arn: str | None = None) -> str | None: ...


class StorefrontSes:
    """SES as the storefront's identity: From is the entry's (StorefrontRouter put it on the message); an identity
    given as an ARN is passed as FromEmailAddressIdentityArn (an identity another account authorised us to use)."""

    name = "ses"
    channel = Channel.EMAIL

    def __init__(self, directory: StorefrontDirectory, ses: _SendsSes) -> None:
        self._directory = directory
        self._ses = ses

    def send(self, message: ChannelMessage) -> str | None:
        identity = entry_for(self._directory, message).ses_identity or ""
        return self._ses.send(message, identity_arn=identity if identity.startswith("arn:") else None)
