"""Lambda handler of the send-email function (email queue -> SendGrid, or SES on failover and escalation)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, cast

# Before anything that imports pydantic: Powertools' batch utility, imported once pydantic is loaded, builds
# two dozen models of its Parser (SQS, Kinesis, DynamoDB, Kafka records: ~20 ms of a cold start); imported first,
# it skips them.
# Herald parses SQS records with the batch utility's data classes and uses none of those models.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.notification import Channel
from herald.handlers.channel_sender import ChannelSender, SenderGraph, sender_graph
from herald.handlers.wiring import Root
from herald.observability import build_logger, traced

if TYPE_CHECKING:
    from herald.usecases.ports import ProviderRouter

logger = build_logger()


def _build() -> SenderGraph:
    """The send-email function's composition root: SendGrid per storefront, SES behind it, the ledger, the
    fallback requests."""
    from herald.adapters.sendgrid_email import SendGridEmail
    from herald.adapters.ses_email import SesEmail
    from herald.config import SendEmailSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.credentials import ClientPool, RotatingClient
    from herald.handlers.fallback import FallbackRequests
    from herald.handlers.registry import storefronts
    from herald.handlers.routing import Lazy, routed, secondary_client
    from herald.handlers.secrets import Secrets, sendgrid_api_key
    from herald.handlers.storefront_senders import StorefrontRouter, StorefrontSendGrid, StorefrontSes

    config = SendEmailSettings.from_environment()
    secrets = Secrets(aws_client("secretsmanager"))
    directory = storefronts(config.storefronts_path)

    def sendgrid_client(key: Hashable) -> RotatingClient[SendGridEmail]:
        secret_id, subuser = cast(tuple[str, str | None], key)

        def build(secret: dict[str, Any]) -> SendGridEmail:
            api_key = sendgrid_api_key(secret_id, secret)
            timeout = config.provider_timeout_seconds
            return SendGridEmail(api_key, host=config.sendgrid_api_host, timeout=timeout, subuser=subuser)

        # Built on the first send with this key, again whenever the secret's value changes (handlers/credentials.py).
        return RotatingClient("sendgrid", secret_id, secrets.read, build, logger)

    sendgrid = StorefrontSendGrid(directory, ClientPool(sendgrid_client))
    configuration_set = config.ses_configuration_set or None
    ses = Lazy(
        "ses",
        Channel.EMAIL,
        lambda: StorefrontSes(directory, SesEmail(secondary_client("sesv2"), configuration_set=configuration_set)),
    )
    router: ProviderRouter = StorefrontRouter(routed(sendgrid, ses, config, logger), directory, logger)
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
