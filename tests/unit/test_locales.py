"""The customer's language: every type in en-US, es-US and fr-CA, Babel's formats, the fallback chain, SMS segments.

The chain and how to add a locale are in docs/architecture.md ("Locales"); the choices in docs/decisions.md.
"""

from __future__ import annotations

import copy
import html
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.storefronts import storefront

from herald.contract.models import HERALD_EVENT_ADAPTER, Envelope, EventType
from herald.domain.notification import EmailContent, SmsContent
from herald.domain.storefront import Storefront
from herald.domain.suppression import OPT_OUT_LINE
from herald.rendering.formatting import Formatter, timezone_named
from herald.rendering.gsm import encoding_of, segment_count
from herald.rendering.renderer import MAX_SMS_SEGMENTS, Renderer

TEMPLATES = Path(__file__).resolve().parents[2] / "functions" / "herald" / "rendering" / "templates"
LOCALES = ("en-US", "es-US", "fr-CA")
TRANSLATED = ("es-US", "fr-CA")
FROM = "orders@herald.example"
STATUS_URL = "https://cascade.example/orders/58213?token=Jx9s&view=full"
TRACKING_URL = "https://www.ups.com/track?tracknum=1Z999AA10123456784"
PHOTO_URL = "https://pod.example.com/photos/1Z999AA10123456784.jpg"
PORTAL_URL = "https://returns.cascade.example/r/RMA-4471"
LABEL_URL = "https://labels.cascade.example/RMA-4471.pdf"
PAGE_URL = "https://herald.example/o/Zk3q9TtP"  # the order's page (issue 11 §1): every message's main link


# --- realistic data: what a storefront serving each language would publish -------------------------------------

# The free text a storefront or carrier types, in the customer's language (names with their accents).
TEXTS: dict[str, dict[str, str]] = {
    "en-US": {
        "name": "Alexandra Whitfield-Montgomery",
        "tent": "Ultralight two-person backpacking tent",
        "socks": "Merino wool hiking socks (3 pairs)",
        "boots": "Waterproof leather hiking boots",
        "backorder": "Our supplier is out of stock until next week",
        "cancellation": "Cancelled at your request",
        "delay": "A snowstorm closed the Denver sorting hub",
        "attempt": "Nobody was home to sign for the package",
        "location": "Front porch, behind the planter",
        "exception": "The box was crushed at the local depot",
        "return": "Too small, I need one size up",
    },
    "es-US": {
        "name": "María Fernanda Castillo Rodríguez",
        "tent": "Tienda de campaña ultraligera para dos personas",
        "socks": "Calcetines de lana merino para senderismo (3 pares)",
        "boots": "Botas de montaña de cuero impermeables",
        "backorder": "Nuestro proveedor se quedó sin existencias hasta la próxima semana",
        "cancellation": "Cancelado a petición suya",
        "delay": "Una tormenta de nieve cerró el centro de distribución de Denver",
        "attempt": "No había nadie en casa para firmar",
        "location": "Porche delantero, detrás de la maceta",
        "exception": "La caja llegó aplastada al almacén local",
        "return": "Me quedan chicas, necesito una talla más",
    },
    "fr-CA": {
        "name": "Marie-Ève Tremblay-Gagnon",
        "tent": "Tente ultralégère de randonnée pour deux personnes",
        "socks": "Bas de randonnée en laine mérinos (3 paires)",
        "boots": "Bottes de randonnée en cuir imperméables",
        "backorder": "Notre fournisseur est en rupture de stock jusqu'à la semaine prochaine",
        "cancellation": "Annulée à votre demande",
        "delay": "Une tempête de neige a fermé le centre de tri de Montréal",
        "attempt": "Personne n'était à la maison pour signer",
        "location": "Galerie avant, derrière la jardinière",
        "exception": "La boîte a été écrasée au dépôt local",
        "return": "Trop petites, il me faut une pointure de plus",
    },
}
# Names a storefront types that are words of no language: the test of leftover English ignores them.
PROPER_NAMES = {"cascade", "mountain", "outfitters", "ups", "est", "utc"}  # and time zone abbreviations


