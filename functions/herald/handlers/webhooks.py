"""Lambda handler of the webhooks function: provider callbacks over an API Gateway HTTP API.

Routes:
- POST /webhooks/sendgrid/events   SendGrid's signed Event Webhook (JSON array of events)
- POST /webhooks/twilio/status     Twilio Messaging status callbacks (form fields)
- POST /webhooks/twilio/inbound    SMS sent to Herald's numbers (form fields), answered with TwiML
- GET, POST /unsubscribe/{token}   one-click unsubscribe links (handlers/unsubscribe.py, its own module and root)

Every request is bounded before it is read (413 over its route's limits, webhooks/limits.py) and authenticated
before anything is parsed into the table: 401 without a signature, 403 with one that does not verify (or, for
SendGrid, is stale or replayed). Verification needs only the secrets: the table's adapters are built on the first
request that verifies. A refused request writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from herald.handlers import unsubscribe
from herald.handlers.wiring import Once, Root
from herald.observability import build_logger, emit, traced
from herald.usecases.delivery_status import (
    DeliveryResult,
    DeliveryStatusService,
    InboundMessage,
    InboundService,
    Listener,
)
from herald.webhooks.errors import WebhookRefused
from herald.webhooks.limits import SENDGRID_EVENTS, TWILIO_FORM, BodyLimits, bounded_body
from herald.webhooks.sendgrid_signature import SendGridWebhookVerifier, load_public_key
from herald.webhooks.twilio_signature import FormParams, TwilioWebhookVerifier

if TYPE_CHECKING:
    from herald.config import WebhooksSettings

logger = build_logger()
app = APIGatewayHttpResolver()
app.include_router(unsubscribe.router)  # GET/POST /unsubscribe/{token}: one-click unsubscribe (RFC 8058)

SENDGRID_EVENTS_PATH = "/webhooks/sendgrid/events"
TWILIO_STATUS_PATH = "/webhooks/twilio/status"
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"


@dataclass(frozen=True)
class Appliers:
    """What applying a verified request needs: the table and the queue (never built for a refused request)."""

    delivery: Any  # DynamoDbDelivery: ledger, replay guard and inbound record
    deliveries: DeliveryStatusService
    inbound: InboundService


@dataclass(frozen=True)
class WebhooksGraph:
    """What the webhooks function's composition root builds: first what checking a request needs (settings and
    the secrets), then, on the first request that verifies, the appliers."""

    tolerance_seconds: int
    twilio_auth_token: Callable[[], str]  # read per request: Powertools caches the secret, rotation is seen
    sendgrid_key: Callable[[], Any]  # the Event Webhook's public key, parsed
    appliers: Once[Appliers]


def _build() -> WebhooksGraph:
    """The webhooks function's composition root: the verifiers' inputs only, so a refusal costs no more."""
    from herald.config import WebhooksSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.secrets import Secrets

    config = WebhooksSettings.from_environment()
    secrets = Secrets(aws_client("secretsmanager"))
    # The secret is cached by Powertools; parsing the key once per distinct value spares a DER parse per call.
    parsed_key = lru_cache(maxsize=2)(load_public_key)
    return WebhooksGraph(
        tolerance_seconds=config.webhook_tolerance_seconds,
        twilio_auth_token=lambda: secrets.twilio_credentials(config.twilio_secret_id).auth_token,
        sendgrid_key=lambda: parsed_key(secrets.sendgrid_webhook_public_key(config.sendgrid_webhook_secret_id)),
        appliers=Once(lambda: _build_appliers(config)),
    )


def _build_appliers(config: WebhooksSettings) -> Appliers:
    from herald.adapters.dynamodb_delivery import DynamoDbDelivery
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
    from herald.adapters.sqs_followups import SqsFollowUpQueue
    from herald.handlers.aws import aws_client
    from herald.handlers.registry import LazyStorefronts
    from herald.usecases.followup import FallbackOnFailure
    from herald.usecases.suppression import EmailOptOuts, SmsKeywords

    dynamodb = aws_client("dynamodb")
    delivery = DynamoDbDelivery(dynamodb, config.table_name, ttl_days=config.ttl_days)
    suppressions = DynamoDbSuppressions(dynamodb, config.table_name)
    keywords = SmsKeywords(
        suppressions,
        source_by_number=config.sms_source_by_number,
        default_source=config.default_source,
        help_template=config.sms_help_text,
        store_name=config.default_store_name,
        # HELP answers with the storefront's own name and help text (built only if someone texts HELP).
        storefronts=LazyStorefronts(config.storefronts_path),
    )
    listeners: list[Listener] = [_count_result, EmailOptOuts(suppressions)]
    if config.followup_queue_url:
        # A bounced email or an undelivered SMS asks the follow-up function for the event's other channel.
        listeners.append(FallbackOnFailure(SqsFollowUpQueue(aws_client("sqs"), config.followup_queue_url)))
    return Appliers(
        delivery=delivery,
        # Opt-outs and hard bounces become suppressions as each report is applied (no second parser).
        deliveries=DeliveryStatusService(delivery, listeners=listeners),
        inbound=InboundService(delivery, handlers=[keywords]),
    )


root = Root(_build)


def _count_result(result: DeliveryResult) -> None:
    emit(
        "DeliveryReports",
        1,
        MetricUnit.Count,
        provider=result.status.provider,
        outcome=result.outcome.value,
        state=result.status.state.value if result.status.state else "none",
    )
    if result.outcome.value == "not_found":
        logger.info("delivery report matches no notification", extra={"report": result.status.event_key})


# --- request helpers ----------------------------------------------------------------------------


def _raw_body(event: APIGatewayProxyEventV2, limits: BodyLimits) -> bytes:
    """The body exactly as the provider sent it (signatures are over these bytes), or 413 if over `limits`."""
    return bounded_body(event.body, base64_encoded=bool(event.is_base64_encoded), limits=limits)


def public_url(event: APIGatewayProxyEventV2) -> str:
    """The URL the caller requested, as Twilio signed it: scheme, host, path and the raw query string."""
    headers = event.headers
    scheme = (headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    host = event.request_context.domain_name or headers.get("host") or ""
    url = f"{scheme}://{host}{event.raw_path}"
    return f"{url}?{event.raw_query_string}" if event.raw_query_string else url


def _verified_twilio_form(event: APIGatewayProxyEventV2) -> FormParams:
    body = _raw_body(event, TWILIO_FORM)
    verifier = TwilioWebhookVerifier(root().twilio_auth_token())
    try:
        # Twilio signs the parsed fields, so they are parsed first: within the bounds, in one linear pass.
        params = FormParams.parse(body)
    except ValueError:
        # Not form data: it cannot carry a valid signature; the verifier refuses it (401 or 403).
        params = FormParams([])
    verifier.verify(public_url(event), params, event.headers)
    return params


def _refused(error: WebhookRefused) -> Response[str]:
    provider = "sendgrid" if app.current_event.raw_path == SENDGRID_EVENTS_PATH else "twilio"
    logger.warning("webhook refused", extra={"provider": provider, "reason": error.reason})
    emit("WebhooksRefused", 1, MetricUnit.Count, provider=provider, reason=type(error).__name__)
    return Response(error.status_code, "application/json", json.dumps({"message": error.reason}))


app.exception_handler(WebhookRefused)(_refused)


# --- routes -------------------------------------------------------------------------------------


@app.post(SENDGRID_EVENTS_PATH)
def sendgrid_events() -> Response[str]:
    graph = root()
    event = app.current_event
    body = _raw_body(event, SENDGRID_EVENTS)
    # Signature and freshness first, with nothing of the table built: a forgery costs one ECDSA check.
    verifier = SendGridWebhookVerifier(graph.sendgrid_key(), tolerance_seconds=graph.tolerance_seconds)
    request = verifier.check(event.headers, body)
    try:
        events = json.loads(body)
    except ValueError:
        raise BadRequestError("body is not JSON") from None
    if not isinstance(events, list) or not all(isinstance(item, dict) for item in events):
        raise BadRequestError("body is not a JSON array of events")
    appliers = graph.appliers()
    verifier.refuse_replay(request, appliers.delivery)  # this very content was applied before: 403
    results = appliers.deliveries.apply_sendgrid_events(events)
    # Recorded only once applied: a failed apply (500) leaves SendGrid's retry of the same request admissible.
    if not verifier.record(request, appliers.delivery):
        logger.info("SendGrid request applied concurrently by another invocation")
    summary: dict[str, int] = {}
    for result in results:
        summary[result.outcome.value] = summary.get(result.outcome.value, 0) + 1
    return Response(200, "application/json", json.dumps({"events": len(results), **summary}))


@app.post(TWILIO_STATUS_PATH)
def twilio_status_callback() -> Response[str]:
    event = app.current_event
    params = _verified_twilio_form(event)
    # Herald's link fields ride on the status-callback URL's query; the signature covers them.
    link = dict(parse_qsl(event.raw_query_string, keep_blank_values=True))
    fields = params.first()
    if not (fields.get("MessageSid") or fields.get("SmsSid")) or not (
        fields.get("MessageStatus") or fields.get("SmsStatus")
    ):
        raise BadRequestError("status callback without MessageSid or MessageStatus")
    root().appliers().deliveries.apply_twilio_callback(fields, link)
    return Response(204)


@app.post(TWILIO_INBOUND_PATH)
def twilio_inbound() -> Response[str]:
    from twilio.twiml.messaging_response import MessagingResponse

    params = _verified_twilio_form(app.current_event).first()
    sid = params.get("MessageSid") or params.get("SmsSid")
    if not sid or not params.get("From") or not params.get("To"):
        raise BadRequestError("inbound message without MessageSid, From or To")
    message = InboundMessage(
        message_sid=sid,
        from_=params["From"],
        to=params["To"],
        body=params.get("Body", ""),
        account_sid=params.get("AccountSid"),
    )
    first, reply = root().appliers().inbound.receive(message)
    if not first:
        logger.info("inbound message already recorded", extra={"message_sid": sid})
    twiml = MessagingResponse()
    if reply is not None:
        twiml.message(reply)
    return Response(200, "text/xml", str(twiml))


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
