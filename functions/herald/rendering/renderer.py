"""Rendering an event into the email and SMS a customer receives.

Templates live in `templates/<locale>/<event type>/{subject.txt, body.html, body.txt, sms.txt}` with a
shared `templates/<locale>/base.html`, `base.txt`, `macros.html` and `macros.txt`. A locale folder is
self-contained: inside it, a template names its siblings without the locale ("base.html"), so adding
a language is copying `en-US/` to a new folder and translating it, with no code change.

Two Jinja environments share one loader: HTML with autoescape on (everything a customer or a
storefront typed is escaped), text (subject, body.txt, sms.txt) with autoescape off. Both are built
once per Renderer and cache their compiled templates, so a warm Lambda renders without touching disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    pass_context,
)
from jinja2.runtime import Context
from pydantic_core import to_json

from herald.contract.models import (
    BackorderedData,
    CancelledData,
    DelayedData,
    DeliveredData,
    DeliveryAttemptedData,
    Envelope,
    ExceptionData,
    OrderData,
    ReturnData,
    ShipmentData,
    event_data,
)
from herald.domain.locales import DEFAULT_LOCALE, format_locale, locale_chain
from herald.domain.notification import EmailContent, SmsContent
from herald.domain.policy import policy_for
from herald.domain.storefront import Storefront
from herald.domain.suppression import OPT_OUT_LINE
from herald.rendering.formatting import Formatter, babel_locale, clip, one_line, timezone_named
from herald.rendering.gsm import encoding_of, gsm_friendly, gsm_letters, segment_count, without_symbols
from herald.rendering.links import key_link, map_link

MAX_SMS_SEGMENTS = 2
# The first SMS's opt-out line in a locale's words, beside its base and macros (see Renderer._opt_out_line).
OPT_OUT_FILE = "opt_out.txt"
SUBJECT_MAX_CHARS = 200
DEFAULT_TEMPLATES_ROOT = Path(__file__).resolve().parent / "templates"
# A storefront's own templates (its registry entry's `template_overrides` names a folder here):
# `overrides/<folder>/<locale>/<event type>/<file>`, each replacing the default file of that name. They extend
# the locale's shared base and macros.
DEFAULT_OVERRIDES_ROOT = Path(__file__).resolve().parent / "overrides"
_OVERRIDES = "@overrides"
# The rendered email travels JSON-encoded in one SQS message, which the SQS adapter budgets at 256 KiB with its
# attributes (herald.adapters.sqs_queue.MAX_BATCH_BYTES, the classic SQS limit). The contract
# bounds everything but the item lists to a few KiB, yet a 64 KiB event of 250 items named "&&&..." renders
# to about 390 KB (each "&" is "&amp;" in HTML). Past this budget the item lists are shortened until the
# bodies fit: an email that cannot be queued would be retried until it reached the DLQ.
EMAIL_BODY_MAX_BYTES = 200 * 1024

# What we accept as a support address: it becomes a Reply-To header and a mailto: link, so nothing
# that could add a header, a second recipient or a query (`?cc=`) gets through.
_PLAIN_EMAIL = re.compile(r"^[A-Za-z0-9._+\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
# The free text of an SMS is never cut below this many characters unless nothing else fits.
_CLIP_CEILING = 2000


@dataclass(frozen=True)
class Branding:
    """Who the message is from: the storefront's name, support contacts and logo."""

    name: str
    support_email: str | None
    support_url: str | None
    logo_url: str | None
    primary_colour: str = "#18181b"
    accent_colour: str = "#2563eb"

    @property
    def on_primary(self) -> str:
        """The text colour of a button in the primary colour (readable whatever the storefront chose)."""
        from herald.rendering.colours import text_colour_on

        return text_colour_on(self.primary_colour)