def event_dict(event_type: EventType, locale: str, texts: dict[str, str] | None = None) -> dict[str, Any]:
    """A complete event of `event_type` for a customer of `locale`, with realistic, long free text."""
    t = texts if texts is not None else TEXTS[locale]
    shipment = {
        "id": "shp_58213_1",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": TRACKING_URL,
        "items": [{"sku": "TENT-2P-UL", "quantity": 1}, {"sku": "SOCK-MER-3", "quantity": 2}],
        "estimated_delivery": "2026-12-04",
        "previous_estimated_delivery": "2026-12-01",
    }
    return_ = {
        "id": "RMA-4471",
        "items": [{"sku": "BOOT-WP-9", "name": t["boots"], "quantity": 1}],
        "reason": t["return"],
        "portal_url": PORTAL_URL,
        "label_url": LABEL_URL,
    }
    extra: dict[EventType, dict[str, Any]] = {
        EventType.ORDER_PLACED: {},
        EventType.ORDER_BACKORDERED: {
            "backorder": {
                "items": [{"sku": "TENT-2P-UL", "name": t["tent"], "quantity": 1}],
                "reason": t["backorder"],
                "estimated_ship_date": "2026-12-10",
            }
        },
        EventType.ORDER_CANCELLED: {"cancellation": {"reason": t["cancellation"], "refund_amount": "412.5"}},
        EventType.SHIPMENT_CREATED: {"shipment": shipment},
        EventType.SHIPMENT_IN_TRANSIT: {"shipment": shipment},
        EventType.SHIPMENT_DELAYED: {"shipment": shipment, "delay": {"reason": "weather", "detail": t["delay"]}},
        EventType.SHIPMENT_OUT_FOR_DELIVERY: {"shipment": shipment},
        EventType.SHIPMENT_DELIVERY_ATTEMPTED: {
            "shipment": shipment,
            "attempt": {"reason": t["attempt"], "next_attempt_at": "2026-12-02T17:00:00Z"},
        },
        EventType.SHIPMENT_DELIVERED: {
            "shipment": shipment,
            "proof": {
                "delivered_at": "2026-12-01T19:30:00Z",
                "photo_url": PHOTO_URL,
                "latitude": 45.5019,
                "longitude": -73.5674,
                "location": t["location"],
                "received_by": "M. Castillo",
            },
        },
        EventType.SHIPMENT_EXCEPTION: {
            "shipment": shipment,
            "exception": {"kind": "damaged", "detail": t["exception"]},
        },
        EventType.RETURN_REQUESTED: {"return": return_},
        EventType.RETURN_APPROVED: {"return": return_},
        EventType.RETURN_RECEIVED: {"return": return_},
        EventType.RETURN_REFUNDED: {"return": {**return_, "refund_amount": "189.99"}},
        EventType.RETURN_DECLINED: {"return": return_},
        EventType.RETURN_CLOSED: {"return": return_},
    }
    return {
        "specversion": "1.0",
        "id": f"evt_{event_type.value}_{locale}",
        "source": "storefront/cascade-mountain",
        "type": event_type.value,
        "time": "2026-11-27T14:03:11Z",
        "data": {
            "order": {
                "id": "ord_58213",
                "number": "#CMO-58213",
                "placed_at": "2026-11-27T14:03:11Z",
                "currency": "USD",
                "total": "412.5",
                "status_url": STATUS_URL,
                "items": [
                    {"sku": "TENT-2P-UL", "name": t["tent"], "quantity": 1, "unit_price": "389.95"},
                    {"sku": "SOCK-MER-3", "name": t["socks"], "quantity": 2, "unit_price": "11.275"},
                ],
            },
            "customer": {
                "name": t["name"],
                "email": "customer@example.com",
                "phone": "+15005550006",
                "sms_consent": True,
                "locale": locale,
                "timezone": "America/Toronto" if locale == "fr-CA" else "America/New_York",
            },
            "store": {
                "name": "Cascade Mountain Outfitters",
                "support_email": "help@cascade.example",
                "support_url": "https://cascade.example/help",
            },
            **copy.deepcopy(extra[event_type]),
        },
    }


def build(document: dict[str, Any]) -> Envelope:
    return HERALD_EVENT_ADAPTER.validate_python(document)


def sample(event_type: EventType, texts_locale: str, **customer: Any) -> Envelope:
    """The realistic event of `texts_locale` (its texts, and its customer locale unless `customer` says another)."""
    document = event_dict(event_type, texts_locale)
    document["data"]["customer"].update(customer)
    return build(document)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def email_of(
    renderer: Renderer, event: Envelope, store: Storefront | None = None, page_url: str | None = None
) -> EmailContent:
    return renderer.email(event, from_email=FROM, default_store_name="Our store", storefront=store, page_url=page_url)


def sms_of(
    renderer: Renderer, event: Envelope, store: Storefront | None = None, page_url: str | None = None
) -> SmsContent:
    return renderer.sms(event, default_store_name="Our store", storefront=store, page_url=page_url)


