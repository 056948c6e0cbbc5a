"""Lambda handler of the send-sms function (SMS queue -> Twilio)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.notification import Channel
from herald.handlers.channel_sender import ChannelSender
from herald.observability import build_logger, traced
from herald.usecases.ports import Provider

logger = build_logger()


def twilio_provider() -> Provider:
    from herald.adapters.twilio_sms import TwilioSms
    from herald.config import settings
    from herald.handlers.secrets import twilio_credentials

    config = settings()
    credentials = twilio_credentials()
    return TwilioSms(
        credentials.account_sid,
        credentials.auth_token,
        credentials.from_number,
        base_url=config.twilio_api_base_url,
        timeout=config.provider_timeout_seconds,
        webhooks_base_url=config.webhooks_base_url,
    )


sender = ChannelSender(Channel.SMS, logger, twilio_provider)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sender.handle(event, context)