def branding_for(event: Envelope, default_store_name: str, storefront: Storefront | None = None) -> Branding:
    """The event's `data.store` where it says something, else the storefront's registry entry (its name, logo
    and colours), else the deployment's default name."""
    store = event_data(event).store
    name = one_line(store.name) if store is not None and store.name else ""
    support_email = store.support_email if store is not None else None
    if not support_email and storefront is not None:
        support_email = storefront.reply_to
    logo_url = str(store.logo_url) if store is not None and store.logo_url else None
    if logo_url is None and storefront is not None:
        logo_url = storefront.branding.logo_url
    colours = {}
    if storefront is not None:  # only the registry sets colours: they go into style attributes
        colours = {
            "primary_colour": storefront.branding.primary_colour,
            "accent_colour": storefront.branding.accent_colour,
        }
    return Branding(
        name=name or one_line(storefront.name if storefront is not None else default_store_name),
        support_email=support_email if support_email and _PLAIN_EMAIL.match(support_email) else None,
        support_url=str(store.support_url) if store is not None and store.support_url else None,
        logo_url=logo_url,
        **colours,
    )


class _LocaleEnvironment(Environment):
    """An Environment where a bare name in `{% extends %}`/`{% import %}` means "in my locale folder"."""

    def join_path(self, template: str, parent: str) -> str:
        if "/" in template or "/" not in parent:
            return template
        if parent.startswith(f"{_OVERRIDES}/"):  # @overrides/<folder>/<locale>/...: the locale's shared files
            return f"{parent.split('/', 3)[2]}/{template}"
        return f"{parent.split('/', 1)[0]}/{template}"


@pass_context
def _clip_filter(context: Context, value: object, floor: int = 0, keep: int = 0) -> str:
    """`{{ text|clip }}`: free text on one line, fitted to the SMS budget of this render (if any).

    `floor` keeps a field readable (`|clip(30)` for a store name) while the message can fit with it;
    `keep` is never given up (`|clip(keep=20)` for an order number, which the customer needs).
    """
    text = one_line("" if value is None else str(value))
    limit = context.get("clip_limit")
    if limit is None:
        return text
    if not context.get("clip_symbols", True):
        text = " ".join(gsm_letters(without_symbols(text)).split())
    floor = floor if context.get("clip_floors", True) else 0
    return clip(text, max(int(limit), floor, keep))


