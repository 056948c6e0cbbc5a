"""Lambda handler of the timeline function: an order's timeline over the HTTP API, for operators.

Route (IAM-authorised: the caller signs with SigV4 and needs execute-api:Invoke on it):
- GET /orders/{source}/{order_id}/timeline   the same JSON as `herald timeline ORDER_ID --source S --json`

A CloudEvents source holds slashes (`storefront/acme-outdoor`): callers URL-encode it (`storefront%2Facme-outdoor`)
so it stays one path segment, and it is decoded here. The function reads the table with one Query and writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.handlers.wiring import Root
from herald.observability import build_logger, traced

if TYPE_CHECKING:
    from herald.usecases.timeline import TimelineReader

logger = build_logger()
app = APIGatewayHttpResolver()

TIMELINE_PATH = "/orders/<source>/<order_id>/timeline"


def _build() -> TimelineReader:
    """The timeline function's composition root: the ledger's read side."""
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.config import TimelineSettings
    from herald.handlers.aws import aws_client

    config = TimelineSettings.from_environment()
    return DynamoDbLedger(aws_client("dynamodb"), config.table_name, ttl_days=config.ttl_days)


root = Root(_build)


@app.get(TIMELINE_PATH)
def order_timeline(source: str, order_id: str) -> dict[str, Any]:
    from herald.usecases.timeline import order_timeline as build

    source, order_id = unquote(source), unquote(order_id)
    timeline = build(root(), source, order_id)
    if not timeline["entries"]:
        raise NotFoundError(f"no events recorded for order {order_id} of {source}")
    logger.info("timeline read", extra={"source": source, "entries": len(timeline["entries"])})
    return timeline


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