def visible(markup: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", markup).split()))


def words_of(text: str) -> set[str]:
    """The words of `text` (three letters or more, lower case), links left out."""
    return {word.lower() for word in re.findall(r"[^\W\d_]{3,}", re.sub(r"https://\S+", " ", text))}


# --- every type in every locale --------------------------------------------------------------------------------


def test_the_packaged_locales_are_en_us_es_us_and_fr_ca(renderer: Renderer) -> None:
    # Given the packaged templates, When asked for its locales, Then the three of issue 11 are there
    assert renderer.locales() == sorted(LOCALES)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_folder_has_every_file_of_en_us(locale: str) -> None:
    # Given en-US's files (layout, macros, opt-out line and the four files of every type)
    expected = sorted(str(p.relative_to(TEMPLATES / "en-US")) for p in (TEMPLATES / "en-US").rglob("*") if p.is_file())
    assert len(expected) == 5 + 4 * len(EventType)

    # When the locale's folder is listed, Then it has exactly the same files
    found = sorted(str(p.relative_to(TEMPLATES / locale)) for p in (TEMPLATES / locale).rglob("*") if p.is_file())
    assert found == expected


_STRUCTURE = re.compile(
    r"\{%-?\s*(?:block\s+\w+|extends\s+\S+|import\s+[^%]+|macro\s+\w+)"  # blocks, layout, imports, macros
    r"|\b(?:ui|words)\.[a-z_]+\("  # the macros each template calls
    r"|\b(?:fmt)\.[a-z_]+\("  # the formats it asks for
)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_a_translation_keeps_the_structure_of_en_us(locale: str) -> None:
    # Given every template of en-US and of the translated folder
    for path in sorted((TEMPLATES / "en-US").rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(TEMPLATES / "en-US")
        english = path.read_text(encoding="utf-8")
        translated = (TEMPLATES / locale / name).read_text(encoding="utf-8")

        # When their blocks, imports, macro definitions and calls are listed, Then they are the same: only
        # words and formats differ (a translation may phrase a moment as `fmt.moment` or day and time)
        def shape(text: str) -> set[str]:
            found = {" ".join(m.split()) for m in _STRUCTURE.findall(text)}
            return {m for m in found if not m.startswith("fmt.")}

        assert shape(translated) == shape(english), str(name)
        uses_moment = {"fmt.moment(", "fmt.day(", "fmt.time("}
        assert {m for m in _STRUCTURE.findall(translated) if m.startswith("fmt.")} - uses_moment <= {
            m for m in _STRUCTURE.findall(english) if m.startswith("fmt.")
        }, str(name)


@pytest.mark.parametrize("locale", TRANSLATED)
@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_every_type_renders_in_the_customers_language(renderer: Renderer, locale: str, event_type: EventType) -> None:
    # Given an event of this type for a customer of this locale, and the same event for an en-US customer
    event = sample(event_type, locale)
    english = sample(event_type, locale, locale="en-US")

    # When both are rendered as an email and an SMS
    email, sms = email_of(renderer, event), sms_of(renderer, event)
    en_email, en_sms = email_of(renderer, english), sms_of(renderer, english)

    # Then every part differs from the English one, says the order number and has no template left in it
    assert email.subject != en_email.subject
    assert email.text != en_email.text
    assert visible(email.html) != visible(en_email.html)
    assert sms.body != en_sms.body
    assert f'<html lang="{locale}">' in email.html
    for part in (email.subject, email.html, email.text, sms.body, sms.opt_out_body or ""):
        assert "#CMO-58213" in part
        assert not re.search(r"\{\{|\}\}|\{%|%\}|\{#|#\}", part)
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", part.split("://")[0]), part  # no snake_case code shown


# Words of English templates that are also words of the translated language (the same letters, the same meaning).
COGNATES: dict[str, set[str]] = {
    "es-US": {"total", "original"},
    "fr-CA": {"total", "photo", "transit", "stock", "questions", "question", "page"},
}


@pytest.mark.parametrize("locale", TRANSLATED)
@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_no_english_is_left_in_a_translation(renderer: Renderer, locale: str, event_type: EventType) -> None:
    # Given an event whose free text is in English (so its words can be told from the templates'), rendered for
    # an en-US customer, with and without the order page's link: the English words of the templates are what it
    # says beyond that free text
    document = event_dict(event_type, "en-US", TEXTS["en-US"])
    data_words = words_of(" ".join(_strings(document["data"]))) | PROPER_NAMES
    en_email = email_of(renderer, build(document))
    en_sms = sms_of(renderer, build(document))
    en_paged = email_of(renderer, build(document), page_url=PAGE_URL)
    english = (
        words_of(" ".join([en_email.subject, visible(en_email.html), en_email.text, en_sms.body, en_paged.text]))
        - data_words
    )

    # When the same event is rendered for a customer of the translated locale
    document["data"]["customer"]["locale"] = locale
    email = email_of(renderer, build(document))
    sms = sms_of(renderer, build(document))
    paged = email_of(renderer, build(document), page_url=PAGE_URL)
    shown = words_of(
        " ".join([email.subject, visible(email.html), email.text, sms.body, sms.opt_out_body or ""])
        + " ".join([visible(paged.html), paged.text])
    )

    # Then none of the templates' English words is in it, but for words both languages share
    assert (shown & english) - COGNATES[locale] == set()


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


# --- dates, times and amounts by Babel ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "facts"),
    [
        (
            "en-US",
            [
                "Tuesday, December 1, 2026 at 2:30\xa0PM EST",  # delivered
                "Friday, December 4, 2026",  # estimate
                "$389.95",
                "$11.28",  # 11.275 rounded half up
                "Total: $412.50",
            ],
        ),
        (
            "es-US",
            [
                "martes, 1 de diciembre de 2026, 2:30\xa0p.m. EST",
                "viernes, 4 de diciembre de 2026",
                "$389.95",
                "$11.28",
                "Total: $412.50",
            ],
        ),
        (
            "fr-CA",
            [
                "mardi 1 décembre 2026 à 14 h 30 HNE",  # 24-hour clock, Quebec's zone name
                "vendredi 4 décembre 2026",
                "389,95\xa0$\xa0US",
                "11,28\xa0$\xa0US",
                "Total : 412,50\xa0$\xa0US",
            ],
        ),
    ],
)
def test_dates_times_and_amounts_are_written_as_the_locale_writes_them(
    renderer: Renderer, locale: str, facts: list[str]
) -> None:
    # Given the order, its shipment and its delivery for a customer of this locale
    placed = email_of(renderer, sample(EventType.ORDER_PLACED, locale)).text
    shipped = email_of(renderer, sample(EventType.SHIPMENT_CREATED, locale)).text
    delivered = email_of(renderer, sample(EventType.SHIPMENT_DELIVERED, locale)).text

    # When their emails are read, Then each date, time and amount is in the locale's own format
    for fact in facts:
        assert fact in placed + shipped + delivered, fact


def test_fr_ca_writes_canadian_dollars_as_quebec_does(renderer: Renderer) -> None:
    # Given a Quebec order in Canadian dollars
    document = event_dict(EventType.RETURN_REFUNDED, "fr-CA")
    document["data"]["order"]["currency"] = "CAD"
    document["data"]["return"]["refund_amount"] = "12.5"

    # When its refund is rendered
    email = email_of(renderer, build(document))
    sms = sms_of(renderer, build(document))

    # Then the amount is "12,50 $" (no-break space in the email, a plain one in the GSM-7 SMS)
    assert email.subject == "Remboursement de 12,50 $ pour la commande #CMO-58213"  # a subject is one plain line
    assert "12,50\xa0$" in email.text
    assert "12,50 $ pour" in sms.body
    assert sms.encoding == "GSM-7"


@pytest.mark.parametrize(
    ("locale", "currency", "amount", "shown"),
    [
        ("en-US", "USD", "1234.5", "$1,234.50"),
        ("en-US", "SEK", "99.999", "SEK\xa0100.00"),  # CLDR's currency spacing: a code never touches the digits
        ("en-US", "JPY", "1500.4", "¥1,500"),  # no minor units
        ("es-US", "USD", "-5", "-$5.00"),
        ("es-US", "EUR", "12", "EUR\xa012.00"),
        ("fr-CA", "USD", "12.5", "12,50\xa0$\xa0US"),
        ("fr-CA", "CAD", "1234.5", "1\xa0234,50\xa0$"),
        ("fr-CA", "EUR", "0.005", "0,01\xa0€"),  # half up, as a bill rounds
        ("fr-CA", None, "7.1", "7,10"),
    ],
)
def test_amounts_follow_the_locale_and_the_currency(locale: str, currency: str | None, amount: str, shown: str) -> None:
    # Given an amount in this currency for this locale, When formatted, Then it reads as that locale writes money
    assert Formatter(tz=UTC, currency=currency, locale=locale).money(amount) == shown


@pytest.mark.parametrize(
    ("locale", "zone", "shown"),
    [
        ("en-US", "America/Los_Angeles", "11:30\xa0AM PST"),
        ("es-US", "America/Chicago", "1:30\xa0p.m. CST"),
        ("fr-CA", "America/Toronto", "14 h 30 HNE"),
        ("fr-CA", "America/Vancouver", "11 h 30 HNP"),
        ("en-US", "Asia/Tokyo", "4:30\xa0AM GMT+09:00"),  # no abbreviation in CLDR: the locale's offset format
        ("fr-CA", "Europe/Paris", "20 h 30 UTC+01:00"),
        ("en-US", None, "7:30\xa0PM UTC"),
    ],
)
def test_a_time_says_its_zone_in_the_locales_words(locale: str, zone: str | None, shown: str) -> None:
    # Given 19:30 UTC for a customer in this zone, When the time is formatted, Then it is local and says its zone
    formatter = Formatter(tz=timezone_named(zone), currency=None, locale=locale)
    assert formatter.time(datetime(2026, 12, 1, 19, 30, tzinfo=UTC)) == shown


def test_an_unknown_format_locale_formats_as_en_us() -> None:
    # Given a locale tag Babel has no data for, When a day is formatted, Then it is en-US's format
    assert Formatter(tz=UTC, currency="USD", locale="xx-YY").day(date(2026, 12, 4)) == "Friday, December 4, 2026"


# --- the fallback chain -------------------------------------------------------------------------------------------

SUBJECTS = {
    "en-US": "Your Cascade Mountain Outfitters order #CMO-58213 is confirmed",
    "es-US": "Su pedido #CMO-58213 de Cascade Mountain Outfitters está confirmado",
    "fr-CA": "Votre commande #CMO-58213 chez Cascade Mountain Outfitters est confirmée",
}


@pytest.mark.parametrize(
    ("customer_locale", "store_locale", "expected"),
    [
        # 1. the customer's exact tag (case and separator do not matter)
        ("es-US", "en", "es-US"),
        ("fr-CA", "es-US", "fr-CA"),
        ("FR-ca", "en", "fr-CA"),
        # 2-3. the customer's language: its own folder (tests/unit/test_rendering.py), else another region
        ("es-MX", "en", "es-US"),
        ("es", "fr-CA", "es-US"),
        ("fr-FR", "es-US", "fr-CA"),
        ("en-GB", "fr-CA", "en-US"),  # the customer's language wins over the storefront's
        # 4. a language without templates: the storefront's default locale, by the same steps
        ("de-DE", "fr-CA", "fr-CA"),
        ("pt-BR", "es", "es-US"),
        ("ja", "es_US", "es-US"),
        ("de-DE", "fr-FR", "fr-CA"),
        # 5. neither: en-US
        ("de-DE", "en", "en-US"),
        ("de-DE", "it", "en-US"),
    ],
)
def test_the_locale_falls_back_from_the_customer_to_the_storefront_to_en_us(
    renderer: Renderer, customer_locale: str, store_locale: str, expected: str
) -> None:
    # Given a customer of this locale buying from a storefront whose registry entry names this default locale
    event = sample(EventType.ORDER_PLACED, "en-US", locale=customer_locale)
    store = storefront("storefront/cascade-mountain", locale=store_locale)

    # When the email and SMS are rendered with the storefront's entry
    email = email_of(renderer, event, store)
    sms = sms_of(renderer, event, store)

    # Then both are in the expected locale
    assert email.subject == SUBJECTS[expected]
    assert f'<html lang="{expected}">' in email.html
    assert sms.body.startswith(
        {"en-US": "Cascade Mountain Outfitters: Thanks", "es-US": "Cascade Mountain Outfitters: ¡Gracias"}.get(
            expected, "Cascade Mountain Outfitters: Merci"
        )
    )


def test_without_a_storefront_entry_an_unknown_language_reads_en_us(renderer: Renderer) -> None:
    # Given a German customer and no registry entry, When rendered, Then the message is en-US's
    assert email_of(renderer, sample(EventType.ORDER_PLACED, "en-US", locale="de-DE")).subject == SUBJECTS["en-US"]


def test_the_chain_lists_each_step_once(renderer: Renderer) -> None:
    # Given a Mexican customer of a Quebec storefront, When the chain is asked for, Then it is es, fr, en
    store = storefront(locale="fr")
    assert renderer.locale_chain("es-MX", store) == ["es-US", "fr-CA", "en-US"]
    assert renderer.locale_chain("en-US", store) == ["en-US", "fr-CA"]
    assert renderer.locale_chain("de-AT", None) == ["en-US"]


def test_a_storefront_folder_without_a_type_falls_back_to_the_next_step(tmp_path: Path) -> None:
    # Given templates where fr-CA lacks shipment.created (a storefront translating one type at a time)
    import shutil

    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES, root)
    shutil.rmtree(root / "fr-CA" / "shipment.created")
    renderer = Renderer(root)
    store = storefront(locale="fr-CA")

    # When a German customer of a Quebec storefront gets an order and a shipment notice
    placed = email_of(renderer, sample(EventType.ORDER_PLACED, "en-US", locale="de-DE"), store)
    shipped = email_of(renderer, sample(EventType.SHIPMENT_CREATED, "en-US", locale="de-DE"), store)

    # Then the order is in French and the shipment, which has no French template, in English
    assert placed.subject == SUBJECTS["fr-CA"]
    assert shipped.subject == "Your Cascade Mountain Outfitters order #CMO-58213 has shipped"


