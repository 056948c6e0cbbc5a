"""`herald intake PLATFORM FILE`: what Herald makes of a platform's payload, on the developer's machine.

A storefront engineer sees, before connecting a store or a carrier, what the deployed intake will do with their
real payloads: the same translators (herald.intake.translate), no AWS, no secret. Shopify's payloads become Herald
events (validated against the contract, as dispatch will) or order updates that the intake joins to the order
they name; a carrier's become shipment updates (its Herald type, carrier, tracking number, status, estimate,
proof), which the intake joins to the shipment with that tracking number.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class PlatformName(StrEnum):
    SHOPIFY = "shopify"
    EASYPOST = "easypost"
    AFTERSHIP = "aftership"
    SHIPPO = "shippo"
    ONFLEET = "onfleet"


class ConsentRule(StrEnum):
    NEVER = "never"
    SHOPIFY_SMS_CONSENT = "shopify_sms_consent"
    CHECKOUT_PHONE = "checkout_phone"


def _storefront(source: str, sms_consent: ConsentRule) -> Any:
    """A registry entry standing in for the storefront's: only its source and SMS consent rule reach the
    translators; the senders' fields are placeholders nothing here sends with."""
    from herald.domain.storefront import Storefront

    return Storefront.model_validate(
        {
            "source": source,
            "name": "Example store",
            "email_from": "orders@example.com",
            # Names of secrets that are never read: nothing here sends.
            "sendgrid_secret_id": "herald-intake-cli/none",
            "twilio_secret_id": "herald-intake-cli/none",
            "sms_from": "+15005550006",
            "intake": {"slug": "example", "sms_consent": sms_consent.value},
        }
    )


def intake(
    platform: Annotated[PlatformName, typer.Argument(help="Where the payload comes from.")],
    file: Annotated[Path, typer.Argument(help="The webhook's JSON body as the platform sent it ('-': stdin).")],
    topic: Annotated[
        str | None,
        typer.Option(help="Shopify's webhook topic (orders/create, ...); not needed for an EventBridge event."),
    ] = None,
    source: Annotated[str, typer.Option(help="The storefront's CloudEvents source.")] = "storefront/example",
    sms_consent: Annotated[
        ConsentRule, typer.Option(help="The storefront's SMS consent rule for Shopify orders (the registry's).")
    ] = ConsentRule.NEVER,
    webhook_id: Annotated[
        str | None, typer.Option(help="Shopify's X-Shopify-Webhook-Id (default: derived from the payload).")
    ] = None,
) -> None:
    """Print the Herald events (or shipment updates) a platform payload becomes, one JSON object a line; or the
    reason it is refused (exit code 1)."""
    from herald.contract.parsing import EventRejected, parse_event
    from herald.intake.translate import json_payload, translate
    from herald.intake.updates import IntakeRefused

    raw = sys.stdin.buffer.read() if str(file) == "-" else _read(file)
    now = datetime.now(UTC)
    headers: dict[str, str] = {}
    try:
        payload = json_payload(raw)
        if platform is PlatformName.SHOPIFY:
            payload, headers = _shopify_request(payload, topic, webhook_id or _derived_id(raw))
        translation = translate(
            platform.value, payload, _storefront(source, sms_consent), received_at=now, headers=headers
        )
        lines = []
        for event in translation.events:
            parse_event(json.dumps(event), now=now)  # what dispatch will check; refused here the same way
            lines.append(event)
    except (IntakeRefused, EventRejected) as refused:
        reason = refused.reason if isinstance(refused, EventRejected) else str(refused)
        typer.echo(f"herald intake: refused: {reason}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    for event in lines:
        typer.echo(json.dumps(event, sort_keys=False))
    for order_update in translation.order_updates:
        typer.echo(json.dumps({"order_update": order_update.model_dump(mode="json", exclude_none=True)}))
    for update in translation.updates:
        typer.echo(json.dumps({"shipment_update": update.model_dump(mode="json", exclude_none=True)}))
    for reason in translation.ignored:
        typer.echo(json.dumps({"ignored": reason}))
    raise typer.Exit(EXIT_OK)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        typer.echo(f"herald intake: error: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _derived_id(raw: bytes) -> str:
    return "cli-" + hashlib.sha256(raw).hexdigest()[:24]


def _shopify_request(payload: Any, topic: str | None, webhook_id: str) -> tuple[Any, dict[str, str]]:
    """The payload and the headers Shopify would send with it: from the EventBridge envelope when it is one."""
    from herald.intake.shopify import is_eventbridge_envelope, unwrap_eventbridge

    if is_eventbridge_envelope(payload):
        wrapped_topic, inner, metadata = unwrap_eventbridge(payload)
        headers = {str(k).lower(): str(v) for k, v in metadata.items()}
        headers.setdefault("x-shopify-topic", wrapped_topic)
        headers.setdefault("x-shopify-webhook-id", webhook_id)
        return inner, headers
    if not topic:
        typer.echo("herald intake: error: a Shopify HTTPS payload needs --topic (orders/create, ...)", err=True)
        raise typer.Exit(EXIT_USAGE)
    return payload, {"x-shopify-topic": topic, "x-shopify-webhook-id": webhook_id}
