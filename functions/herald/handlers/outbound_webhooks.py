"""Lambda handler of the outbound-webhooks function (outbound-webhooks queue -> the storefront's webhook and bus).

Each record is one outbound event (domain.outbound.OutboundEvent). A retryable outcome sets the message's
visibility timeout to the back-off and reports the record failed, so SQS hands it back then; after the queue's
maxReceiveCount it is parked in the DLQ (the timeline says `dlq`). A body that is not an outbound event raises:
it too is parked in the DLQ after maxReceiveCount, where an operator finds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.outbound import OutboundEvent
from herald.handlers.wiring import PORT_WEBHOOK_TRANSPORT, Root, port
from herald.observability import build_logger, count, traced
from herald.usecases.outbound import OutboundWebhooks, Outcome

if TYPE_CHECKING:
    from herald.handlers.secrets import Secrets

logger = build_logger()

_METRICS = {
    Outcome.DELIVERED: "OutboundWebhooksDelivered",
    Outcome.FAILED: "OutboundWebhooksFailed",
    Outcome.RETRY: "OutboundWebhooksRetried",
    Outcome.SKIPPED: "OutboundWebhooksSkipped",
    Outcome.ALREADY_DELIVERED: "OutboundWebhooksDuplicate",
}


class RetryLater(Exception):
    """Tells the batch processor this record failed; its visibility timeout was already set for the retry."""


def _build() -> OutboundWebhooks:
    """The outbound-webhooks function's composition root."""
    from herald.adapters.dynamodb_outbound import DynamoDbWebhookRecords
    from herald.adapters.eventbridge_outbound import EventBridgeStorefrontBus
    from herald.adapters.http_webhooks import Urllib3WebhookTransport
    from herald.adapters.ssm_storefronts import SsmStorefronts
    from herald.config import OutboundWebhooksSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.secrets import Secrets
    from herald.usecases.send import RetryPolicy

    config = OutboundWebhooksSettings.from_environment()
    secrets = Secrets(aws_client("secretsmanager"))
    return OutboundWebhooks(
        SsmStorefronts(aws_client("ssm"), config.storefronts_path),
        lambda secret_id: signing_keys(secrets, secret_id),
        port(PORT_WEBHOOK_TRANSPORT, Urllib3WebhookTransport(timeout_seconds=config.webhook_timeout_seconds)),
        EventBridgeStorefrontBus(aws_client("events")),
        DynamoDbWebhookRecords(aws_client("dynamodb"), config.table_name, ttl_days=config.ttl_days),
        retry=RetryPolicy(config.retry_base_seconds, config.retry_max_seconds, config.max_receive_count),
    )


root = Root(_build)


def signing_keys(secrets: Secrets, secret_id: str) -> list[bytes]:
    """The storefront's signing keys (cached five minutes by Secrets, so a rotation is picked up without a deploy)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from herald.usecases.outbound import SigningSecretUnusable
    from herald.webhooks.standard_webhooks import signing_keys as parse

    try:
        return parse(secrets.text(secret_id))
    except (GetParameterError, ValueError) as error:
        # Unreadable (missing, denied) or not a signing secret: the message waits in its retries for the fix.
        # The messages name the problem, never the value (SigningSecretInvalid quotes nothing of it).
        raise SigningSecretUnusable(str(error) if isinstance(error, ValueError) else "cannot be read") from None


def handle_record(record: SQSRecord) -> None:
    event = OutboundEvent.model_validate_json(record.body)
    logger.set_correlation_id(event.subject)
    result = root().deliver(event, receive_count=int(record.attributes.approximate_receive_count))
    logger.info(
        f"outbound webhook {result.outcome}",
        extra={
            "event_id": event.id,
            "event_type": event.type.value,
            "source": event.storefront_source,
            "status_code": result.status_code,
            "reason": result.reason,
            "final_attempt": result.final_attempt,
        },
    )
    # The last retryable attempt is a failure: the event goes to the DLQ, undelivered.
    metric = "OutboundWebhooksFailed" if result.final_attempt else _METRICS[result.outcome]
    count(metric, event_type=event.type.value)
    if result.outcome is Outcome.RETRY:
        # Back-off through the visibility timeout: the function does not sleep, the message waits.
        from herald.handlers.aws import aws_client, queue_url

        sqs = aws_client("sqs")
        sqs.change_message_visibility(
            QueueUrl=queue_url(sqs, record.event_source_arn),
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=0 if result.final_attempt else result.retry_after_seconds,
        )
        raise RetryLater(f"retry in {result.retry_after_seconds}s: {result.reason}")


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event, handle_record, processor, context))
