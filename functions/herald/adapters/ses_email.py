"""Email through Amazon SES (the API v2 SendEmail, Simple content): the secondary email provider."""

from __future__ import annotations

import re
from email.utils import formataddr
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from herald.adapters.aws_errors import provider_error
from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import Channel, ChannelMessage
from herald.domain.unsubscribe import list_unsubscribe_headers

CHARSET = "UTF-8"
TAG_VALUE_MAX = 256
# What an SES message tag name or value may hold (SES API MessageTag). Anything else gets the request rejected.
_NOT_TAG_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def ses_tag_value(value: str) -> str:
    """`value` as an SES message tag value: each character SES refuses becomes "_", cut to 256 characters.

    Lossy for values with such characters ("acme|evt-1|email" -> "acme_evt-1_email"): whoever matches SES
    events to notifications applies the same function, and prefers the MessageId recorded when it was sent.
    """
    return _NOT_TAG_CHARS.sub("_", value)[:TAG_VALUE_MAX]


class SesEmail:
    name = "ses"
    channel = Channel.EMAIL

    def __init__(self, client: Any, *, configuration_set: str | None = None) -> None:
        self._client = client  # a boto3 "sesv2" client; its timeouts and retries are the caller's choice
        self._configuration_set = configuration_set

    def send(self, message: ChannelMessage, *, identity_arn: str | None = None) -> str | None:
        """`identity_arn`: the storefront's SES identity when another account authorised us to send as it."""
        if message.email is None:
            raise ProviderError(ErrorKind.PERMANENT, "herald:no-content", "email message without email content")
        content = message.email
        try:
            # SES wants a non-ASCII display name as an RFC 2047 encoded word; formataddr writes one.
            sender = formataddr((content.from_name, content.from_email), charset=CHARSET) if content.from_name else None
        except UnicodeEncodeError:
            raise ProviderError(
                ErrorKind.PERMANENT, "herald:invalid-from", f"From address is not ASCII: {content.from_email!r}"
            ) from None
        body: dict[str, Any] = {}
        if content.text:
            body["Text"] = {"Data": content.text, "Charset": CHARSET}
        if content.html:
            body["Html"] = {"Data": content.html, "Charset": CHARSET}
        simple: dict[str, Any] = {"Subject": {"Data": content.subject, "Charset": CHARSET}, "Body": body}
        headers = list_unsubscribe_headers(content.list_unsubscribe)
        if headers:
            # SES v2 Simple content takes custom headers (botocore >= 1.34.x; no need for Raw MIME).
            simple["Headers"] = [{"Name": name, "Value": value} for name, value in headers.items()]
        request: dict[str, Any] = {
            "FromEmailAddress": sender or content.from_email,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Simple": simple},
            # Tags come back on every event the configuration set publishes: they link it to the notification.
            "EmailTags": _tags(message),
        }
        if content.reply_to:
            request["ReplyToAddresses"] = [content.reply_to]
        if identity_arn:
            request["FromEmailAddressIdentityArn"] = identity_arn
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            response = self._client.send_email(**request)
        except (ClientError, BotoCoreError) as error:
            raise provider_error(error, "SES") from None
        message_id = response.get("MessageId")
        return str(message_id) if message_id else None


def _tags(message: ChannelMessage) -> list[dict[str, str]]:
    tags = []
    for name, value in (
        ("notification_id", message.notification_id),
        ("source", message.source),
        ("event_id", message.event_id),
        ("order_id", message.order_id),
    ):
        sanitised = ses_tag_value(value)
        if sanitised:  # an empty tag value is refused; an absent tag is only missing
            tags.append({"Name": name, "Value": sanitised})
    return tags
