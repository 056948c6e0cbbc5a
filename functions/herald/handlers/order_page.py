"""Lambda handler of the order-page function: the customer's page of one order, behind the HTTP API.

- GET  /o/{token}           the page (order, shipments and their history, estimates, proof of delivery, returns)
- POST /o/{token}/delivery  the answer about a delivered shipment: "received", or "not received" and what happened
- GET  /o/{token}/photo/{shipment}  the delivery's proof photo: Herald's own copy, fetched once from the carrier
- GET  /o/{token}/return    the return form (delivered items not already in a return, reason, refund or exchange)
- POST /o/{token}/return    start that return: the storefront is told, the customer's confirmation is queued

The token is the only credential: a malformed one is refused without a lookup, an unknown or expired one gets the
same 404 page, and a post is authenticated (its token, then its form's token) before its body is parsed; the body
is bounded first (413). No JavaScript, nothing framed, nothing cached, no Referer leaves the page.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from herald.domain.locales import N_
from herald.domain.order_page import DeliveryAnswer, FormRefused
from herald.handlers.wiring import PORT_PHOTO_FETCHER, Root, port
from herald.observability import build_logger, emit, traced
from herald.rendering.order_page import (
    accept_languages,
    page_locale,
    render_dispute_details,
    render_message_page,
    render_order_page,
    render_return_form,
)
from herald.usecases.order_page import AnswerOutcome, AnswerResult, OrderPages, OrderPageView

logger = build_logger()
app = APIGatewayHttpResolver()

MAX_FORM_BYTES = 4096  # the delivery form: a shipment id, a token, a reason and a note of 500 characters
# The return form: the delivery form's fields plus a checkbox and a quantity per item (a sku is at most 200
# characters, MAX_RETURN_LINES of them); an order page's whole order fits, a flood does not.
MAX_RETURN_FORM_BYTES = 32 * 1024
_HEADERS = {
    # Styles inline, images from the page itself (the proof photo) or a storefront's https logo; nothing else.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
# The pages' words are msgids (N_), translated when the page is rendered in the customer's language.
_GONE = (
    N_("This link does not work"),
    N_("This order link is not valid or has expired. The latest message about your order has a new one."),
)
_TOO_LARGE = (N_("Request too large"), N_("This request is too large."))
_UNAVAILABLE = (
    N_("Please try again in a moment"),
    N_("We could not do this just now. Nothing is lost: please try again in a minute."),
)
_NOTICES = {
    DeliveryAnswer.RECEIVED: N_("Thank you: we have noted that you received it."),
    DeliveryAnswer.NOT_RECEIVED: N_(
        "Thank you for telling us. We have passed it on to the store, which will look into it with the carrier "
        "and contact you. You do not need to do anything else now."
    ),
}
# What happens after a return is started (words built here are kept in one place, to be translated).
RETURN_NOTICES = {
    "started": N_(
        "Your return request is on its way to the store. You will get an email confirming it. The store will "
        "review it and tell you what happens next, with a return label once it is approved: you can follow it "
        "on this page."
    ),
    "started_unconfirmed": N_(
        "Your return request is on its way to the store. The store will review it and tell you what happens next, "
        "with a return label once it is approved: you can follow it on this page."
    ),
    "replayed": N_("We already have this return request."),
}


@dataclass(frozen=True)
class OrderPageGraph:
    pages: OrderPages


def _build() -> OrderPageGraph:
    """The order-page function's composition root."""
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.adapters.dynamodb_order_pages import DynamoDbOrderPages
    from herald.config import OrderPageSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.registry import storefronts
    from herald.handlers.secrets import Secrets

    config = OrderPageSettings.from_environment()
    dynamodb = aws_client("dynamodb")
    secrets = Secrets(aws_client("secretsmanager"))
    photos = fetcher = None
    if config.photos_bucket:
        from herald.adapters.https_photos import HttpsPhotoFetcher
        from herald.adapters.s3_photos import S3PhotoCopies

        photos = S3PhotoCopies(aws_client("s3"), config.photos_bucket)
        fetcher = port(PORT_PHOTO_FETCHER, HttpsPhotoFetcher())
    outbound = None
    if config.outbound_webhooks_queue_url:
        from herald.adapters.sqs_outbound import SqsOutboundEvents

        outbound = SqsOutboundEvents(aws_client("sqs"), config.outbound_webhooks_queue_url)
    links = events = None
    if config.order_events_queue_url:
        from herald.adapters.dynamodb_intake import DynamoDbIntakeLinks
        from herald.adapters.sqs_events import SqsEventPublisher

        links = DynamoDbIntakeLinks(dynamodb, config.table_name, ttl_days=config.ttl_days)
        events = SqsEventPublisher(
            aws_client("sqs"), order_queue_url=config.order_events_queue_url, shipment_queue_url=None
        )
    return OrderPageGraph(
        OrderPages(
            DynamoDbOrderPages(dynamodb, config.table_name, link_days=config.page_link_days),
            DynamoDbLedger(dynamodb, config.table_name, ttl_days=config.ttl_days),
            storefronts(config.storefronts_path),
            lambda: secrets.signing_keys(config.order_page_secret_id),
            photos=photos,
            fetcher=fetcher,
            outbound=outbound,
            links=links,
            events=events,
        )
    )


