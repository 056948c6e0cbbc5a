"""Lambda handler of the Shopify-events function: Shopify's webhooks delivered through Amazon EventBridge.

Shopify's recommended delivery to AWS: the app's subscriptions point at a partner event source, the template
associates it with an event bus and routes the bus's events to the shopify-events queue (template.yaml). There is
no HMAC on that path: the bus only takes events from its partner source and the queue's policy only admits that
rule, so the authentication is AWS's. Each record is one EventBridge event; the shop domain in its metadata names
the storefront, and the same translator as the HTTPS route reads `detail.payload` and `detail.metadata`.

A record the registry has no storefront for, or that is not a Shopify event, is recorded as rejected with the
reason and not retried; a failure of the table or the queue is retried and, after maxReceiveCount, lands in the
queue's DLQ.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.handlers.intake import accept, build_graph
from herald.handlers.wiring import Root
from herald.intake.updates import IntakeRefused
from herald.observability import build_logger, traced

logger = build_logger()
# The HTTPS intake's graph (its registry index, secrets, join and ledger), built for this function.
root = Root(build_graph)


def _record(record: SQSRecord) -> None:
    from herald.intake.shopify import unwrap_eventbridge

    graph = root()
    try:
        topic, payload, metadata = unwrap_eventbridge(json.loads(record.body))
    except (ValueError, IntakeRefused) as error:
        _reject(record, f"not a Shopify EventBridge event: {error}")
        return
    domain = str(metadata.get("X-Shopify-Shop-Domain") or metadata.get("x-shopify-shop-domain") or "")
    storefront = graph.index.by_shop_domain(domain) if domain else None
    if storefront is None:
        _reject(record, f"shop {domain or '(none)'!r} is not a registered storefront's (herald stores add)")
        return
    headers = {str(k).lower(): str(v) for k, v in metadata.items()}
    headers.setdefault("x-shopify-topic", topic)
    outcome = accept(graph, "shopify", storefront, payload, headers, record.message_id)
    logger.info("shopify event taken", extra={"topic": topic, **outcome.as_json()})


def _reject(record: SQSRecord, reason: str) -> None:
    from datetime import UTC, datetime

    from herald.usecases.ports import Rejection

    logger.warning("shopify event rejected", extra={"reason": reason, "sqs_message_id": record.message_id})
    root().appliers().ledger.record_rejection(
        Rejection(None, record.message_id, "shopify", reason, record.message_id, datetime.now(UTC))
    )


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event, _record, processor, context))