class Renderer:
    """Renders events with the templates under `templates_root` (the packaged ones by default)."""

    def __init__(self, templates_root: Path | None = None, overrides_root: Path | None = None) -> None:
        root = Path(templates_root) if templates_root is not None else DEFAULT_TEMPLATES_ROOT
        overrides = Path(overrides_root) if overrides_root is not None else DEFAULT_OVERRIDES_ROOT
        loader = FileSystemLoader(str(root))
        override_loader = FileSystemLoader(str(overrides))
        options: dict[str, Any] = {
            "loader": ChoiceLoader([loader, PrefixLoader({_OVERRIDES: override_loader})]),
            "undefined": StrictUndefined,  # a typo in a template fails loudly in tests, not silently in mail
            "trim_blocks": True,
            "lstrip_blocks": True,
            "auto_reload": False,  # templates never change under a running function: skip the stat() calls
            "cache_size": 1000,
        }
        self._html = _LocaleEnvironment(autoescape=True, **options)
        self._text = _LocaleEnvironment(autoescape=False, **options)
        for env in (self._html, self._text):
            env.filters["clip"] = _clip_filter
        self._names = frozenset(loader.list_templates())
        self._override_names = frozenset(
            f"{_OVERRIDES}/{name}" for name in (override_loader.list_templates() if overrides.is_dir() else [])
        )
        self._locales = sorted({name.split("/", 1)[0] for name in self._names if "/" in name})

    def locales(self) -> list[str]:
        """The locale folders found under the templates root."""
        return list(self._locales)

    def email(
        self,
        event: Envelope,
        *,
        from_email: str,
        default_store_name: str,
        storefront: Storefront | None = None,
        page_url: str | None = None,
    ) -> EmailContent:
        branding = branding_for(event, default_store_name, storefront)
        locale = self._locale_for(event, "subject.txt", storefront)
        folder = f"{locale}/{policy_for(event.type).templates}"
        items_shown: int | None = None  # every item
        while True:
            context = self._context(event, branding, locale, items_shown, page_url=page_url)
            html = self._html.get_template(self._named(storefront, folder, "body.html")).render(context)
            text = _tidy_text(self._text.get_template(self._named(storefront, folder, "body.txt")).render(context))
            if items_shown == 0 or len(to_json(html)) + len(to_json(text)) <= EMAIL_BODY_MAX_BYTES:
                break
            items_shown = (_longest_item_list(event_data(event)) if items_shown is None else items_shown) // 2
        subject = self._text.get_template(self._named(storefront, folder, "subject.txt")).render(context)
        return EmailContent(
            subject=one_line(subject, SUBJECT_MAX_CHARS),
            html=html,
            text=text,
            from_email=from_email,
            from_name=(storefront.email_from_name if storefront is not None else None) or branding.name,
            reply_to=branding.support_email,
            locale=locale,
        )

    def sms(
        self,
        event: Envelope,
        *,
        default_store_name: str,
        storefront: Storefront | None = None,
        page_url: str | None = None,
    ) -> SmsContent:
        branding = branding_for(event, default_store_name, storefront)
        locale = self._locale_for(event, "sms.txt", storefront)
        context = self._context(event, branding, locale, page_url=page_url)
        # An SMS has room for one link: the order's page, which holds the tracking link and the proof photo.
        context["link"] = page_url or context["link"]
        folder = f"{locale}/{policy_for(event.type).templates}"
        template = self._text.get_template(self._named(storefront, folder, "sms.txt"))
        body = _fitted_sms(template, context, "")
        # The storefront's first SMS to a number also says how to opt out; which SMS is first is decided when it
        # is sent (usecases.opt_out_notice), so both are rendered here, each fitted to the segment budget.
        first = _fitted_sms(template, context, self._opt_out_line(locale))
        return SmsContent(
            body=body,
            segments=segment_count(body),
            encoding=encoding_of(body),
            opt_out_body=first,
            opt_out_segments=segment_count(first),
        )

    # --- internals ----------------------------------------------------------------------------

    def _named(self, storefront: Storefront | None, folder: str, file_name: str) -> str:
        """The storefront's own version of `folder/file_name` when its override folder has one, else the default."""
        if storefront is not None and storefront.template_overrides:
            name = f"{_OVERRIDES}/{storefront.template_overrides}/{folder}/{file_name}"
            if name in self._override_names:
                return name
        return f"{folder}/{file_name}"

    def _locale_for(self, event: Envelope, file_name: str, storefront: Storefront | None = None) -> str:
        """The first locale folder with this event type's `file_name`, in the order of `locale_chain`. Matching
        ignores case and `_`/`-` (`fr_ca` finds `fr-CA/`); a folder missing one type falls back for that type."""
        folder = policy_for(event.type).templates
        for locale in self.locale_chain(event_data(event).customer.locale, storefront):
            if f"{locale}/{folder}/{file_name}" in self._names:
                return locale
        raise TemplateNotFound(f"{DEFAULT_LOCALE}/{folder}/{file_name}")

    def locale_chain(self, customer_locale: str, storefront: Storefront | None = None) -> list[str]:
        """The locale folders to try, best first (docs/architecture.md, "Locales"; domain.locales.locale_chain,
        the one chain messages, pages and SMS replies share):

        1. the customer's exact tag (`fr-CA`);
        2. its language alone (`fr`), when there is such a folder;
        3. another region of its language (`fr-FR` -> `fr-CA`), the first in alphabetical order;
        4. the storefront's default locale (`Storefront.locale`), by the same three steps: a German customer of a
           Quebec storefront reads French, not English;
        5. en-US.
        """
        return locale_chain(self._locales, customer_locale, storefront.locale if storefront is not None else None)

    @staticmethod
    def _format_locale(customer_locale: str, folder_locale: str) -> str:
        """The locale dates and amounts are formatted in (domain.locales.format_locale)."""
        return format_locale(customer_locale, folder_locale, babel_locale(customer_locale) is not None)

    def _opt_out_line(self, locale: str) -> str:
        """The locale's "Reply STOP to opt out." (`<locale>/opt_out.txt`), else en-US's domain line. STOP stays the
        keyword in every language: it is the word Twilio and domain.suppression act on."""
        name = f"{locale}/{OPT_OUT_FILE}"
        if name not in self._names:
            return OPT_OUT_LINE
        return one_line(self._text.get_template(name).render())

    def _context(
        self,
        event: Envelope,
        branding: Branding,
        locale: str,
        items_shown: int | None = None,
        *,
        page_url: str | None = None,
    ) -> dict[str, Any]:
        """The template variables; with `items_shown`, every item list is cut to that many items."""
        data = _with_items_cut(event_data(event), items_shown) if items_shown is not None else event_data(event)
        proof = data.proof if isinstance(data, DeliveredData) else None
        map_url = None
        if proof is not None and proof.latitude is not None and proof.longitude is not None:
            map_url = map_link(proof.latitude, proof.longitude)
        return {
            "event": event,
            "type": event.type.value,
            "locale": locale,
            "brand": branding,
            "order": data.order,
            "customer": data.customer,
            "fmt": Formatter(
                tz=timezone_named(data.customer.timezone),
                currency=data.order.currency,
                locale=self._format_locale(data.customer.locale, locale),
            ),
            "link": key_link(event),
            "page_url": page_url,  # the order's page on Herald: the email's main button
            "shipment": data.shipment if isinstance(data, ShipmentData) else None,
            "shipped_items": _shipped_items(data),
            "backorder": data.backorder if isinstance(data, BackorderedData) else None,
            "cancellation": data.cancellation if isinstance(data, CancelledData) else None,
            "delay": data.delay if isinstance(data, DelayedData) else None,
            "attempt": data.attempt if isinstance(data, DeliveryAttemptedData) else None,
            "proof": proof,
            "map_url": map_url,
            "exception": data.exception if isinstance(data, ExceptionData) else None,
            "return_": data.return_ if isinstance(data, ReturnData) else None,
            "clip_limit": None,
            "clip_floors": True,
            "clip_symbols": True,
            "compact": False,
        }


