"""Lambda handler of the timeline function: an order's timeline over the HTTP API, for operators.

Route (IAM-authorised: the caller signs with SigV4 and needs execute-api:Invoke on it):
- GET /orders/{source}/{order_id}/timeline   the same JSON as `herald timeline ORDER_ID --source S --json`
- GET /orders/{source}/{order_id}/evidence   the same JSON as `herald evidence ORDER_ID --source S --json`

IAM admits any principal allowed to invoke the route; this function then admits only the storefront's own
identities (its registry entry's publishers) and the operators the template lists (TimelineOperatorIds), so one
storefront's identity never reads another's orders. Anyone else gets 403 before the table is read, with the same
answer whether the storefront exists or not.

A CloudEvents source holds slashes (`storefront/acme-outdoor`): callers URL-encode it (`storefront%2Facme-outdoor`)
so it stays one path segment, and it is decoded here. The function reads the table with one Query and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import ForbiddenError, NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.handlers.wiring import Root
from herald.observability import build_logger, traced

if TYPE_CHECKING:
    from herald.usecases.ports import StorefrontDirectory
    from herald.usecases.timeline import TimelineReader

logger = build_logger()
app = APIGatewayHttpResolver()

TIMELINE_PATH = "/orders/<source>/<order_id>/timeline"
EVIDENCE_PATH = "/orders/<source>/<order_id>/evidence"


@dataclass(frozen=True)
class TimelineGraph:
    reader: TimelineReader
    storefronts: StorefrontDirectory
    operators: frozenset[str]


def _build() -> TimelineGraph:
    """The timeline function's composition root: the ledger's read side, and who may read which storefront."""
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.config import TimelineSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.registry import storefronts

    config = TimelineSettings.from_environment()
    return TimelineGraph(
        DynamoDbLedger(aws_client("dynamodb"), config.table_name, ttl_days=config.ttl_days),
        storefronts(config.storefronts_path),
        frozenset(config.operator_ids),
    )


root = Root(_build)


@app.get(TIMELINE_PATH)
def order_timeline(source: str, order_id: str) -> dict[str, Any]:
    from herald.usecases.timeline import order_timeline as build

    source, order_id = unquote(source), unquote(order_id)
    graph = root()
    caller = app.current_event.request_context.authorizer.iam.user_id
    if not _may_read(graph, caller, source):
        logger.warning("timeline refused", extra={"source": source, "caller": caller or "(none)"})
        raise ForbiddenError("Forbidden")
    timeline = build(graph.reader, source, order_id)
    if not timeline["entries"]:
        raise NotFoundError(f"no events recorded for order {order_id} of {source}")
    logger.info("timeline read", extra={"source": source, "entries": len(timeline["entries"])})
    return timeline


@app.get(EVIDENCE_PATH)
def order_evidence(source: str, order_id: str) -> dict[str, Any]:
    """The order's evidence pack (usecases.evidence): what `herald evidence ORDER_ID --json` prints."""
    from herald.usecases.evidence import order_evidence as build

    source, order_id = unquote(source), unquote(order_id)
    graph = root()
    caller = app.current_event.request_context.authorizer.iam.user_id
    if not _may_read(graph, caller, source):
        logger.warning("evidence refused", extra={"source": source, "caller": caller or "(none)"})
        raise ForbiddenError("Forbidden")
    pack = build(graph.reader, source, order_id)
    if pack is None:
        raise NotFoundError(f"no events recorded for order {order_id} of {source}")
    logger.info("evidence read", extra={"source": source, "shipments": len(pack["shipments"])})
    return pack


def _may_read(graph: TimelineGraph, caller: str, source: str) -> bool:
    """An operator, or one of the storefront's own identities (the SenderIds it publishes as)."""
    if not caller:
        return False
    if caller in graph.operators or caller.split(":", 1)[0] in graph.operators:
        return True
    storefront = graph.storefronts.get(source)
    return storefront is not None and storefront.publisher_allowed(caller)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
