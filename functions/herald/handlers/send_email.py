"""Lambda handler of the send-email function (email queue -> SendGrid, or SES on failover and escalation)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.notification import Channel
from herald.handlers.channel_sender import ChannelSender
from herald.handlers.fallback import ask_for_fallback
from herald.handlers.routing import Lazy, routed, secondary_client
from herald.observability import build_logger, traced
from herald.usecases.ports import ProviderRouter

logger = build_logger()


def sendgrid_provider() -> ProviderRouter:
    from herald.adapters.sendgrid_email import SendGridEmail
    from herald.adapters.ses_email import SesEmail
    from herald.config import settings
    from herald.handlers.secrets import sendgrid_api_key

    config = settings()
    sendgrid = SendGridEmail(sendgrid_api_key(), host=config.sendgrid_api_host, timeout=config.provider_timeout_seconds)
    configuration_set = config.ses_configuration_set or None
    ses = Lazy("ses", Channel.EMAIL, lambda: SesEmail(secondary_client("sesv2"), configuration_set=configuration_set))
    return routed(sendgrid, ses, logger)


sender = ChannelSender(Channel.EMAIL, logger, sendgrid_provider, on_failed=ask_for_fallback)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sender.handle(event, context)
