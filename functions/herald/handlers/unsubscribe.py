"""One-click unsubscribe routes (RFC 8058), served by the webhooks function (included into its resolver).

- POST /unsubscribe/{token}  body `List-Unsubscribe=One-Click`: records the opt-out the token grants (200 page).
  A mail client posts it from its "Unsubscribe" button; the confirmation page's form posts the same body.
- GET  /unsubscribe/{token}  a small page without JavaScript with that form. A GET never unsubscribes: mail
  scanners and link previews follow every link in an email.

The token is checked before the body is read (403 for a forged, altered or expired one; nothing is recorded), and
the body is bounded before it is parsed (413). They live in the webhooks function because it is the deployment's
public, signature-authenticated endpoint: its concurrency and body bounds protect these routes too.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from herald.domain.locales import N_
from herald.domain.masking import mask_email
from herald.domain.unsubscribe import ONE_CLICK_BODY
from herald.handlers.wiring import Root
from herald.observability import build_logger, emit
from herald.usecases.unsubscribe import UNSUBSCRIBE_PATH, OneClickUnsubscribe
from herald.webhooks.errors import WebhookRefused
from herald.webhooks.unsubscribe_token import UnsubscribeGrant

logger = build_logger()
router = APIGatewayHttpRouter()

MAX_BODY_BYTES = 1024  # the one-click body is 26 bytes; a browser's form post adds nothing but that field
_ROUTE = f"{UNSUBSCRIBE_PATH}/<token>"
# The pages' words are msgids (N_), translated when the page is rendered in the email's language.
_TOO_LARGE = (N_("Request too large"), N_("This request is too large."))
# The page loads nothing, runs nothing, cannot be framed, and leaks the token in no Referer.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class UnsubscribeGraph:
    unsubscribe: OneClickUnsubscribe


def _build() -> UnsubscribeGraph:
    """The unsubscribe routes' composition root (in the webhooks function): the link verifier, the opt-outs."""
    from herald.adapters.dynamodb_suppression import DynamoDbSuppressions
    from herald.config import WebhooksSettings
    from herald.handlers.aws import aws_client
    from herald.handlers.secrets import Secrets, unsubscribe_tokens
    from herald.usecases.suppression import EmailOptOuts

    config = WebhooksSettings.from_environment()
    tokens = unsubscribe_tokens(
        Secrets(aws_client("secretsmanager")), config.unsubscribe_secret_id, config.unsubscribe_link_days
    )
    opt_outs = EmailOptOuts(DynamoDbSuppressions(aws_client("dynamodb"), config.table_name))
    return UnsubscribeGraph(OneClickUnsubscribe(tokens, opt_outs))


root = Root(_build)


@router.get(_ROUTE)
def confirmation_page(token: str) -> Response[str]:
    try:
        grant = root().unsubscribe.check(token)
    except WebhookRefused as error:
        return _refused(error)
    from herald.rendering.order_page import render_unsubscribe_form

    name, _, value = ONE_CLICK_BODY.partition("=")
    page = render_unsubscribe_form(grant.source, _who(grant), field=name, value=value, locale=_locale(grant))
    return _page(200, page)


@router.post(_ROUTE)
def one_click(token: str) -> Response[str]:
    event = router.current_event
    body = event.body or ""
    # Bounded before anything is decoded: base64 of MAX_BODY_BYTES is at most 4/3 as long.
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        return _message(413, None, *_TOO_LARGE)
    try:
        unsubscribe = root().unsubscribe
        grant = unsubscribe.check(token)  # authenticated before the body is parsed
    except WebhookRefused as error:
        return _refused(error)
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        return _message(413, grant, *_TOO_LARGE)
    fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if fields.get("List-Unsubscribe") != ONE_CLICK_BODY.partition("=")[2]:
        return _message(
            400, grant, N_("Not an unsubscribe request"), N_("The request must carry %(body)s."), body=ONE_CLICK_BODY
        )
    grant = unsubscribe.confirm(token)
    emit("Unsubscribes", 1, MetricUnit.Count, source=grant.source)
    logger.info("one-click unsubscribe recorded", extra={"source": grant.source, "to": mask_email(grant.address)})
    return _message(
        200, grant, N_("Unsubscribed"), N_("%(address)s will no longer receive these emails."), address=_who(grant)
    )


def _refused(error: WebhookRefused) -> Response[str]:
    logger.warning("unsubscribe refused", extra={"reason": error.reason})
    emit("WebhooksRefused", 1, MetricUnit.Count, provider="unsubscribe", reason=type(error).__name__)
    return _message(403, None, N_("Link not valid"), N_("This unsubscribe link is not valid or has expired."))


def _who(grant: UnsubscribeGrant) -> str:
    return mask_email(grant.address)  # escaped by the page's template


def _locale(grant: UnsubscribeGrant | None) -> str:
    """The page's language: the email's (sealed in the token), else the browser's (Accept-Language), else en-US;
    by the chain messages use (domain.locales), among the pages' locales."""
    from herald.rendering.order_page import accept_languages, page_locale

    header = router.current_event.headers.get("accept-language")
    return page_locale(grant.locale if grant is not None else None, *accept_languages(header))


def _message(status: int, grant: UnsubscribeGrant | None, title: str, message: str, **params: object) -> Response[str]:
    # Imported here: the webhooks function serves these routes, and Jinja2 is not part of its cold start.
    from herald.rendering.order_page import render_message_page

    return _page(status, render_message_page(title, message, locale=_locale(grant), **params))


def _page(status: int, page: str) -> Response[str]:
    return Response(status, "text/html; charset=utf-8", page, headers=dict(_PAGE_HEADERS))
