"""The customer's pages in the customer's language: the order page, its dispute step, the message pages and the
one-click unsubscribe page in es-US and fr-CA (gettext catalogs, `rendering/page_locales/`), the chain that picks
the language (the messages' own, domain.locales), Babel's dates and amounts, and the catalogs' completeness.

How to add a page translation: docs/architecture.md, "Locales".
"""

from __future__ import annotations

import gettext
import html
import io
import json
import re
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from tests.storefronts import storefront

from herald.domain.locales import format_locale, locale_chain
from herald.domain.order_page import FormRefused
from herald.domain.returns import Returnable, ReturnReason
from herald.domain.storefront import Storefront
from herald.rendering.order_page import (
    accept_languages,
    page_locale,
    page_locales,
    render_dispute_details,
    render_message_page,
    render_order_page,
    render_return_form,
    render_unsubscribe_form,
    return_reason_words,
    translations,
)
from herald.usecases.order_page import OrderPageView, build_view
from herald.usecases.ports import OrderPageRecord
from herald_tools.page_translations import compiled, extract, missing, read_catalog, translated_locales

TRANSLATED = ("es-US", "fr-CA")
# Words of the English pages that are also words of the translated language (same letters, same meaning).
COGNATES: dict[str, set[str]] = {
    "es-US": {"total"},
    "fr-CA": {"total", "photo", "questions", "article", "page", "note", "message", "site", "confirmations", "minute"},
}
# What the order's data says (names a customer, carrier or storefront typed): not the page's words.
DATA_WORDS = {
    "cascade",
    "mountain",
    "outfitters",
    "ups",
    "tente",
    "ultralight",
    "bottes",
    "porch",
    "front",
    "marie",
    "tremblay",
    "est",
    "hne",
    "utc",
    "pdf",
    "cmo",
    "example",
    "help",
    "sock",
    "one",
    "click",
    "list",
    "unsubscribe",
    "acme",
    "storefront",
}


def _event(event_type: str, time: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": {"S": "event"},
        "event_type": {"S": event_type},
        "event_time": {"S": time},
        "status": {"S": "dispatched"},
        "details": {"S": json.dumps(details)},
    }


def _answer(kind: str, answer: str, reason: str | None, at: str, shipment: str = "shp_1") -> dict[str, Any]:
    item = {
        "kind": {"S": kind},
        "shipment_id": {"S": shipment},
        "answer": {"S": answer},
        "received_at": {"S": at},
    }
    if reason:
        item["reason"] = {"S": reason}
    return item


SHIPMENT = {
    "id": "shp_1",
    "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
}
PROOF = {
    "delivered_at": "2026-11-27T14:03:00Z",
    "location": "Front porch",
    "received_by": "Marie Tremblay",
    "photo_url": "https://pod.example.com/p.jpg",
    "latitude": 45.52,
    "longitude": -73.59,
}


def order_view(
    locale: str | None,
    *,
    store: Storefront | None = None,
    answered: bool = True,
    support: str = "url",
    shipments: int = 1,
) -> OrderPageView:
    """A delivered order with everything the page can show: two estimates, the proof, answers, returns."""
    items = [
        _event(
            "shipment.in_transit",
            "2026-11-24T10:00:00+00:00",
            {"shipment": {**SHIPMENT, "estimated_delivery": "2026-11-26"}},
        ),
        _event(
            "shipment.delayed",
            "2026-11-25T10:00:00+00:00",
            {"shipment": {**SHIPMENT, "estimated_delivery": "2026-11-27"}},
        ),
        _event(
            "shipment.delivered",
            "2026-11-27T14:03:00+00:00",
            {"shipment": {**SHIPMENT, "estimated_delivery": "2026-11-27"}, "proof": PROOF},
        ),
        _event(
            "return.approved",
            "2026-11-28T10:00:00+00:00",
            {
                "return": {
                    "id": "RMA-1",
                    "items": [{"sku": "BOOT", "name": "Bottes", "quantity": 1}],
                    "label_url": "https://labels.example/RMA-1.pdf",
                }
            },
        ),
        _event(
            "return.refunded",
            "2026-11-29T10:00:00+00:00",
            {"return": {"id": "RMA-2", "items": [{"sku": "SOCK", "quantity": 2}], "refund_amount": "24.50"}},
        ),
    ]
    if shipments > 1:
        second = {**SHIPMENT, "id": "shp_2", "tracking_url": None, "estimated_delivery": "2026-11-29"}
        items.append(_event("shipment.out_for_delivery", "2026-11-28T08:00:00+00:00", {"shipment": second}))
    if answered:
        items.append(_answer("delivery_confirmed", "received", None, "2026-11-27T15:00:00+00:00"))
        items.append(_answer("delivery_disputed", "not_received", "wrong_place", "2026-11-27T16:00:00+00:00"))
        items.append(_answer("delivery_disputed", "not_received", None, "2026-11-27T17:00:00+00:00"))
        started = [{"sku": "TENT", "name": "Tente", "quantity": 1}]
        items.append(
            {
                "kind": {"S": "return_started"},
                "return_id": {"S": "ret_1"},
                "items": {"S": json.dumps(started)},
                "resolution": {"S": "exchange"},
            }
        )
    customer: dict[str, Any] = {"timezone": "America/Toronto"}
    if locale is not None:
        customer["locale"] = locale
    store_block: dict[str, Any] = {"name": "Cascade Mountain Outfitters"}
    store_block["support_url" if support == "url" else "support_email"] = (
        "https://cascade.example/help" if support == "url" else "help@cascade.example"
    )
    blocks = {
        "order": {
            "number": "#CMO-58213",
            "currency": "USD",
            "total": "1234.50",
            "placed_at": "2026-11-20T09:03:00Z",
            "items": [{"sku": "TENT", "name": "Tente", "quantity": 1, "unit_price": "1234.50"}],
        },
        "customer": customer,
        "store": store_block,
    }
    view = build_view("t" * 22, OrderPageRecord("storefront/cascade", "ord_1", blocks), items, store)
    for shipment in view.shipments:
        shipment.form_token = "1.abc.def" if shipment.proof else None
    return view


