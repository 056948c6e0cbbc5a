"""Lambda handler of the dispatch function (order-events and shipment-events queues)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.handlers.wiring import PORT_PHONE_RULE, Root, port
from herald.observability import build_logger, count, traced
from herald.usecases.dispatch import Dispatcher, DispatchResult

if TYPE_CHECKING:
    from herald.config import DispatchSettings
    from herald.usecases.late_delivery import PromiseWatch
    from herald.usecases.order_page_links import OrderPageLinks

logger = build_logger()


def _build() -> Dispatcher:
    """The dispatch function's composition root."""
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
    from herald.adapters.sqs_followups import SqsFollowUpQueue
    from herald.adapters.sqs_queue import SqsChannelQueue
    from herald.config import DispatchSettings
    from herald.domain.phone import to_e164
    from herald.handlers.aws import aws_client
    from herald.handlers.registry import storefronts
    from herald.rendering.renderer import Renderer

    config = DispatchSettings.from_environment()
    dynamodb, sqs = aws_client("dynamodb"), aws_client("sqs")
    intake = None
    if config.publishes_events:
        from herald.adapters.dynamodb_intake import DynamoDbIntakeLinks
        from herald.adapters.sqs_events import SqsEventPublisher
        from herald.usecases.intake import LinkRecorder

        # Records what later platform reports need, and publishes the reports parked until this event came.
        intake = LinkRecorder(
            DynamoDbIntakeLinks(dynamodb, config.table_name, ttl_days=config.ttl_days),
            SqsEventPublisher(
                sqs,
                order_queue_url=str(config.order_events_queue_url),
                shipment_queue_url=str(config.shipment_events_queue_url),
            ),
        )
    return Dispatcher(
        DynamoDbLedger(dynamodb, config.table_name, ttl_days=config.ttl_days),
        SqsChannelQueue(sqs, config.channel_queue_urls()),
        Renderer(),
        storefronts=storefronts(config.storefronts_path),
        suppressions=DynamoDbSuppressions(dynamodb, config.table_name),
        # Deadline checks for order confirmations; without a follow-up queue there is no escalation.
        followups=SqsFollowUpQueue(sqs, config.followup_queue_url) if config.followup_queue_url else None,
        deadline_seconds=config.deadline_seconds,
        phone=port(PORT_PHONE_RULE, to_e164),
        intake=intake,
        relays=config.relay_ids,
        promises=_promise_watch(config, sqs),
        pages=_page_links(config, dynamodb),
    )


def _page_links(config: DispatchSettings, dynamodb: Any) -> OrderPageLinks | None:
    """The order page's links, when the deployment serves the page."""
    if not config.order_page_base_url:
        return None
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from herald.adapters.dynamodb_order_pages import DynamoDbOrderPages
    from herald.handlers.aws import aws_client
    from herald.handlers.secrets import Secrets
    from herald.usecases.order_page_links import OrderPageLinks

    secrets = Secrets(aws_client("secretsmanager"))

    def keys() -> list[str] | None:
        try:
            return secrets.signing_keys(config.order_page_secret_id)
        # GetParameterError: the secret is missing, unreadable or throttled; ValueError: it holds no keys. The
        # message still goes, without its page link: an operator hears of it from the log and the metric.
        except (GetParameterError, ValueError) as error:
            logger.error("order page key unavailable: messages go without their page link", extra={"error": str(error)})
            count("OrderPageLinksUnavailable")
            return None

    return OrderPageLinks(
        DynamoDbOrderPages(dynamodb, config.table_name, link_days=config.page_link_days),
        keys,
        config.order_page_base_url,
    )


def _promise_watch(config: DispatchSettings, sqs: Any) -> PromiseWatch | None:
    """Late-delivery checks on Scheduler, when the template configured them."""
    if not config.checks_late_deliveries:
        return None
    from herald.adapters.scheduler_late_checks import LateCheckTargets, SchedulerLateChecks
    from herald.handlers.aws import aws_client
    from herald.usecases.late_delivery import PromiseWatch

    targets = LateCheckTargets(
        schedule_group=str(config.late_check_schedule_group),
        queue_url=str(config.late_checks_queue_url),
        queue_arn=str(config.late_checks_queue_arn),
        dead_letter_arn=str(config.late_checks_dlq_arn),
        scheduler_role_arn=str(config.late_check_scheduler_role_arn),
    )
    return PromiseWatch(SchedulerLateChecks(aws_client("scheduler"), sqs, targets))


root = Root(_build)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    use_case = root()
    results: list[DispatchResult] = []

    def plan(record: SQSRecord) -> None:
        # SenderId: the IAM principal that sent the message, as SQS saw it (a publisher cannot choose it).
        result = use_case.plan(record.body, record.message_id, record.attributes.sender_id)
        results.append(result)
        _report(result)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response: dict[str, Any] = dict(process_partial_response(event, plan, processor, context))
    redeliver = use_case.complete(results)
    response["batchItemFailures"] = list(response["batchItemFailures"]) + [
        {"itemIdentifier": message_id} for message_id in sorted(redeliver)
    ]
    return response


def _report(result: DispatchResult) -> None:
    if result.order_id:
        logger.set_correlation_id(result.order_id)
    logger.info(
        f"event {result.outcome}",
        extra={
            "outcome": result.outcome.value,
            "reason": result.reason,
            "source": result.source,
            "event_id": result.event_id,
            "event_type": result.event_type,
            "sqs_message_id": result.message_id,
            "queued": [m.channel.value for m in result.messages],
            "standby": [c.value for c in result.standby],
        },
    )
    count(f"Events{result.outcome.value.title()}", event_type=result.event_type or "unknown")