root = Root(_build)


@app.get("/o/<token>")
def order_page(token: str) -> Response[str]:
    view = root().pages.view(token)
    if view is None:
        return _gone()
    return _html(200, render_order_page(view, accept_language=_accept_language()))


@app.get("/o/<token>/photo/<shipment_id>")
def proof_photo(token: str, shipment_id: str) -> Response[Any]:
    from urllib.parse import unquote

    from herald.usecases.ports import PhotoUnavailable

    try:
        photo = root().pages.photo(token, unquote(shipment_id))
    except PhotoUnavailable as unavailable:
        logger.warning("proof photo unavailable", extra={"reason": str(unavailable)})
        emit("ProofPhotosUnavailable", 1, MetricUnit.Count)
        photo = None
    if photo is None:
        return _message(404, N_("No photo"), N_("There is no photo of this delivery to show."))
    headers = dict(_HEADERS) | {
        "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": "default-src 'none'",
    }
    return Response(200, photo.content_type, photo.body, headers=headers)


@app.post("/o/<token>/delivery")
def delivery_answer(token: str) -> Response[str]:
    read = _read_form(token, MAX_FORM_BYTES)
    if isinstance(read, Response):
        return read
    view, pairs = read
    pages = root().pages
    fields = dict(pairs)
    try:
        result = pages.answer(view, fields)
    except FormRefused as refused:
        logger.warning("order page form refused", extra={"reason": str(refused)})
        emit("OrderPageFormsRefused", 1, MetricUnit.Count)
        return _html(400, render_order_page(view, error=refused))
    return _answered(result)


@app.get("/o/<token>/return")
def return_form(token: str) -> Response[str]:
    view = root().pages.view(token)
    if view is None:
        return _gone()
    if view.returns_portal_url is not None:  # the store's own portal: the page links there, Herald takes none
        return Response(303, "text/plain", "", headers=dict(_HEADERS) | {"Location": view.returns_portal_url})
    return _html(200, render_return_form(view, accept_language=_accept_language()))


