"""Email through SendGrid's v3 Mail Send API, with the official SDK. The only code that imports sendgrid."""

from __future__ import annotations

import json
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, From, Header, Mail, ReplyTo, To

from herald.domain.errors import ErrorKind, ProviderError, classify_sendgrid, sendgrid_auth_failure
from herald.domain.notification import Channel, ChannelMessage
from herald.domain.unsubscribe import list_unsubscribe_headers


class SendGridEmail:
    name = "sendgrid"
    channel = Channel.EMAIL

    def __init__(
        self, api_key: str, *, host: str | None = None, timeout: float = 5.0, subuser: str | None = None
    ) -> None:
        # A subuser is sent as SendGrid's On-Behalf-Of header: a parent account's key sends as that subuser.
        options: dict[str, str] = {"host": host} if host else {}
        self._client = SendGridAPIClient(api_key, impersonate_subuser=subuser or None, **options)
        # The SDK waits forever by default; a hung connection would eat the whole Lambda timeout.
        self._client.client.timeout = timeout

    def send(self, message: ChannelMessage) -> str | None:
        if message.email is None:
            raise ProviderError(ErrorKind.PERMANENT, "herald:no-content", "email message without email content")
        content = message.email
        mail = Mail(
            from_email=From(content.from_email, content.from_name),
            to_emails=To(message.to),
            subject=content.subject,
            plain_text_content=content.text,
            html_content=content.html,
        )
        if content.reply_to:
            mail.reply_to = ReplyTo(content.reply_to)
        for name, value in list_unsubscribe_headers(content.list_unsubscribe).items():
            mail.header = Header(name, value)
        # Custom args come back on every Event Webhook post: they link delivery events to the notification.
        for key, value in (
            ("notification_id", message.notification_id),
            ("source", message.source),
            ("event_id", message.event_id),
            ("order_id", message.order_id),
        ):
            mail.add_custom_arg(CustomArg(key, value))
        try:
            response = self._client.send(mail)
        except HTTPError as error:
            raise ProviderError(
                classify_sendgrid(error.status_code),
                str(error.status_code),
                _sendgrid_message(error.body),
                http_status=error.status_code,
                auth=sendgrid_auth_failure(error.status_code),
            ) from None
        except TimeoutError as error:
            raise ProviderError(ErrorKind.RETRYABLE, "timeout", f"SendGrid did not answer: {error}") from None
        except (URLError, ConnectionError) as error:
            raise ProviderError(ErrorKind.RETRYABLE, "connection", f"SendGrid unreachable: {error}") from None
        return response.headers.get("X-Message-Id")


def _sendgrid_message(body: bytes | str | None) -> str:
    """The first error message of a SendGrid error body (`{"errors": [{"message": ...}]}`)."""
    if not body:
        return "no error body"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        errors = json.loads(text).get("errors") or []
        return "; ".join(str(e.get("message")) for e in errors[:3]) or text[:200]
    except (ValueError, AttributeError):
        return text[:200]