@pytest.mark.parametrize(
    ("customer_locale", "words_in", "formatted"),
    [
        ("es-MX", "su pedido", "USD\xa0412.50"),  # es-US words, Mexico's way of writing US dollars
        ("en-GB", "your order", "Friday, 27 November 2026 at 14:03 GMT"),  # en-US words, British dates, 24 h
        ("fr-FR", "votre commande", "412,50\xa0$US"),  # fr-CA words, France's way of writing US dollars
        ("de-DE", "your order", "Friday, November 27, 2026 at 9:03\xa0AM EST"),  # no German in an English sentence
    ],
)
def test_formats_follow_the_customer_when_they_read_its_language(
    renderer: Renderer, customer_locale: str, words_in: str, formatted: str
) -> None:
    # Given a customer whose exact locale has no folder
    document = event_dict(EventType.ORDER_PLACED, "en-US")
    document["data"]["customer"]["locale"] = customer_locale
    if customer_locale == "en-GB":
        document["data"]["customer"]["timezone"] = "Europe/London"

    # When the order is rendered
    text = email_of(renderer, build(document)).text

    # Then the words are the closest folder's and the formats the customer's own, when it is the same language
    assert words_in in text.lower()
    assert formatted in text


# --- SMS: GSM-7 where the language allows, segments counted where it does not -------------------------------------

