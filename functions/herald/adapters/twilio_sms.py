"""SMS through Twilio's Messages API, with the official SDK. The only code that imports twilio."""

from __future__ import annotations

from urllib.parse import urlencode

from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from herald.domain.errors import ErrorKind, ProviderError, classify_twilio, twilio_auth_failure
from herald.domain.notification import Channel, ChannelMessage

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"  # handlers/webhooks.py's route


class TwilioSms:
    name = "twilio"
    channel = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        base_url: str | None = None,
        timeout: float = 5.0,
        webhooks_base_url: str | None = None,
    ) -> None:
        # The SDK's HTTP client has no timeout by default; set one so a hung call cannot eat the Lambda timeout.
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")
        self._from = from_number
        self._status_base = f"{webhooks_base_url.rstrip('/')}{STATUS_CALLBACK_PATH}" if webhooks_base_url else None

    def status_callback(self, message: ChannelMessage) -> str | None:
        """Where Twilio reports this message's status changes, naming the notification in the query.

        The link fields let the webhook find the notification before the sender has recorded the MessageSid
        (Twilio's first callbacks can beat `mark_sent`); Twilio signs the URL with them, so they cannot be forged.
        """
        if self._status_base is None:
            return None
        query = urlencode({"source": message.source, "event_id": message.event_id, "order_id": message.order_id})
        return f"{self._status_base}?{query}"

    def send(
        self,
        message: ChannelMessage,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
    ) -> str | None:
        """Send from the storefront's Messaging Service (Twilio then picks the number) or its number; with
        neither, from the number in the account's secret."""
        if message.sms is None:
            raise ProviderError(ErrorKind.PERMANENT, "herald:no-content", "SMS message without SMS content")
        sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number or self._from}
        )
        callback = self.status_callback(message)
        if callback:
            sender["status_callback"] = callback
        try:
            created = self._client.messages.create(to=message.to, body=message.sms.body, **sender)
        except TwilioRestException as error:
            code = error.code if isinstance(error.code, int) else None
            raise ProviderError(
                classify_twilio(error.status, code),
                str(code if code is not None else error.status),
                str(error.msg),
                http_status=error.status,
                auth=twilio_auth_failure(error.status, code),
            ) from None
        except RequestException as error:
            raise ProviderError(ErrorKind.RETRYABLE, "connection", f"Twilio unreachable: {error}") from None
        except TwilioException as error:
            # TwilioServiceException and friends are not TwilioRestException: treat as transient.
            raise ProviderError(ErrorKind.RETRYABLE, "twilio", str(error)) from None
        return created.sid
