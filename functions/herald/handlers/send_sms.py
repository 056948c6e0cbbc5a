"""Lambda handler of the send-sms function (SMS queue -> Twilio, or SNS on failover and escalation)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.notification import Channel, ChannelMessage
from herald.handlers.aws import aws_client
from herald.handlers.channel_sender import ChannelSender
from herald.handlers.fallback import ask_for_fallback
from herald.handlers.routing import Lazy, routed, secondary_client
from herald.observability import build_logger, traced
from herald.usecases.ports import ProviderRouter
from herald.usecases.send import SendResult

logger = build_logger()


def twilio_provider() -> ProviderRouter:
    from herald.adapters.sns_sms import SnsSms
    from herald.adapters.twilio_sms import TwilioSms
    from herald.config import settings
    from herald.handlers.secrets import twilio_credentials

    config = settings()
    credentials = twilio_credentials()
    twilio = TwilioSms(
        credentials.account_sid,
        credentials.auth_token,
        credentials.from_number,
        base_url=config.twilio_api_base_url,
        timeout=config.provider_timeout_seconds,
        webhooks_base_url=config.webhooks_base_url,
    )
    sns = Lazy(
        "sns",
        Channel.SMS,
        lambda: SnsSms(
            secondary_client("sns"), sender_id=config.sns_sender_id, origination_number=config.sns_origination_number
        ),
    )
    return routed(twilio, sns, logger)


def suppress_opted_out(message: ChannelMessage, result: SendResult) -> None:
    """Twilio's 21610 (the customer replied STOP to our number) becomes a suppression, so dispatch stops the next
    SMS to this number with the reason instead of each one failing at Twilio."""
    from datetime import UTC, datetime

    from herald.domain.suppression import suppression_for_refusal

    suppression = suppression_for_refusal(
        message.source, Channel.SMS, message.to, result.error_code, datetime.now(UTC).isoformat()
    )
    if suppression is not None:
        _suppressions().suppress(suppression)


@cache
def _suppressions() -> Any:
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
    from herald.config import settings

    return DynamoDbSuppressions(aws_client("dynamodb"), settings().table_name)


def after_refusal(message: ChannelMessage, result: SendResult) -> None:
    suppress_opted_out(message, result)
    ask_for_fallback(message, result)


sender = ChannelSender(Channel.SMS, logger, twilio_provider, on_failed=after_refusal)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sender.handle(event, context)