# (encoding, segments) of each type's SMS with the realistic data above: a 27-character store name, long customer
# and item names, a reason or detail in the customer's language. The templates' own words are GSM-7 in every locale
# (test_the_templates_own_words_keep_every_sms_in_gsm7); the customer's data brings á í ó ú ê î ô (María, Marie-Ève,
# "quedó", "boîte"), which the fitter writes without their accent where that keeps more of the text (a single "ó"
# would make the whole SMS UCS-2: 134 characters in two parts instead of 306). Where the data is short enough an SMS
# is one segment; none is ever more than MAX_SMS_SEGMENTS.
SEGMENTS: dict[str, dict[EventType, tuple[str, int]]] = {
    "en-US": {
        EventType.ORDER_PLACED: ("GSM-7", 2),
        EventType.ORDER_BACKORDERED: ("GSM-7", 2),
        EventType.ORDER_CANCELLED: ("GSM-7", 2),
        EventType.SHIPMENT_CREATED: ("GSM-7", 1),
        EventType.SHIPMENT_IN_TRANSIT: ("GSM-7", 2),
        EventType.SHIPMENT_DELAYED: ("GSM-7", 2),
        EventType.SHIPMENT_OUT_FOR_DELIVERY: ("GSM-7", 1),
        EventType.SHIPMENT_DELIVERY_ATTEMPTED: ("GSM-7", 2),
        EventType.SHIPMENT_DELIVERED: ("GSM-7", 2),
        EventType.SHIPMENT_EXCEPTION: ("GSM-7", 2),
        EventType.RETURN_REQUESTED: ("GSM-7", 1),
        EventType.RETURN_APPROVED: ("GSM-7", 1),
        EventType.RETURN_RECEIVED: ("GSM-7", 2),
        EventType.RETURN_REFUNDED: ("GSM-7", 2),
        EventType.RETURN_DECLINED: ("GSM-7", 2),
        EventType.RETURN_CLOSED: ("GSM-7", 1),
    },
    "es-US": {
        EventType.ORDER_PLACED: ("GSM-7", 2),
        EventType.ORDER_BACKORDERED: ("GSM-7", 2),
        EventType.ORDER_CANCELLED: ("GSM-7", 2),
        EventType.SHIPMENT_CREATED: ("GSM-7", 1),
        EventType.SHIPMENT_IN_TRANSIT: ("GSM-7", 1),
        EventType.SHIPMENT_DELAYED: ("GSM-7", 2),
        EventType.SHIPMENT_OUT_FOR_DELIVERY: ("GSM-7", 1),
        EventType.SHIPMENT_DELIVERY_ATTEMPTED: ("GSM-7", 2),
        EventType.SHIPMENT_DELIVERED: ("GSM-7", 2),
        EventType.SHIPMENT_EXCEPTION: ("GSM-7", 2),
        EventType.RETURN_REQUESTED: ("GSM-7", 1),
        EventType.RETURN_APPROVED: ("GSM-7", 1),
        EventType.RETURN_RECEIVED: ("GSM-7", 2),
        EventType.RETURN_REFUNDED: ("GSM-7", 2),
        EventType.RETURN_DECLINED: ("GSM-7", 2),
        EventType.RETURN_CLOSED: ("GSM-7", 2),
    },
    "fr-CA": {
        EventType.ORDER_PLACED: ("GSM-7", 2),
        EventType.ORDER_BACKORDERED: ("GSM-7", 2),
        EventType.ORDER_CANCELLED: ("GSM-7", 2),
        EventType.SHIPMENT_CREATED: ("GSM-7", 2),
        EventType.SHIPMENT_IN_TRANSIT: ("GSM-7", 2),
        EventType.SHIPMENT_DELAYED: ("GSM-7", 2),
        EventType.SHIPMENT_OUT_FOR_DELIVERY: ("GSM-7", 1),
        EventType.SHIPMENT_DELIVERY_ATTEMPTED: ("GSM-7", 2),
        EventType.SHIPMENT_DELIVERED: ("GSM-7", 2),
        EventType.SHIPMENT_EXCEPTION: ("GSM-7", 2),
        EventType.RETURN_REQUESTED: ("GSM-7", 1),
        EventType.RETURN_APPROVED: ("GSM-7", 1),
        EventType.RETURN_RECEIVED: ("GSM-7", 2),
        EventType.RETURN_REFUNDED: ("GSM-7", 2),
        EventType.RETURN_DECLINED: ("GSM-7", 2),
        EventType.RETURN_CLOSED: ("GSM-7", 2),
    },
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_each_sms_has_its_pinned_encoding_and_segment_count(
    renderer: Renderer, locale: str, event_type: EventType
) -> None:
    # Given an event with realistic, long data for a customer of this locale
    sms = sms_of(renderer, sample(event_type, locale))

    # When its SMS is counted, Then encoding and segments are the pinned ones, within the budget, link whole
    assert (sms.encoding, sms.segments) == SEGMENTS[locale][event_type], sms.body
    assert sms.segments == segment_count(sms.body) <= MAX_SMS_SEGMENTS
    assert sms.opt_out_segments == segment_count(sms.opt_out_body or "") <= MAX_SMS_SEGMENTS
    assert re.search(r"https://\S+$", sms.body)


def _ascii_texts() -> dict[str, str]:
    return {key: "".join(c for c in value if c.isascii()) for key, value in TEXTS["en-US"].items()}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_the_templates_own_words_keep_every_sms_in_gsm7(renderer: Renderer, locale: str, event_type: EventType) -> None:
    # Given an event whose data is plain ASCII, so that only the template's words and Babel's formats can add
    # characters outside GSM-7 (Spanish has é ñ ü in GSM-7 but not á í ó ú; French é è à ù but not ê â ô î û ç)
    event = build(event_dict(event_type, locale, _ascii_texts()))

    # When its SMS is rendered, in both its plain and its first (opt-out line) form
    sms = sms_of(renderer, event)

    # Then both are GSM-7: a translated SMS costs what an English one does
    assert sms.encoding == "GSM-7", sms.body
    assert encoding_of(sms.opt_out_body or "") == "GSM-7", sms.opt_out_body


@pytest.mark.parametrize("locale", TRANSLATED)
@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_a_name_gsm7_cannot_write_makes_a_ucs2_sms_that_still_fits(
    renderer: Renderer, locale: str, event_type: EventType
) -> None:
    # Given a store and a customer named in Cyrillic (letters are kept whatever they cost), with long free text
    document = event_dict(event_type, locale)
    document["data"]["store"]["name"] = "Магазин Ёлка " * 6
    document["data"]["customer"]["name"] = "Анна Каренина " * 6

    # When the SMS is rendered
    sms = sms_of(renderer, build(document))

    # Then it is counted as the message it is (UCS-2 while a Cyrillic letter is in it: the fitter may cut the
    # names away before it gives up words), still fits, and keeps the order and the whole link
    assert sms.encoding == encoding_of(sms.body) == ("UCS-2" if re.search("[\u0400-\u04ff]", sms.body) else "GSM-7")
    assert sms.segments == segment_count(sms.body) <= MAX_SMS_SEGMENTS
    assert "#CMO-58213" in sms.body
    assert re.search(r"https://\S+$", sms.body)


def test_an_accent_gsm7_lacks_is_dropped_only_when_that_keeps_more_text(renderer: Renderer) -> None:
    # Given a short Spanish order whose customer is María: the UCS-2 message fits as it is
    realistic = sample(EventType.ORDER_PLACED, "es-US")  # María Fernanda Castillo Rodríguez
    short_document = event_dict(EventType.ORDER_PLACED, "es-US")
    short_document["data"]["store"]["name"] = "Casa"
    short_document["data"]["order"]["items"] = short_document["data"]["order"]["items"][:1]
    short_document["data"]["order"]["items"][0]["name"] = "Tienda"
    short_document["data"]["customer"]["name"] = "María"
    short_document["data"]["order"]["status_url"] = "https://casa.example/o/1"

    # When it is rendered, and when the long realistic one is
    kept = sms_of(renderer, build(short_document))
    folded = sms_of(renderer, realistic)

    # Then the short one keeps her name as written (UCS-2, counted so); the long one writes "Maria" in GSM-7
    # rather than cutting the text to fit 134 UCS-2 characters
    assert "¡Gracias María!" in kept.body
    assert (kept.encoding, kept.segments) == ("UCS-2", 2)
    assert "¡Gracias Maria Fernanda" in folded.body
    assert (folded.encoding, folded.segments) == ("GSM-7", 2)


def test_a_french_date_in_august_is_ucs2_when_it_fits_and_written_aout_when_not(renderer: Renderer) -> None:
    # Given two French shipments due on August 4 ("août" has û, which GSM-7 lacks): a short message, and the
    # realistic one with a long store name and tracking link
    short = event_dict(EventType.SHIPMENT_CREATED, "fr-CA", _ascii_texts())
    short["data"]["shipment"]["estimated_delivery"] = "2026-08-04"
    short["data"]["store"]["name"] = "Bo"
    short["data"]["shipment"]["tracking_url"] = "https://ups.example/t/1Z9"
    long = event_dict(EventType.SHIPMENT_CREATED, "fr-CA", _ascii_texts())
    long["data"]["shipment"]["estimated_delivery"] = "2026-08-04"

    # When their SMS are rendered
    kept = sms_of(renderer, build(short))
    folded = sms_of(renderer, build(long))

    # Then the short one says "août" and is counted as the UCS-2 message it is; the long one, which would need
    # three UCS-2 parts, writes "aout" and keeps every word in two GSM-7 parts rather than losing its date
    assert "arrivée prévue le mar. 4 août" in kept.body
    assert (kept.encoding, kept.segments) == ("UCS-2", 2)
    assert "arrivée prévue le mar. 4 aout. Suivi : " in folded.body
    assert (folded.encoding, folded.segments) == ("GSM-7", 2)


def test_a_spanish_saturday_stays_gsm7(renderer: Renderer) -> None:
    # Given a Spanish customer's shipment due on a Saturday ("sáb" would be UCS-2)
    document = event_dict(EventType.SHIPMENT_CREATED, "es-US", _ascii_texts())
    document["data"]["shipment"]["estimated_delivery"] = "2026-12-05"

    # When its SMS is rendered, Then the date leaves out the weekday and the SMS stays GSM-7
    sms = sms_of(renderer, build(document))
    assert "llega el 5 dic." in sms.body
    assert sms.encoding == "GSM-7"


@pytest.mark.parametrize(("locale", "label"), [("es-US", "Ver su pedido"), ("fr-CA", "Voir votre commande")])
def test_the_order_pages_button_is_in_the_customers_language(renderer: Renderer, locale: str, label: str) -> None:
    # Given an order for a customer of this locale, with the link to its page on Herald
    event = sample(EventType.ORDER_PLACED, locale)

    # When the email and SMS are rendered
    email = email_of(renderer, event, page_url=PAGE_URL)
    sms = sms_of(renderer, event, page_url=PAGE_URL)

    # Then the page is the one main button, labelled in the customer's words, and the SMS's link
    assert f'<a href="{PAGE_URL}"' in email.html
    assert f">{label}</a>" in email.html
    assert STATUS_URL not in email.html
    assert f"{label} (" in email.text
    assert sms.body.endswith(PAGE_URL)


@pytest.mark.parametrize(
    ("locale", "line"),
    [
        ("en-US", OPT_OUT_LINE),
        ("es-US", "Responda STOP para darse de baja."),
        ("fr-CA", "Répondez STOP pour vous désabonner."),
    ],
)
def test_the_first_sms_says_how_to_opt_out_in_the_customers_language(
    renderer: Renderer, locale: str, line: str
) -> None:
    # Given an order for a customer of this locale
    sms = sms_of(renderer, sample(EventType.ORDER_PLACED, locale))

    # When its first-SMS form is read, Then it ends with the locale's line, which keeps the keyword STOP
    assert sms.opt_out_body is not None
    assert sms.opt_out_body.endswith(f" {line}")
    assert "STOP" in line
    assert line not in sms.body