def visible(page: str) -> str:
    """The text a reader sees or hears: the words between tags, and the alt text and title."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    alts = " ".join(re.findall(r'alt="([^"]*)"', page))
    # Runs of ASCII white space only: a no-break space (U+00A0, Babel's) is part of what is shown.
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)) + " " + alts).strip()


def words_of(text: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[^\W\d_]{3,}", re.sub(r"https?://\S+", " ", text))} - DATA_WORDS


def every_page(locale: str | None, store: Storefront | None = None) -> str:
    """Every page the customer can see of an order, with every variant, as visible text."""
    refused = FormRefused("the note is longer than %(limit)s characters", limit=500)
    view = order_view(locale, store=store)
    pages = [
        render_order_page(view, notice="We already have this answer.", error=refused),
        render_order_page(order_view(locale, store=store, answered=False, support="email", shipments=2)),
        render_dispute_details(view, "shp_1", "1.abc.def", error=FormRefused("choose what happened")),
    ]
    # The return form, as offered and as refused, and the order page that offers it (nothing answered yet)
    offering = order_view(locale, store=store, answered=False)
    offering.returnable = [Returnable("TENT", "Tente", 1), Returnable("BOOT", "Bottes", 2)]
    offering.return_form_token = "1.abc.def"
    many = FormRefused("choose how many to return, from 1 to %(most)s", most=2)
    pages += [render_order_page(offering), render_return_form(offering), render_return_form(offering, error=many)]
    offering.returnable = []
    pages.append(render_return_form(offering))  # nothing left to return
    return " ".join(visible(page) for page in pages)


def lang_of(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', page)
    assert found is not None
    return found.group(1)


# --- the catalogs --------------------------------------------------------------------------------------------


def test_the_pages_are_written_in_en_us_es_us_and_fr_ca() -> None:
    assert page_locales() == {"en-US", *TRANSLATED}
    assert translated_locales() == list(TRANSLATED)


@pytest.fixture(scope="module")
def template() -> Catalog:
    """Every msgid of the page templates (`_()`, `{% trans %}`) and of the Python that builds labels (`N_()`)."""
    return extract()


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_msgid_the_pages_use_is_translated(locale: str, template: Catalog) -> None:
    # Given every msgid the pages use
    assert len(template) > 50

    # When the locale's .po is read, Then it translates each of them (the message names the ones it lacks:
    # add them to rendering/page_locales/<locale>/pages.po, then `make translations`)
    lacking = missing(locale, template)
    assert lacking == [], f"{locale}/pages.po has no translation of: " + "; ".join(map(repr, lacking))


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_is_the_one_of_its_po(locale: str) -> None:
    # Given the .po a translator edits, compiled as `make translations` does
    fresh = gettext.GNUTranslations(io.BytesIO(compiled(locale)))
    # When each of its messages is looked up in the committed .mo the page reads, Then the words are the same
    stale = [m.id for m in read_catalog(locale) if m.id and translations(locale).gettext(m.id) != fresh.gettext(m.id)]
    assert stale == [], f"{locale}/pages.mo is older than its .po: run `make translations` ({stale[:3]})"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_each_translation_keeps_its_msgids_placeholders_and_says_it_in_other_words(locale: str) -> None:
    for message in read_catalog(locale):
        if not message.id:
            continue
        msgid, msgstr = str(message.id), str(message.string)
        # Then a placeholder the page fills is in the translation (a missing one would fail the render), and no other
        assert set(re.findall(r"%\((\w+)\)s", msgstr)) == set(re.findall(r"%\((\w+)\)s", msgid)), msgid
        # And it holds no markup nor quote: the page trusts a catalog's words as it trusts its templates' (Jinja's
        # gettext marks them safe; only the values filling placeholders are escaped), and `alt="..."` holds one
        assert not set(msgstr) & set('<>"&'), msgid
        # And it is a translation, not the English left in place: no English word but those both languages share
        placeholders = set(re.findall(r"%\((\w+)\)s", msgid))
        shared = words_of(re.sub(r"%\(\w+\)s", " ", msgid)) & words_of(re.sub(r"%\(\w+\)s", " ", msgstr))
        assert shared - COGNATES[locale] - placeholders == set(), (msgid, msgstr)


# --- the pages in each language ------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", TRANSLATED)
def test_no_english_is_left_on_the_pages_of_a_translated_order(locale: str) -> None:
    # Given every variant of an order's pages in en-US: its words, beyond the order's data, are the pages' English
    english = words_of(every_page("en-US"))
    assert {"order", "delivery", "received", "estimated", "history", "returns", "happened"} <= english

    # When the same pages are rendered for a customer of the translated locale
    shown = words_of(every_page(locale))

    # Then none of the English is left, but for words both languages share
    assert (shown & english) - COGNATES[locale] == set()


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_pages_say_their_language_and_leave_no_placeholder(locale: str) -> None:
    view = order_view(locale)
    pages = [
        render_order_page(view),
        render_dispute_details(view, "shp_1", "1.abc.def"),
        render_message_page("This link does not work", "This request is too large.", locale=locale),
        render_unsubscribe_form(
            "storefront/cascade", "j***@example.com", field="List-Unsubscribe", value="One-Click", locale=locale
        ),
    ]
    for page in pages:
        # Then <html lang> is the page's language (axe: a valid lang; screen readers read it in that voice)
        assert lang_of(page) == locale
        assert "%(" not in page
        assert not re.search(r"\{\{|\}\}|\{%|%\}", page)


@pytest.mark.parametrize(
    ("locale", "placed", "delivered", "total"),
    [
        (
            "en-US",
            "Friday, November 20, 2026, 4:03\xa0AM EST",
            "Friday, November 27, 2026, 9:03\xa0AM EST",
            "$1,234.50",
        ),
        (
            "es-US",
            "viernes, 20 de noviembre de 2026, 4:03\xa0a.m. EST",
            "Entregado el viernes, 27 de noviembre",
            "$1,234.50",
        ),
        (
            "fr-CA",
            "vendredi 20 novembre 2026, 04 h 03 HNE",
            "Livré le vendredi 27 novembre 2026",
            "1\xa0234,50\xa0$\xa0US",
        ),
    ],
)
def test_dates_times_and_amounts_on_the_page_are_babels_in_its_language(
    locale: str, placed: str, delivered: str, total: str
) -> None:
    # Given an order placed at 09:03 UTC by a customer in Toronto, When its page is rendered in the customer's locale
    text = visible(render_order_page(order_view(locale)))
    # Then the dates, times and amount are written as CLDR writes them in that locale, in the customer's zone
    assert placed in text
    assert delivered in text
    assert total in text


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en-US", "It doesn't fit"), ("es-US", "No me queda bien"), ("fr-CA", "La taille ne convient pas")],
)
def test_a_started_returns_reason_is_told_in_the_customers_language(locale: str, words: str) -> None:
    # Given an order of a customer in `locale`, When the reason of the return they start is put into words
    # Then it is the page's words in their language: the return.requested event carries them to their email
    assert return_reason_words(order_view(locale), ReturnReason.DOES_NOT_FIT) == words


def test_a_refused_form_says_why_in_the_customers_language() -> None:
    refused = FormRefused("the note is longer than %(limit)s characters", limit=500)
    assert str(refused) == "the note is longer than 500 characters"  # the log's words
    text = visible(render_order_page(order_view("fr-CA"), error=refused))
    assert "la note dépasse 500 caractères" in text


# --- which language ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "store_locale", "expected"),
    [
        ("fr-CA", None, "fr-CA"),
        ("fr_ca", None, "fr-CA"),
        ("fr-FR", None, "fr-CA"),  # another region of the language
        ("es-MX", None, "es-US"),
        ("de-DE", None, "en-US"),  # no German, no storefront entry
        ("de-DE", "fr-CA", "fr-CA"),  # the storefront's default
        ("de-DE", "es", "es-US"),
        (None, "fr", "fr-CA"),  # an order recorded without a locale
        ("en-US", "fr-CA", "en-US"),
    ],
)
def test_the_page_picks_its_language_as_messages_do(
    customer: str | None, store_locale: str | None, expected: str
) -> None:
    # Given an order of a customer of this locale, and maybe a storefront entry with a default locale
    store = storefront("storefront/cascade", locale=store_locale) if store_locale else None

    # When its pages are rendered
    view = order_view(customer, store=store)
    order, dispute = render_order_page(view), render_dispute_details(view, "shp_1", "1.abc.def")

    # Then both are in the expected language, by the same chain as the emails (domain.locales)
    assert lang_of(order) == lang_of(dispute) == expected
    assert locale_chain(["en-US", "es-US", "fr-CA"], customer, store_locale)[0] == expected


def test_a_french_customer_of_france_reads_canadian_french_words_with_frances_formats() -> None:
    # Given a fr-FR customer, When the page is rendered, Then its words are fr-CA's and its formats France's
    text = visible(render_order_page(order_view("fr-FR")))
    assert "Votre commande" not in text  # the store's name is shown
    assert "Passée le vendredi 20 novembre 2026" in text
    assert "04:03" in text  # France's clock, not Quebec's "04 h 03"
    assert format_locale("fr-FR", "fr-CA", known=True) == "fr-FR"
    assert format_locale("de-DE", "en-US", known=True) == "en-US"


def test_the_browsers_language_is_the_fallback_where_there_is_no_order_to_speak_of() -> None:
    # Given Accept-Language headers, When read, Then their tags come most wanted first, `*` and q=0 left out
    assert accept_languages("de-DE,fr;q=0.8, es-MX;q=0.9,*;q=0.1,en;q=0") == ["de-DE", "es-MX", "fr"]
    assert accept_languages("fr;q=x,es") == ["es"]
    assert accept_languages(None) == []
    # And the page's locale follows them among the pages' languages: de-DE has none, es-MX reads es-US
    assert page_locale(*accept_languages("de-DE,es-MX;q=0.9,fr;q=0.8")) == "es-US"
    assert page_locale(*accept_languages("it")) == "en-US"
    # And an order's own locale comes first: the browser's is only where the order names none Herald has
    view = order_view("fr-CA")
    assert lang_of(render_order_page(view, accept_language="es-US")) == "fr-CA"
    assert lang_of(render_order_page(order_view("de-DE"), accept_language="es-US,en;q=0.5")) == "es-US"


def test_a_message_page_is_written_in_the_locale_it_is_given() -> None:
    page = render_message_page(
        "This link does not work",
        "This order link is not valid or has expired. The latest message about your order has a new one.",
        locale="es-US",
    )
    assert "Este enlace no funciona" in visible(page)
    assert lang_of(page) == "es-US"


def test_the_unsubscribe_page_escapes_and_translates() -> None:
    page = render_unsubscribe_form(
        "storefront/<x>", "j***@example.com", field="List-Unsubscribe", value="One-Click", locale="fr-CA"
    )
    assert "Se désabonner" in page
    assert "storefront/&lt;x&gt;" in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page


# --- the unsubscribe link carries its email's language -------------------------------------------------------


def test_an_email_says_which_locale_its_words_are_in() -> None:
    from tests.unit.test_locales import email_of, sample

    from herald.contract.models import EventType
    from herald.rendering.renderer import Renderer

    renderer = Renderer()
    # Given a fr-FR customer (fr-CA words) and a German one (en-US words), When their emails are rendered
    french = email_of(renderer, sample(EventType.ORDER_BACKORDERED, "en-US", locale="fr-FR"))
    german = email_of(renderer, sample(EventType.ORDER_BACKORDERED, "en-US", locale="de-DE"))
    # Then each records the folder its words came from: what its unsubscribe link will carry
    assert (french.locale, german.locale) == ("fr-CA", "en-US")


def test_the_unsubscribe_token_seals_the_emails_locale() -> None:
    from herald.webhooks.unsubscribe_token import UnsubscribeTokens

    tokens = UnsubscribeTokens(["u" * 40], lifetime_seconds=3600)
    # Given a token issued for an email written in es-US, one without a locale, and one with a locale that is no tag
    spanish = tokens.issue("storefront/cascade", "email", "a@example.com", locale="es-US")
    none = tokens.issue("storefront/cascade", "email", "a@example.com")
    odd = tokens.issue("storefront/cascade", "email", "a@example.com", locale="<script>")
    # When verified, Then the grant says the email's language only when it was a tag's shape
    assert tokens.verify(spanish).locale == "es-US"
    assert tokens.verify(none).locale is None
    assert tokens.verify(odd).locale is None
    # And the locale is sealed like the rest: the token shows neither the address nor the language
    assert "es-US" not in spanish
