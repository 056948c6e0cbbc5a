"""Lambda handler of the intake function: the commerce and carrier platforms' webhooks over the HTTP API.

Routes:
- POST /intake/shopify                 Shopify HTTPS webhooks; X-Shopify-Shop-Domain names the storefront
- POST /intake/{platform}/{slug}       EasyPost, AfterShip, Shippo and Onfleet; the slug names the storefront
- GET  /intake/onfleet/{slug}          Onfleet's registration check: echoes `check`

Each request is bounded (413), then authenticated with the storefront's own secret for that platform before its
body is parsed: 401 without the platform's signature, 403 with one that does not verify, or for a storefront or
platform the registry does not know (one answer for both, so the routes tell nobody which storefronts exist). A
refused request writes nothing. A verified one is translated (herald.intake), joined to the order or shipment it
names (usecases.intake) and put on the event queues; a verified payload Herald cannot read is recorded as
rejected with the reason and answered 200, since the platform's retries could never succeed (and Shopify removes
a subscription that keeps failing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, GetSecretError
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from herald.adapters.sqs_events import EventsNotAccepted
from herald.handlers.wiring import Once, Root
from herald.intake.updates import PLATFORMS, IntakeRefused, Platform
from herald.observability import build_logger, emit, traced
from herald.webhooks.errors import SignatureInvalid, SignatureMissing, WebhookRefused
from herald.webhooks.limits import INTAKE_BODY, bounded_body

if TYPE_CHECKING:
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.adapters.ssm_storefronts import IntakeIndex
    from herald.config import IntakeSettings
    from herald.domain.storefront import Storefront
    from herald.handlers.secrets import Secrets
    from herald.usecases.intake import IntakeOutcome, IntakeService

logger = build_logger()
app = APIGatewayHttpResolver()

_CARRIERS = frozenset(PLATFORMS) - {"shopify"}
_REFUSED = "signature does not verify"  # one text for an unknown storefront, platform, secret or signature


@dataclass(frozen=True)
class Appliers:
    """What a verified request needs (never built for a refused one)."""

    intake: IntakeService
    ledger: DynamoDbLedger  # a verified payload Herald cannot read is recorded as rejected, an ignored one as ignored


@dataclass(frozen=True)
class IntakeGraph:
    index: IntakeIndex
    secrets: Secrets
    appliers: Once[Appliers]


def build_graph() -> IntakeGraph:
    """The intake functions' composition root (the HTTPS routes' and the EventBridge consumer's: one settings model)."""
    from herald.adapters.ssm_storefronts import IntakeIndex, SsmStorefronts
    from herald.config import IntakeSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.secrets import Secrets

    config = IntakeSettings.from_environment()
    return IntakeGraph(
        index=IntakeIndex(SsmStorefronts(aws_client("ssm"), config.storefronts_path)),
        secrets=Secrets(aws_client("secretsmanager")),
        appliers=Once(lambda: build_appliers(config)),
    )


def build_appliers(config: IntakeSettings) -> Appliers:
    from herald.adapters.dynamodb_intake import DynamoDbIntakeLinks
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.adapters.sqs_events import SqsEventPublisher
    from herald.handlers.aws import aws_client
    from herald.usecases.intake import IntakeService

    dynamodb = aws_client("dynamodb")
    publisher = SqsEventPublisher(
        aws_client("sqs"),
        order_queue_url=config.order_events_queue_url,
        shipment_queue_url=config.shipment_events_queue_url,
    )
    links = DynamoDbIntakeLinks(dynamodb, config.table_name, ttl_days=config.ttl_days)
    ledger = DynamoDbLedger(dynamodb, config.table_name, ttl_days=config.ttl_days)
    return Appliers(IntakeService(links, publisher, ledger), ledger)


root = Root(build_graph)


def _secret_id(storefront: Storefront | None, platform: Platform) -> str | None:
    if storefront is None or storefront.intake is None:
        return None
    return getattr(storefront.intake, f"{platform}_secret_id", None)


def _verified(platform: Platform, storefront: Storefront | None, body: bytes) -> Storefront:
    """The storefront whose secret signed `body`; SignatureMissing (401) or SignatureInvalid (403) otherwise."""
    from herald.intake import authentication

    event = app.current_event
    query = event.query_string_parameters or {}
    if not authentication.signed(platform, event.headers, query):
        raise SignatureMissing(f"no {platform} signature")
    secret_id = _secret_id(storefront, platform)
    if storefront is None or secret_id is None:
        raise SignatureInvalid(_REFUSED)
    if not authentication.verified(platform, body, event.headers, query, root().secrets.text(secret_id)):
        raise SignatureInvalid(_REFUSED)
    return storefront