def _longest_item_list(data: OrderData) -> int:
    lengths = [len(data.order.items)]
    if isinstance(data, ShipmentData):
        lengths.append(len(data.shipment.items))
    if isinstance(data, BackorderedData):
        lengths.append(len(data.backorder.items))
    if isinstance(data, ReturnData):
        lengths.append(len(data.return_.items))
    return max(lengths)


def _with_items_cut(data: OrderData, limit: int) -> OrderData:
    """`data` with every item list (order, shipment, backorder, return) cut to its first `limit` items."""
    changes: dict[str, Any] = {"order": data.order.model_copy(update={"items": data.order.items[:limit]})}
    if isinstance(data, ShipmentData):
        changes["shipment"] = data.shipment.model_copy(update={"items": data.shipment.items[:limit]})
    if isinstance(data, BackorderedData):
        changes["backorder"] = data.backorder.model_copy(update={"items": data.backorder.items[:limit]})
    if isinstance(data, ReturnData):
        changes["return_"] = data.return_.model_copy(update={"items": data.return_.items[:limit]})
    return data.model_copy(update=changes)


class _Line(NamedTuple):
    sku: str
    name: str | None
    quantity: int


def _shipped_items(data: OrderData) -> list[_Line]:
    """The shipment's lines with the item names of the order (a shipment only carries SKUs)."""
    if not isinstance(data, ShipmentData):
        return []
    names = {item.sku: item.name for item in data.order.items}
    return [_Line(item.sku, names.get(item.sku), item.quantity) for item in data.shipment.items]


