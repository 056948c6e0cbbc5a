"""The customer's pages' HTML: the order page and its dispute step (handlers.order_page), the one-click unsubscribe
page (handlers.unsubscribe). Jinja2, autoescaped, no JavaScript, one stylesheet inline.

Each page is written in its customer's language: the templates' words are gettext msgids (`_()`), translated by
the catalog of the locale `page_locale` picks with the chain messages use (domain.locales), and dates, times and
amounts are Babel's in that locale (or the customer's own, when it is the same language).

Everything a customer or a storefront typed is escaped by the environment; URLs go into attributes only when
they come from https-validated fields (the contract's, the registry's) or are built here (the map link, the page's
own routes). The page works without JavaScript (plain forms) and at 375 px wide.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from herald.domain.locales import DEFAULT_LOCALE, N_, best_locale, format_locale
from herald.domain.order_page import MAX_NOTE_CHARACTERS, PAGE_PATH, DisputeReason, FormRefused
from herald.domain.returns import Resolution, ReturnReason
from herald.rendering.colours import text_colour_on
from herald.rendering.formatting import Formatter, babel_locale, timezone_named
from herald.rendering.links import map_link

_TEMPLATES = Path(__file__).parent / "page_templates"
# The pages' words in other languages than the templates' own (en-US): `<locale>/pages.po`, the translator's file,
# and `pages.mo`, what the page reads (`make translations` compiles it; tests/unit/test_page_locales.py fails when
# it is stale or a msgid lacks its translation). The compiled file is what is read at run time: the stdlib's
# gettext reads it in a few milliseconds, where parsing the .po would add Babel's catalog machinery to the order
# page's cold start.
CATALOGS = Path(__file__).parent / "page_locales"
CATALOG_FILE = "pages.mo"

DISPUTE_LABELS = {
    DisputeReason.NOTHING_ARRIVED: N_("Nothing arrived"),
    DisputeReason.WRONG_PLACE: N_("It was left in the wrong place"),
    DisputeReason.DAMAGED: N_("It arrived damaged"),
}
YOUR_ORDER = N_("Your order")  # the page's heading name when neither the event nor the registry names the store
# The return form's choices, in the order the form shows them. The reason's label is also the `return.reason` of
# the return.requested event Herald publishes, so the confirmation email says it in the customer's words.
RETURN_REASON_LABELS = {
    ReturnReason.DOES_NOT_FIT: N_("It doesn't fit"),
    ReturnReason.DAMAGED: N_("It arrived damaged"),
    ReturnReason.NOT_AS_DESCRIBED: N_("It is not as described"),
    ReturnReason.CHANGED_MIND: N_("I changed my mind"),
    ReturnReason.OTHER: N_("Another reason"),
}
RESOLUTION_LABELS = {
    Resolution.REFUND: N_("A refund"),
    Resolution.EXCHANGE: N_("An exchange"),
}


@cache
def page_locales() -> frozenset[str]:
    """The locales the pages are written in: the templates' en-US and each folder with a compiled catalog."""
    found = {path.parent.name for path in CATALOGS.glob(f"*/{CATALOG_FILE}")}
    return frozenset({DEFAULT_LOCALE, *found})


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The pages' catalog of `locale` (one of page_locales()); en-US's words are the templates' own."""
    path = CATALOGS / locale / CATALOG_FILE
    if locale == DEFAULT_LOCALE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as catalog:
        return gettext.GNUTranslations(catalog)


def page_locale(*tags: str | None) -> str:
    """The locale a page is written in for these tags, best first (the order's customer locale, the storefront's
    default, then the browser's Accept-Language ones): domain.locales' chain, the same as messages'."""
    return best_locale(page_locales(), *tags)


def accept_languages(header: str | None) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (`fr-CA,fr;q=0.8,en;q=0.5`). Home-made because
    neither Babel nor Powertools parses the header, and it is a dozen lines; `*` and malformed weights are skipped."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:20]):  # bounded: the header is the client's text
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


@cache
def _environment(locale: str) -> Environment:
    """One environment per page locale, its catalog installed (each caches its own compiled templates)."""
    env = Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # gettext in the page templates (`{{ _("...") }}`, `{% trans %}`): the page speaks the customer's language.
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        dispute_labels=DISPUTE_LABELS,
        return_reason_labels=RETURN_REASON_LABELS,
        resolution_labels=RESOLUTION_LABELS,
        max_note=MAX_NOTE_CHARACTERS,
        lang=locale,
    )
    return env