def accept(
    graph: IntakeGraph,
    platform: Platform,
    storefront: Storefront,
    body: bytes | Any,
    headers: dict[str, str],
    request_id: str,
) -> IntakeOutcome:
    """Translate a verified request (its raw body, or its payload already parsed) and hand it to the join; a
    payload Herald cannot read is recorded as rejected with the reason."""
    from herald.intake.translate import json_payload, translate
    from herald.usecases.intake import IntakeOutcome
    from herald.usecases.ports import IgnoredReport

    appliers = graph.appliers()
    received_at = datetime.now(UTC)
    try:
        payload = json_payload(body) if isinstance(body, bytes) else body
        translation = translate(platform, payload, storefront, received_at=received_at, headers=headers)
    except IntakeRefused as refused:
        _record_rejection(appliers.ledger, platform, storefront, headers, str(refused), request_id)
        return IntakeOutcome(ignored=[f"rejected: {refused}"])
    for reason in translation.ignored:
        # A whole payload with nothing to tell names no shipment the join could find: kept with the source's.
        appliers.ledger.record_ignored(
            IgnoredReport(
                storefront.source,
                platform,
                _report_id(platform, body, headers, request_id),
                reason,
                received_at,
                status=headers.get("x-shopify-topic"),
            )
        )
    outcome = appliers.intake.accept(storefront.source, translation)
    for reason in outcome.ignored:
        logger.info("platform report ignored", extra={"platform": platform, "reason": reason})
    emit("IntakeEvents", len(outcome.published), MetricUnit.Count, platform=platform)
    if outcome.waiting:
        emit("IntakeParked", len(outcome.waiting), MetricUnit.Count, platform=platform)
    return outcome


def _report_id(platform: Platform, body: bytes | Any, headers: dict[str, str], request_id: str) -> str:
    """The report's own id, the same on every delivery of it: Shopify's webhook id, else a digest of the verified
    body (a carrier retries the same bytes), else (a payload already parsed, from EventBridge) the message id."""
    import hashlib

    if headers.get("x-shopify-webhook-id"):
        return headers["x-shopify-webhook-id"][:200]
    if isinstance(body, bytes):
        return f"sha256-{hashlib.sha256(body).hexdigest()}"
    return f"{platform}-{request_id}"


def _record_rejection(
    ledger: DynamoDbLedger,
    platform: Platform,
    storefront: Storefront,
    headers: dict[str, str],
    reason: str,
    request_id: str,
) -> None:
    from herald.usecases.ports import Rejection

    logger.warning("platform payload rejected", extra={"platform": platform, "reason": reason})
    emit("IntakeRejected", 1, MetricUnit.Count, platform=platform)
    ledger.record_rejection(
        Rejection(
            storefront.source,
            headers.get("x-shopify-webhook-id") or f"{platform}-{request_id}",
            headers.get("x-shopify-topic") or platform,
            f"{platform} payload: {reason}",
            request_id,
            datetime.now(UTC),
        )
    )


def _answer(outcome: IntakeOutcome) -> Response[str]:
    return Response(200, "application/json", json.dumps(outcome.as_json()))


# --- routes -------------------------------------------------------------------------------------


@app.post("/intake/shopify")
def shopify() -> Response[str]:
    event = app.current_event
    body = bounded_body(event.body, base64_encoded=bool(event.is_base64_encoded), limits=INTAKE_BODY)
    domain = event.headers.get("x-shopify-shop-domain") or ""
    storefront = root().index.by_shop_domain(domain) if domain else None
    verified = _verified("shopify", storefront, body)
    return _answer(accept(root(), "shopify", verified, body, dict(event.headers), event.request_context.request_id))


@app.post("/intake/<platform>/<slug>")
def carrier(platform: str, slug: str) -> Response[str]:
    event = app.current_event
    body = bounded_body(event.body, base64_encoded=bool(event.is_base64_encoded), limits=INTAKE_BODY)
    if platform not in _CARRIERS:
        return Response(404, "application/json", json.dumps({"message": f"no intake route for {platform!r}"}))
    name = cast(Platform, platform)  # checked against the carriers just above
    verified = _verified(name, root().index.by_slug(slug), body)
    return _answer(accept(root(), name, verified, body, dict(event.headers), event.request_context.request_id))


@app.get("/intake/onfleet/<slug>")
def onfleet_check(slug: str) -> Response[str]:
    """Onfleet validates a webhook URL when it is registered: a GET with `check`, answered with its value."""
    from herald.intake.signatures import onfleet_check_echo

    echo = onfleet_check_echo(app.current_event.query_string_parameters or {})
    if echo is None or root().index.by_slug(slug) is None:
        return Response(404, "text/plain", "")
    return Response(200, "text/plain", echo)


def _refused(error: WebhookRefused) -> Response[str]:
    platform = app.current_event.raw_path.split("/")[2] if app.current_event.raw_path.count("/") >= 2 else "?"
    logger.warning("intake request refused", extra={"platform": platform, "reason": error.reason})
    emit("IntakeRefused", 1, MetricUnit.Count, platform=platform, reason=type(error).__name__)
    return Response(error.status_code, "application/json", json.dumps({"message": error.reason}))


app.exception_handler(WebhookRefused)(_refused)


def _unavailable(error: Exception) -> Response[str]:
    """AWS failed under a verified request (SQS refused an event, the table, the registry or a secret could not be
    read): 503, so the platform delivers the report again. Nothing that would stop that retry is written first:
    event ids come from the platform's ids (dispatch drops a copy), parking and recording are overwrites of the
    same item, and no request is marked as taken."""
    platform = app.current_event.raw_path.split("/")[2] if app.current_event.raw_path.count("/") >= 2 else "?"
    logger.error("intake could not take the report", extra={"platform": platform}, exc_info=error)
    emit("IntakeUnavailable", 1, MetricUnit.Count, platform=platform, reason=type(error).__name__)
    return Response(503, "application/json", json.dumps({"message": "try again later"}))


# The SDK's failures, the publisher's refusal and Powertools' wrapping of a secret's or parameter's read.
for _failure in (EventsNotAccepted, ClientError, BotoCoreError, GetSecretError, GetParameterError):
    app.exception_handler(_failure)(_unavailable)


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
