"""SMS through Twilio's Messages API, with the official SDK. The only code that imports twilio."""

from __future__ import annotations

from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from herald.domain.errors import ErrorKind, ProviderError, classify_twilio
from herald.domain.notification import Channel, ChannelMessage


class TwilioSms:
    channel = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        base_url: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        # The SDK's HTTP client has no timeout by default; set one so a hung call cannot eat the Lambda timeout.
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")
        self._from = from_number

    def send(self, message: ChannelMessage) -> str | None:
        if message.sms is None:
            raise ProviderError(ErrorKind.PERMANENT, "herald:no-content", "SMS message without SMS content")
        try:
            created = self._client.messages.create(to=message.to, from_=self._from, body=message.sms.body)
        except TwilioRestException as error:
            code = error.code if isinstance(error.code, int) else None
            raise ProviderError(
                classify_twilio(error.status, code),
                str(code if code is not None else error.status),
                str(error.msg),
                http_status=error.status,
            ) from None
        except RequestException as error:
            raise ProviderError(ErrorKind.RETRYABLE, "connection", f"Twilio unreachable: {error}") from None
        except TwilioException as error:
            # TwilioServiceException and friends are not TwilioRestException: treat as transient.
            raise ProviderError(ErrorKind.RETRYABLE, "twilio", str(error)) from None
        return created.sid
