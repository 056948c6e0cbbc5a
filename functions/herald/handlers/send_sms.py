"""Lambda handler of the send-sms function (SMS queue -> Twilio, or SNS on failover and escalation)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

# Before anything that imports pydantic: Powertools' batch utility, imported once pydantic is loaded, builds
# two dozen models of its Parser (SQS, Kinesis, DynamoDB, Kafka records: ~20 ms of a cold start); imported first,
# it skips them.
# Herald parses SQS records with the batch utility's data classes and uses none of those models.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.notification import Channel, ChannelMessage
from herald.handlers.channel_sender import ChannelSender, SenderGraph, sender_graph
from herald.handlers.wiring import Once, Root
from herald.observability import build_logger, traced
from herald.usecases.send import SendResult

if TYPE_CHECKING:
    from herald.usecases.suppression import SuppressionStore

logger = build_logger()


def _build() -> SenderGraph:
    """The send-sms function's composition root: Twilio per storefront, SNS behind it, the ledger, what follows a
    refusal."""
    from herald.adapters.dynamodb_opt_out_notices import DynamoDbOptOutNotices
    from herald.adapters.sns_sms import SnsSms
    from herald.adapters.twilio_sms import TwilioSms
    from herald.config import SendSmsSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.credentials import ClientPool, RotatingClient
    from herald.handlers.fallback import FallbackRequests
    from herald.handlers.registry import storefronts
    from herald.handlers.routing import Lazy, routed, secondary_client
    from herald.handlers.secrets import Secrets, twilio_credentials
    from herald.handlers.storefront_senders import StorefrontRouter, StorefrontTwilio
    from herald.usecases.opt_out_notice import OptOutNotice

    config = SendSmsSettings.from_environment()
    secrets = Secrets(aws_client("secretsmanager"))
    directory = storefronts(config.storefronts_path)

    def twilio_client(key: Hashable) -> RotatingClient[TwilioSms]:
        secret_id = str(key)

        def build(secret: dict[str, Any]) -> TwilioSms:
            credentials = twilio_credentials(secret_id, secret)
            return TwilioSms(
                credentials.account_sid,
                credentials.auth_token,
                credentials.from_number,
                base_url=config.twilio_api_base_url,
                timeout=config.provider_timeout_seconds,
                webhooks_base_url=config.webhooks_base_url,
            )

        # Built on the first send on this account, again whenever the secret's value changes (handlers/credentials.py).
        return RotatingClient("twilio", secret_id, secrets.read, build, logger)

    twilio = StorefrontTwilio(directory, ClientPool(twilio_client))
    sns = Lazy(
        "sns",
        Channel.SMS,
        lambda: SnsSms(
            secondary_client("sns"), sender_id=config.sns_sender_id, origination_number=config.sns_origination_number
        ),
    )
    table_name = config.table_name
    suppress = OptOuts(Once(lambda: _suppressions(table_name)))
    fallback = FallbackRequests(config.followup_queue_url)

    def after_refusal(message: ChannelMessage, result: SendResult) -> None:
        suppress(message, result)
        fallback(message, result)

    # The storefront's first SMS to a number says how to opt out, whichever provider sends it; the storefront's
    # entry is found first, so a message whose entry is missing is retried before anything is claimed.
    router = StorefrontRouter(
        OptOutNotice(
            routed(twilio, sns, config, logger),
            DynamoDbOptOutNotices(aws_client("dynamodb"), table_name, ttl_days=config.ttl_days),
        ),
        directory,
        logger,
    )
    return sender_graph(config, router, on_failed=after_refusal)


class OptOuts:
    """Twilio's 21610 (the customer replied STOP to our number) becomes a suppression, so dispatch stops the next
    SMS to this number with the reason instead of each one failing at Twilio."""

    def __init__(self, suppressions: Callable[[], SuppressionStore]) -> None:
        self._suppressions = suppressions  # built on the first refusal: most sandboxes never see one

    def __call__(self, message: ChannelMessage, result: SendResult) -> None:
        from datetime import UTC, datetime

        from herald.domain.suppression import suppression_for_refusal

        suppression = suppression_for_refusal(
            message.source, Channel.SMS, message.to, result.error_code, datetime.now(UTC).isoformat()
        )
        if suppression is not None:
            self._suppressions().suppress(suppression)


def _suppressions(table_name: str) -> SuppressionStore:
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
    from herald.handlers.aws import aws_client

    return DynamoDbSuppressions(aws_client("dynamodb"), table_name)


root = Root(_build)
sender = ChannelSender(Channel.SMS, logger, root)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sender.handle(event, context)