@dataclass(frozen=True)
class _SmsMode:
    """How hard an SMS is squeezed: see `_shortest_fitting`."""

    compact: bool = False  # the template leaves out what is nice to have (item names, reasons, labels)
    floors: bool = True  # `|clip(N)` fields keep N characters
    # emoji in free text are kept, and so are its accents GSM-7 lacks (María, not Maria: gsm.gsm_letters)
    symbols: bool = True


# Best first. A compact message with readable names beats a full one whose names are cut to "A...".
_SMS_MODES = (
    (_SmsMode(), _SmsMode(symbols=False)),
    (_SmsMode(compact=True), _SmsMode(compact=True, symbols=False)),
    (_SmsMode(compact=True, floors=False), _SmsMode(compact=True, floors=False, symbols=False)),
)


def _fitted_sms(template: Template, context: dict[str, Any], suffix: str) -> str:
    """The SMS (followed by `suffix`, when given) fitted to MAX_SMS_SEGMENTS."""
    body = _render_sms(template, context, None, _SmsMode(), suffix)
    if segment_count(body) > MAX_SMS_SEGMENTS:
        body = _shortest_fitting(template, context, suffix)
    return body


def _render_sms(
    template: Template, context: dict[str, Any], clip_limit: int | None, mode: _SmsMode, suffix: str = ""
) -> str:
    options = {
        "clip_limit": clip_limit,
        "compact": mode.compact,
        "clip_floors": mode.floors,
        "clip_symbols": mode.symbols,
        "fmt": context["fmt"] if mode.symbols else replace(context["fmt"], gsm=True),
    }
    text = _tidy_text(gsm_friendly(template.render({**context, **options})), blank_lines=False)
    return f"{text} {suffix}" if suffix else text


def _shortest_fitting(template: Template, context: dict[str, Any], suffix: str = "") -> str:
    """The SMS that says the most while fitting MAX_SMS_SEGMENTS.

    Only what the template marks `|clip` (names, reasons, details) is shortened and only what it puts
    under `{% if not compact %}` is left out; links are never touched. The modes are tried best first
    (_SMS_MODES). Within a step, emoji in free text are dropped, and its accented letters GSM-7 lacks
    written without their accent (María -> Maria, boîte -> boite), only when that keeps more text: one
    emoji or one "ó" in a name switches the whole message to UCS-2, 134 characters in two parts instead
    of 306. The templates' own words are GSM-7 in every locale (tests/unit/test_locales.py).
    When nothing fits (a link longer than two segments), the shortest message is returned and its
    real segment count reported.
    """
    for step in _SMS_MODES:
        found = [_largest_budget(template, context, mode, suffix) for mode in step]
        fitting = [result for result in found if result is not None]
        if fitting:
            # max() keeps the first of equals: emoji and accents are only dropped when that buys more text.
            return max(fitting, key=lambda result: result[0])[1]
    return _render_sms(template, context, 0, _SMS_MODES[-1][-1], suffix)


def _largest_budget(
    template: Template, context: dict[str, Any], mode: _SmsMode, suffix: str = ""
) -> tuple[int, str] | None:
    """The largest free-text budget that fits, with its message; None when not even 0 fits.

    A smaller budget never makes a longer message (and can only turn UCS-2 into GSM-7), so the
    fitting budgets are a range starting at 0 and a binary search finds its end.
    """
    best = _render_sms(template, context, 0, mode, suffix)
    if segment_count(best) > MAX_SMS_SEGMENTS:
        return None
    low, high = 0, _CLIP_CEILING
    while low < high:
        middle = (low + high + 1) // 2
        candidate = _render_sms(template, context, middle, mode, suffix)
        if segment_count(candidate) <= MAX_SMS_SEGMENTS:
            low, best = middle, candidate
        else:
            high = middle - 1
    return low, best


def _tidy_text(text: str, *, blank_lines: bool = True) -> str:
    """Strip trailing spaces, squeeze runs of blank lines (or drop them all, for SMS)."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    kept: list[str] = []
    for line in lines:
        if not line and (not blank_lines or not kept or not kept[-1]):
            continue
        kept.append(line if blank_lines else " ".join(line.split()))
    return "\n".join(kept)