@app.post("/o/<token>/return")
def start_return(token: str) -> Response[str]:
    read = _read_form(token, MAX_RETURN_FORM_BYTES)
    if isinstance(read, Response):
        return read
    view, pairs = read
    try:
        result = root().pages.start_return(view, pairs)
    except FormRefused as refused:
        logger.warning("order page return form refused", extra={"reason": str(refused)})
        emit("OrderPageFormsRefused", 1, MetricUnit.Count)
        chosen = frozenset(value for name, value in pairs if name == "item")
        return _html(400, render_return_form(view, error=refused, chosen=chosen))
    if result.outcome is AnswerOutcome.REPLAYED:
        logger.info("order page return form posted again: nothing recorded", extra={"return_id": result.return_id})
        return _html(200, render_order_page(result.view, notice=RETURN_NOTICES["replayed"]))
    emit("ReturnsStarted", 1, MetricUnit.Count, source=result.view.source)
    request = result.request
    logger.info(
        "return started",
        extra={
            "source": result.view.source,
            "order_id": result.view.order_id,
            "return_id": result.return_id,
            "items": len(request.lines) if request else 0,
            "reason": request.reason.value if request else None,
            "resolution": request.resolution.value if request else None,
            "confirmation_sent": result.confirmation_sent,
        },
    )
    notice = RETURN_NOTICES["started" if result.confirmation_sent else "started_unconfirmed"]
    return _html(200, render_order_page(result.view, notice=notice))


@app.exception_handler([BotoCoreError, ClientError])
def aws_unavailable(error: Exception) -> Response[str]:
    """An AWS call failed (throttled, unreachable): the customer gets a page to try again, not a bare 500. A form
    post tried again is safe: what it tells the storefront and queues carries ids made from its form's nonce, which
    the receivers dedupe, and it is recorded once."""
    logger.exception("order page: an AWS call failed", extra={"error": type(error).__name__})
    emit("OrderPageFailures", 1, MetricUnit.Count)
    response = _message(503, *_UNAVAILABLE)
    response.headers["Retry-After"] = "30"
    return response


def _read_form(token: str, limit: int) -> tuple[OrderPageView, list[tuple[str, str]]] | Response[str]:
    """The page a form post is on and its fields, or the answer that refuses it: too large (413, before anything
    is decoded or looked up), then an unknown link (404, authenticated before the body is parsed)."""
    event = app.current_event
    body = event.body or ""
    # Bounded before anything is decoded: base64 of `limit` bytes is at most 4/3 as long.
    if len(body) > limit * 4 // 3 + 4:
        return _message(413, *_TOO_LARGE)
    view = root().pages.view(token)
    if view is None:
        return _gone()
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")
    if len(raw) > limit:
        return _message(413, *_TOO_LARGE)
    return view, parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)


def _answered(result: AnswerResult) -> Response[str]:
    response = result.response
    if result.outcome is AnswerOutcome.DETAILS_NEEDED:
        return _html(200, render_dispute_details(result.view, response.shipment_id, result.form_token))
    if result.outcome is AnswerOutcome.REPLAYED:
        logger.info("order page form posted again: nothing recorded", extra={"shipment_id": response.shipment_id})
        return _html(200, render_order_page(result.view, notice=N_("We already have this answer.")))
    metric = "DeliveriesConfirmed" if response.answer is DeliveryAnswer.RECEIVED else "DeliveriesDisputed"
    emit(metric, 1, MetricUnit.Count, source=result.view.source)
    logger.info(
        "delivery answer recorded",
        extra={
            "source": result.view.source,
            "order_id": result.view.order_id,
            "shipment_id": response.shipment_id,
            "answer": response.answer.value,
            "reason": response.reason.value if response.reason else None,
        },
    )
    return _html(200, render_order_page(result.view, notice=_NOTICES[response.answer]))


def _gone() -> Response[str]:
    return _message(404, *_GONE)


def _accept_language() -> str | None:
    return app.current_event.headers.get("accept-language")


def _message(status: int, title: str, message: str) -> Response[str]:
    """A page with one message, where there is no order to speak of: in the browser's language (Accept-Language),
    among the pages' locales, else en-US."""
    locale = page_locale(*accept_languages(_accept_language()))
    return _html(status, render_message_page(title, message, locale=locale))


def _html(status: int, page: str) -> Response[str]:
    return Response(status, "text/html; charset=utf-8", page, headers=dict(_HEADERS))


@traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
