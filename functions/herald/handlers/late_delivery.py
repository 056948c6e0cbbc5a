"""Lambda handler of the late-delivery function (late-checks queue, fed by Scheduler -> "running late" notices).

Each record is one check (domain.late_delivery.LateCheck) that a one-time schedule delivered at its due time, or
that dispatch queued at once because the promised day had already passed. A body that is not a check raises: after
maxReceiveCount SQS parks it in the checks' DLQ, where an operator finds it. A check that finds a later notice does
nothing, and says why in the log.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.domain.late_delivery import LateCheck
from herald.handlers.wiring import Root
from herald.observability import build_logger, count, traced
from herald.usecases.late_delivery import LateDeliveryChecks

logger = build_logger()


def _build() -> LateDeliveryChecks:
    """The late-delivery function's composition root."""
    from herald.adapters.dynamodb_intake import DynamoDbIntakeLinks
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.adapters.sqs_events import SqsEventPublisher
    from herald.config import LateDeliverySettings
    from herald.handlers.aws import aws_client

    config = LateDeliverySettings.from_environment()
    dynamodb = aws_client("dynamodb")
    return LateDeliveryChecks(
        DynamoDbLedger(dynamodb, config.table_name, ttl_days=config.ttl_days),
        DynamoDbIntakeLinks(dynamodb, config.table_name, ttl_days=config.ttl_days),
        SqsEventPublisher(aws_client("sqs"), order_queue_url=None, shipment_queue_url=config.shipment_events_queue_url),
    )


root = Root(_build)


def handle_record(record: SQSRecord) -> None:
    check = LateCheck.model_validate_json(record.body)
    logger.set_correlation_id(check.order_id)
    result = root().run(check)
    logger.info(
        "late-delivery check: " + ("running-late notice published" if result.sent else "nothing to tell"),
        extra={
            "source": check.source,
            "shipment_id": check.shipment_id,
            "promised": check.promised.isoformat(),
            "basis_event_id": check.basis_event_id,
            "detail": result.detail,
            "event_id": result.event_id,
        },
    )
    count("RunningLateNotices" if result.sent else "LateChecksWithNothingToTell")


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event, handle_record, processor, context))
