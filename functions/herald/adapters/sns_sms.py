"""SMS through Amazon SNS (Publish to a phone number): the secondary SMS provider."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from herald.adapters.aws_errors import provider_error
from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import Channel, ChannelMessage


class SnsSms:
    name = "sns"
    channel = Channel.SMS

    def __init__(self, client: Any, *, sender_id: str | None = None, origination_number: str | None = None) -> None:
        self._client = client  # a boto3 "sns" client; its timeouts and retries are the caller's choice
        # Transactional: SNS routes it for reliability over cost (order and shipment news is expected, not bulk).
        attributes = {"AWS.SNS.SMS.SMSType": _string("Transactional")}
        if sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = _string(sender_id)
        if origination_number:
            attributes["AWS.MM.SMS.OriginationNumber"] = _string(origination_number)
        self._attributes = attributes

    def send(self, message: ChannelMessage) -> str | None:
        if message.sms is None:
            raise ProviderError(ErrorKind.PERMANENT, "herald:no-content", "SMS message without SMS content")
        try:
            response = self._client.publish(
                PhoneNumber=message.to, Message=message.sms.body, MessageAttributes=self._attributes
            )
        except (ClientError, BotoCoreError) as error:
            raise provider_error(error, "SNS") from None
        message_id = response.get("MessageId")
        return str(message_id) if message_id else None


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
