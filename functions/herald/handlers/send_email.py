"""Lambda handler of the send-email function (email queue -> SendGrid, or SES on failover and escalation)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.notification import Channel
from herald.handlers.channel_sender import ChannelSender, SenderGraph, sender_graph
from herald.handlers.wiring import Root
from herald.observability import build_logger, traced

logger = build_logger()


def _build() -> SenderGraph:
    """The send-email function's composition root: SendGrid, SES behind it, the ledger, the fallback requests."""
    from herald.adapters.sendgrid_email import SendGridEmail
    from herald.adapters.ses_email import SesEmail
    from herald.config import SendEmailSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.fallback import FallbackRequests
    from herald.handlers.routing import Lazy, routed, secondary_client
    from herald.handlers.secrets import Secrets

    config = SendEmailSettings.from_environment()
    secrets = Secrets(aws_client("secretsmanager"))
    api_key = secrets.sendgrid_api_key(config.sendgrid_secret_id)
    sendgrid = SendGridEmail(api_key, host=config.sendgrid_api_host, timeout=config.provider_timeout_seconds)
    configuration_set = config.ses_configuration_set or None
    ses = Lazy("ses", Channel.EMAIL, lambda: SesEmail(secondary_client("sesv2"), configuration_set=configuration_set))
    router = routed(sendgrid, ses, config, logger)
    if config.webhooks_base_url:
        from herald.handlers.secrets import unsubscribe_tokens
        from herald.usecases.unsubscribe import UnsubscribeLinks

        # Non-transactional emails carry a signed one-click unsubscribe link, whichever provider sends them.
        tokens = unsubscribe_tokens(secrets, config.unsubscribe_secret_id, config.unsubscribe_link_days)
        router = UnsubscribeLinks(router, tokens, config.webhooks_base_url)
    return sender_graph(config, router, on_failed=FallbackRequests(config.followup_queue_url))


root = Root(_build)
sender = ChannelSender(Channel.EMAIL, logger, root)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sender.handle(event, context)