def _words(locale: str, message: str | FormRefused | None, params: Mapping[str, object] | None = None) -> str | None:
    """A message of the page's code (an N_-marked msgid with its %-`params`, or a refused form's) in the page's
    language."""
    if message is None:
        return None
    if isinstance(message, FormRefused):
        msgid, params = message.message, message.params
    else:
        msgid = message
    words = translations(locale).gettext(msgid)
    return words % params if params else words


def return_reason_words(view: Any, reason: ReturnReason) -> str:
    """A return's reason as the customer chose it, in the order's language (the page's): the return.requested
    event carries it to the customer's confirmation email, which is written in that language too."""
    locale = _view_locale(view)
    return translations(locale).gettext(RETURN_REASON_LABELS[reason])


def _view_locale(view: Any, accept_language: str | None = None) -> str:
    entry = view.storefront
    return page_locale(view.customer.get("locale"), entry.locale if entry else None, *accept_languages(accept_language))


def _formatter(view: Any, locale: str) -> Formatter:
    customer = view.customer.get("locale")
    return Formatter(
        tz=timezone_named(view.customer.get("timezone")),
        currency=view.order.get("currency"),
        locale=format_locale(customer, locale, bool(customer) and babel_locale(customer) is not None),
    )


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


def _brand(view: Any, locale: str) -> dict[str, Any]:
    store = view.store or {}
    entry = view.storefront
    primary = entry.branding.primary_colour if entry else "#1f2937"
    return {
        "name": store.get("name") or (entry.name if entry else translations(locale).gettext(YOUR_ORDER)),
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


def _context(view: Any, locale: str) -> dict[str, Any]:
    """What every template of an order's pages reads: the view, the brand, the page's base path, the formats."""
    fmt = _formatter(view, locale)
    return {
        "view": view,
        "brand": _brand(view, locale),
        "base": f"{PAGE_PATH}/{view.token}",
        "fmt": fmt,
        "when": lambda value, day=False: _when(fmt, value, day=day),
    }


def render_order_page(
    view: Any,
    *,
    notice: str | None = None,
    error: str | FormRefused | None = None,
    accept_language: str | None = None,
) -> str:
    """The whole page of one order, in its customer's language. `notice`: what the customer's last answer did;
    `error`: why a form failed (N_-marked msgids, or the FormRefused, translated here)."""
    locale = _view_locale(view, accept_language)
    template = _environment(locale).get_template("order.html")
    return template.render(
        _context(view, locale), map_url=_map_url, notice=_words(locale, notice), error=_words(locale, error)
    )


def render_dispute_details(
    view: Any, shipment_id: str, form_token: str, *, error: str | FormRefused | None = None
) -> str:
    """The second step of "I did not receive it": what happened, and an optional note."""
    locale = _view_locale(view)
    template = _environment(locale).get_template("dispute.html")
    return template.render(
        _context(view, locale), shipment_id=shipment_id, form_token=form_token, error=_words(locale, error)
    )


def render_return_form(
    view: Any,
    *,
    error: str | FormRefused | None = None,
    chosen: frozenset[str] = frozenset(),
    accept_language: str | None = None,
) -> str:
    """The return form of an order: its returnable items, the reason, refund or exchange, a note. `chosen`: the
    items ticked in a post that was refused (the customer does not tick them again)."""
    locale = _view_locale(view, accept_language)
    template = _environment(locale).get_template("return.html")
    return template.render(
        _context(view, locale), form_token=view.return_form_token, error=_words(locale, error), chosen=chosen
    )


def render_message_page(title: str, message: str, *, locale: str = DEFAULT_LOCALE, **params: object) -> str:
    """A page with one message (a link that does not work, a request refused): N_-marked msgids, in `locale`;
    `params` fill the message's %-placeholders (escaped, as everything else)."""
    template = _environment(locale).get_template("message.html")
    return template.render(title=_words(locale, title), message=_words(locale, message, params))


def render_unsubscribe_form(store: str, address: str, *, field: str, value: str, locale: str) -> str:
    """The one-click unsubscribe page's form (handlers.unsubscribe), in `locale`: `address` as the page shows it
    (masked), and the one field a mail client's one-click button posts."""
    template = _environment(locale).get_template("unsubscribe.html")
    return template.render(store=store, address=address, field=field, value=value)
