"""The order page's HTML (handlers.order_page serves it): Jinja2, autoescaped, no JavaScript, one stylesheet inline.

Everything a customer or a storefront typed is escaped by the environment; URLs go into attributes only when
they come from https-validated fields (the contract's, the registry's) or are built here (the map link, the page's
own routes). The page works without JavaScript (plain forms) and at 375 px wide.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from herald.domain.order_page import MAX_NOTE_CHARACTERS, PAGE_PATH, DisputeReason
from herald.domain.returns import Resolution, ReturnReason
from herald.rendering.colours import text_colour_on
from herald.rendering.formatting import Formatter, timezone_named
from herald.rendering.links import map_link

_TEMPLATES = Path(__file__).parent / "page_templates"

DISPUTE_LABELS = {
    DisputeReason.NOTHING_ARRIVED: "Nothing arrived",
    DisputeReason.WRONG_PLACE: "It was left in the wrong place",
    DisputeReason.DAMAGED: "It arrived damaged",
}
# The return form's choices, in the order the form shows them. The reason's label is also the `return.reason` of
# the return.requested event Herald publishes, so the confirmation email says it in the customer's words.
RETURN_REASON_LABELS = {
    ReturnReason.DOES_NOT_FIT: "It doesn't fit",
    ReturnReason.DAMAGED: "It arrived damaged",
    ReturnReason.NOT_AS_DESCRIBED: "It is not as described",
    ReturnReason.CHANGED_MIND: "I changed my mind",
    ReturnReason.OTHER: "Another reason",
}
RESOLUTION_LABELS = {
    Resolution.REFUND: "A refund",
    Resolution.EXCHANGE: "An exchange",
}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # gettext in the page templates (`{{ _("...") }}`, `{% trans %}`): the page speaks the customer's language.
        extensions=["jinja2.ext.i18n"],
    )
    # Until a locale's catalog is installed per render, the words are the templates' own (English).
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        dispute_labels=DISPUTE_LABELS,
        return_reason_labels=RETURN_REASON_LABELS,
        resolution_labels=RESOLUTION_LABELS,
        max_note=MAX_NOTE_CHARACTERS,
    )
    return env


def _formatter(view: Any) -> Formatter:
    return Formatter(tz=timezone_named(view.customer.get("timezone")), currency=view.order.get("currency"))


def _when(fmt: Formatter, value: str | None, *, day: bool = False) -> str:
    """An ISO date or time from the ledger, as the customer reads it ("" when absent or unreadable)."""
    if not value:
        return ""
    try:
        parsed: date | datetime = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError:
        return value
    if isinstance(parsed, datetime) and not day:
        return fmt.moment(parsed)
    return fmt.day(parsed)


def _brand(view: Any) -> dict[str, Any]:
    store = view.store or {}
    entry = view.storefront
    primary = entry.branding.primary_colour if entry else "#1f2937"
    return {
        "name": store.get("name") or (entry.name if entry else "Your order"),
        "logo_url": store.get("logo_url") or (entry.branding.logo_url if entry else None),
        "primary": primary,
        "on_primary": text_colour_on(primary),
        "accent": entry.branding.accent_colour if entry else "#2563eb",
        "support_url": store.get("support_url"),
        "support_email": store.get("support_email"),
    }


def _map_url(proof: dict[str, Any] | None) -> str | None:
    if not proof or proof.get("latitude") is None or proof.get("longitude") is None:
        return None
    return map_link(float(proof["latitude"]), float(proof["longitude"]))


def _context(view: Any) -> dict[str, Any]:
    """What every template of an order's pages reads: the view, the brand, the page's base path, the formats."""
    fmt = _formatter(view)
    return {
        "view": view,
        "brand": _brand(view),
        "base": f"{PAGE_PATH}/{view.token}",
        "fmt": fmt,
        "when": lambda value, day=False: _when(fmt, value, day=day),
    }


def render_order_page(view: Any, *, notice: str | None = None, error: str | None = None) -> str:
    """The whole page of one order. `notice`: what the customer's last answer did; `error`: why a form failed."""
    template = _environment().get_template("order.html")
    return template.render(_context(view), map_url=_map_url, notice=notice, error=error)


def render_dispute_details(view: Any, shipment_id: str, form_token: str, *, error: str | None = None) -> str:
    """The second step of "I did not receive it": what happened, and an optional note."""
    template = _environment().get_template("dispute.html")
    return template.render(_context(view), shipment_id=shipment_id, form_token=form_token, error=error)


def render_return_form(view: Any, *, error: str | None = None, chosen: frozenset[str] = frozenset()) -> str:
    """The return form of an order: its returnable items, the reason, refund or exchange, a note. `chosen`: the
    items ticked in a post that was refused (the customer does not tick them again)."""
    template = _environment().get_template("return.html")
    return template.render(_context(view), form_token=view.return_form_token, error=error, chosen=chosen)


def render_message_page(title: str, message: str, *, lang: str = "en") -> str:
    """A page with one message (a link that does not work, a request refused)."""
    return _environment().get_template("message.html").render(title=title, message=message, lang=lang)
