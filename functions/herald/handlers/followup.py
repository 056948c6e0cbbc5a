"""Lambda handler of the follow-up function (follow-up queue -> channel fallback and deadline escalation)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.redundancy import FollowUpRequest
from herald.handlers.wiring import Root
from herald.observability import build_logger, count, traced
from herald.usecases.followup import FollowUpAction, FollowUps

logger = build_logger()

METRIC_BY_ACTION = {
    FollowUpAction.FALLBACK_QUEUED: "ChannelFallbacks",
    FollowUpAction.FALLBACK_SUPPRESSED: "ChannelFallbacksSuppressed",
    FollowUpAction.ESCALATED: "DeadlineEscalations",
    FollowUpAction.NOTHING: "FollowUpsWithNothingToDo",
}


def _build() -> FollowUps:
    """The follow-up function's composition root."""
    from herald.adapters.dynamodb_followup import DynamoDbFollowUps
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
    from herald.adapters.sqs_queue import SqsChannelQueue
    from herald.config import FollowUpSettings
    from herald.handlers.aws import aws_client

    config = FollowUpSettings.from_environment()
    dynamodb = aws_client("dynamodb")
    return FollowUps(
        DynamoDbFollowUps(dynamodb, config.table_name, ttl_days=config.ttl_days),
        SqsChannelQueue(aws_client("sqs"), config.channel_queue_urls()),
        DynamoDbSuppressions(dynamodb, config.table_name),
    )


root = Root(_build)


def handle_record(record: SQSRecord) -> None:
    # A body that is not a follow-up request raises: after maxReceiveCount SQS parks it in the follow-up DLQ.
    request = FollowUpRequest.model_validate_json(record.body)
    logger.set_correlation_id(request.order_id)
    result = root().handle(request)
    logger.info(
        f"{request.kind} follow-up: {result.action}",
        extra={
            "kind": request.kind.value,
            "action": result.action.value,
            "detail": result.detail,
            "source": request.source,
            "event_id": request.event_id,
            "failed_channel": request.channel,
            "channel": result.channel,
        },
    )
    count(METRIC_BY_ACTION[result.action], channel=result.channel or request.channel)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event, handle_record, processor, context))
