"""Rendering events into the emails and SMS customers read: content, escaping, locales, SMS length."""

from __future__ import annotations

import copy
import re
import shutil
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from herald.contract.models import HERALD_EVENT_ADAPTER, DelayReason, Envelope, EventType, ExceptionKind
from herald.domain.notification import EmailContent
from herald.domain.suppression import OPT_OUT_LINE
from herald.rendering.formatting import Formatter
from herald.rendering.gsm import segment_count
from herald.rendering.renderer import MAX_SMS_SEGMENTS, SUBJECT_MAX_CHARS, Branding, Renderer, branding_for

FROM = "orders@herald.example"
DEFAULT_STORE = "Our store"
TEMPLATES = Path(__file__).resolve().parents[2] / "functions" / "herald" / "rendering" / "templates"

STATUS_URL = "https://acme.example/orders/1001?token=abc&view=full"
TRACKING_URL = "https://track.example.com/1Z999AA10123456784"
PHOTO_URL = "https://pod.example.com/photos/1Z999AA10123456784.jpg"
PORTAL_URL = "https://returns.acme.example/r/RMA-77"
LABEL_URL = "https://labels.acme.example/RMA-77.pdf"

_SHIPMENT = {
    "id": "shp_1",
    "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_url": TRACKING_URL,
    "items": [{"sku": "TENT-2", "quantity": 1}],
    "estimated_delivery": "2026-12-04",
    "previous_estimated_delivery": "2026-12-01",
}
_RETURN = {
    "id": "RMA-77",
    "items": [{"sku": "BOOT-9", "name": "Hiking boots", "quantity": 1}],
    "reason": "Too small",
    "portal_url": PORTAL_URL,
    "label_url": LABEL_URL,
}
EXTRA: dict[EventType, dict[str, Any]] = {
    EventType.ORDER_PLACED: {},
    EventType.ORDER_BACKORDERED: {
        "backorder": {
            "items": [{"sku": "TENT-2", "name": "Two-person tent", "quantity": 1}],
            "reason": "Our supplier is out of stock",
            "estimated_ship_date": "2026-12-10",
        }
    },
    EventType.ORDER_CANCELLED: {"cancellation": {"reason": "Cancelled at your request", "refund_amount": "129.9"}},
    EventType.SHIPMENT_CREATED: {"shipment": _SHIPMENT},
    EventType.SHIPMENT_IN_TRANSIT: {"shipment": _SHIPMENT},
    EventType.SHIPMENT_DELAYED: {
        "shipment": _SHIPMENT,
        "delay": {"reason": "weather", "detail": "A snowstorm closed the Denver hub"},
    },
    EventType.SHIPMENT_OUT_FOR_DELIVERY: {"shipment": _SHIPMENT},
    EventType.SHIPMENT_DELIVERY_ATTEMPTED: {
        "shipment": _SHIPMENT,
        "attempt": {"reason": "Nobody was home to sign", "next_attempt_at": "2026-12-02T17:00:00Z"},
    },
    EventType.SHIPMENT_DELIVERED: {
        "shipment": _SHIPMENT,
        "proof": {
            "delivered_at": "2026-12-01T19:30:00Z",
            "photo_url": PHOTO_URL,
            "latitude": 40.7128,
            "longitude": -74.006,
            "location": "Front porch",
            "received_by": "J. Doe",
        },
    },
    EventType.SHIPMENT_EXCEPTION: {
        "shipment": _SHIPMENT,
        "exception": {"kind": "damaged", "detail": "The box was crushed at the depot"},
    },
    EventType.RETURN_REQUESTED: {"return": _RETURN},
    EventType.RETURN_APPROVED: {"return": _RETURN},
    EventType.RETURN_RECEIVED: {"return": _RETURN},
    EventType.RETURN_REFUNDED: {"return": {**_RETURN, "refund_amount": "89.5"}},
    EventType.RETURN_DECLINED: {"return": _RETURN},
    EventType.RETURN_CLOSED: {"return": _RETURN},
}
SMS_TYPES = [t for t in EventType]


def event_dict(event_type: EventType, **customer: Any) -> dict[str, Any]:
    """A complete, valid event of `event_type` as a storefront would publish it."""
    return {
        "specversion": "1.0",
        "id": f"evt_{event_type.value}",
        "source": "storefront/acme-outdoor",
        "type": event_type.value,
        "time": "2026-11-27T14:03:11Z",
        "data": {
            "order": {
                "id": "ord_1001",
                "number": "#1001",
                "placed_at": "2026-11-27T14:03:11Z",
                "currency": "USD",
                "total": "129.9",
                "status_url": STATUS_URL,
                "items": [
                    {"sku": "TENT-2", "name": "Two-person tent", "quantity": 1, "unit_price": "99.9"},
                    {"sku": "SOCK-1", "name": "Wool socks", "quantity": 2, "unit_price": "15"},
                ],
            },
            "customer": {
                "name": "Jane Doe",
                "email": "jane@example.com",
                "phone": "+15005550006",
                "sms_consent": True,
                "timezone": "America/New_York",
                **customer,
            },
            "store": {
                "name": "Acme Outdoor",
                "support_email": "help@acme.example",
                "support_url": "https://acme.example/help",
                "logo_url": "https://cdn.acme.example/logo.png",
            },
            **copy.deepcopy(EXTRA[event_type]),
        },
    }


def build(document: dict[str, Any]) -> Envelope:
    return HERALD_EVENT_ADAPTER.validate_python(document)


def sample(event_type: EventType, **customer: Any) -> Envelope:
    return build(event_dict(event_type, **customer))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def email_of(renderer: Renderer, event: Envelope) -> EmailContent:
    return renderer.email(event, from_email=FROM, default_store_name=DEFAULT_STORE)


# --- every type renders ----------------------------------------------------------------------


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_every_event_type_renders_a_branded_email_about_its_order(renderer: Renderer, event_type: EventType) -> None:
    # Given a complete event of this type
    event = sample(event_type)

    # When it is rendered as an email
    email = email_of(renderer, event)

    # Then subject, HTML and text all name the order, and the HTML carries the store's branding
    assert "#1001" in email.subject
    assert "\n" not in email.subject
    assert "#1001" in email.html
    assert "#1001" in email.text
    assert '<img src="https://cdn.acme.example/logo.png"' in email.html
    assert "Acme Outdoor" in email.html
    assert "Acme Outdoor" in email.text
    assert 'href="https://acme.example/help"' in email.html
    assert "mailto:help@acme.example" in email.html
    assert "Hi Jane Doe," in email.text
    assert (email.from_email, email.from_name, email.reply_to) == (FROM, "Acme Outdoor", "help@acme.example")
    assert "{{" not in email.html + email.text
    assert "{%" not in email.html + email.text


@pytest.mark.parametrize("event_type", SMS_TYPES, ids=lambda t: t.value)
def test_every_event_type_renders_an_sms_with_store_order_and_key_link(
    renderer: Renderer, event_type: EventType
) -> None:
    # Given a complete event of this type
    event = sample(event_type)

    # When it is rendered as an SMS
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then it starts with the store's name, names the order, carries the key link and fits the budget
    assert sms.body.startswith("Acme Outdoor: ")
    assert "#1001" in sms.body
    expected_link = {
        EventType.SHIPMENT_DELIVERED: PHOTO_URL,
        EventType.RETURN_APPROVED: LABEL_URL,
    }.get(event_type)
    if expected_link is None:
        expected_link = {"order": STATUS_URL, "shipment": TRACKING_URL, "return": PORTAL_URL}[event_type.family]
    assert expected_link in sms.body
    assert sms.segments == segment_count(sms.body) <= MAX_SMS_SEGMENTS
    assert sms.encoding == "GSM-7"
    assert "\n" not in sms.body


# --- content per type ------------------------------------------------------------------------

CONTENT: dict[EventType, list[str]] = {
    EventType.ORDER_PLACED: ["Two-person tent", "Wool socks", "$99.90", "$15.00", "Total: $129.90", STATUS_URL],
    EventType.ORDER_BACKORDERED: ["Two-person tent", "Our supplier is out of stock", "Thursday, December 10, 2026"],
    EventType.ORDER_CANCELLED: ["Cancelled at your request", "$129.90"],
    EventType.SHIPMENT_CREATED: ["UPS", "1Z999AA10123456784", TRACKING_URL, "Friday, December 4, 2026"],
    EventType.SHIPMENT_IN_TRANSIT: ["UPS", TRACKING_URL, "Friday, December 4, 2026"],
    EventType.SHIPMENT_DELAYED: [
        "Bad weather",
        "A snowstorm closed the Denver hub",
        "New estimate: Friday, December 4, 2026",
        "Previous estimate: Tuesday, December 1, 2026",
    ],
    EventType.SHIPMENT_OUT_FOR_DELIVERY: ["out for delivery", "today", TRACKING_URL],
    EventType.SHIPMENT_DELIVERY_ATTEMPTED: [
        "Nobody was home to sign",
        "Wednesday, December 2, 2026 at 12:00\xa0PM EST",
    ],
    EventType.SHIPMENT_DELIVERED: [
        "Tuesday, December 1, 2026 at 2:30\xa0PM EST",
        "Front porch",
        "Received by: J. Doe",
        PHOTO_URL,
        "https://www.google.com/maps/search/?api=1&query=40.7128,-74.006",
    ],
    EventType.SHIPMENT_EXCEPTION: ["damaged", "The box was crushed at the depot", "What happens next:"],
    EventType.RETURN_REQUESTED: ["Hiking boots", "Too small", PORTAL_URL],
    EventType.RETURN_APPROVED: ["Hiking boots", LABEL_URL],
    EventType.RETURN_RECEIVED: ["Hiking boots", "arrived"],
    EventType.RETURN_REFUNDED: ["$89.50", "Hiking boots"],
    EventType.RETURN_DECLINED: ["could not accept", "Too small", "Hiking boots", "keep the items"],
    EventType.RETURN_CLOSED: ["closed", "Hiking boots", "nothing more you need to do"],
}


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_each_type_tells_the_customer_what_its_event_is_about(renderer: Renderer, event_type: EventType) -> None:
    # Given a complete event of this type
    event = sample(event_type)

    # When it is rendered
    email = email_of(renderer, event)

    # Then the text part carries every fact that type is for (the HTML holds the same words)
    for fact in CONTENT[event_type]:
        assert fact in email.text, fact
    html_text = _visible_text(email.html)
    for fact in CONTENT[event_type]:
        if not fact.startswith(("https://", "New estimate", "Previous estimate", "Total:", "Received by:")):
            assert fact.replace("\xa0", " ") in html_text, fact  # _visible_text folds spaces


@pytest.mark.parametrize("reason", list(DelayReason), ids=str)
def test_delay_reasons_are_explained_in_plain_words(renderer: Renderer, reason: DelayReason) -> None:
    # Given a delay with this reason code
    document = event_dict(EventType.SHIPMENT_DELAYED)
    document["data"]["delay"] = {"reason": reason.value}

    # When the email and SMS are rendered
    event = build(document)
    email = email_of(renderer, event)
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then a sentence explains it and the raw code never reaches the customer
    sentence = re.search(r"will arrive later than we said\. ([^\n]+)", email.text)
    assert sentence is not None
    assert len(sentence.group(1).split()) >= 4
    assert sentence.group(1).strip(" .").lower() != reason.value
    assert "is delayed by " in sms.body


def test_each_delay_reason_has_its_own_explanation(renderer: Renderer) -> None:
    # Given one delayed event per reason code
    explanations = set()
    for reason in DelayReason:
        document = event_dict(EventType.SHIPMENT_DELAYED)
        document["data"]["delay"] = {"reason": reason.value}
        text = email_of(renderer, build(document)).text
        # When rendered, Then each reason yields a different sentence
        explanations.add(text.split("will arrive later than we said. ", 1)[1].split("\n", 1)[0])
    assert len(explanations) == len(DelayReason)


@pytest.mark.parametrize("kind", list(ExceptionKind), ids=str)
def test_exception_kinds_are_explained_with_what_happens_next(renderer: Renderer, kind: ExceptionKind) -> None:
    # Given an exception of this kind
    document = event_dict(EventType.SHIPMENT_EXCEPTION)
    document["data"]["exception"] = {"kind": kind.value}

    # When rendered
    event = build(document)
    email = email_of(renderer, event)
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then the kind is said in words, with the next step, and the snake_case code never shows
    assert "_" not in email.text.split("--", 1)[0]
    next_step = email.text.split("What happens next: ", 1)[1].split("\n", 1)[0]
    assert len(next_step.split()) >= 6
    assert "_" not in sms.body


def test_delayed_email_shows_new_and_previous_estimate(renderer: Renderer) -> None:
    # Given a delay that moves the estimate from Dec 1 to Dec 4
    event = sample(EventType.SHIPMENT_DELAYED)

    # When rendered
    email = email_of(renderer, event)
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then both estimates are shown, in the email and (short) in the SMS
    assert "New estimate" in email.html
    assert "Previous estimate" in email.html
    assert "Friday, December 4, 2026" in email.html
    assert "Tuesday, December 1, 2026" in email.html
    assert "New estimate: Fri, Dec 4 (was Tue, Dec 1)" in sms.body


def test_return_request_offers_one_self_service_link_and_no_form(renderer: Renderer) -> None:
    # Given a return request with a portal link
    event = sample(EventType.RETURN_REQUESTED)

    # When rendered
    email = email_of(renderer, event)

    # Then the portal is the one call to action and there is nothing to fill in
    assert email.html.count(f'href="{PORTAL_URL}"') == 1
    assert not re.search(r"<(form|input|select|textarea|button)\b", email.html, re.IGNORECASE)
    assert email.text.count(PORTAL_URL) == 1
    assert LABEL_URL not in email.html


def test_approved_return_links_to_the_label(renderer: Renderer) -> None:
    # Given an approved return with a label
    event = sample(EventType.RETURN_APPROVED)

    # When rendered
    email = email_of(renderer, event)

    # Then the label is the call to action
    assert f'href="{LABEL_URL}"' in email.html
    assert "Your return label: " + LABEL_URL in email.text


def test_delivered_email_shows_the_photo_and_a_map_link(renderer: Renderer) -> None:
    # Given a delivery with a photo and coordinates
    event = sample(EventType.SHIPMENT_DELIVERED)

    # When the email is rendered
    email = email_of(renderer, event)

    # Then the photo is an inline image and the map link points at the coordinates (escaped in HTML)
    assert f'<img src="{PHOTO_URL}"' in email.html
    assert 'href="https://www.google.com/maps/search/?api=1&amp;query=40.7128,-74.006"' in email.html
    assert "Front porch" in email.html
    assert "J. Doe" in email.html


def test_delivered_email_without_coordinates_or_photo_has_neither(renderer: Renderer) -> None:
    # Given a delivery proof with only a time
    document = event_dict(EventType.SHIPMENT_DELIVERED)
    document["data"]["proof"] = {"delivered_at": "2026-12-01T19:30:00Z"}

    # When rendered
    event = build(document)
    email = email_of(renderer, event)
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then no map link or photo is invented, and the SMS falls back to the tracking link
    assert "google.com/maps" not in email.html
    assert "<img" not in email.html.split("<td", 3)[-1]
    assert "Photo" not in sms.body
    assert TRACKING_URL in sms.body


def test_delivered_sms_carries_the_photo_link(renderer: Renderer) -> None:
    # Given a delivery with a photo
    # When the SMS is rendered
    sms = renderer.sms(sample(EventType.SHIPMENT_DELIVERED), default_store_name=DEFAULT_STORE)

    # Then it links to the photo
    assert f"Photo: {PHOTO_URL}" in sms.body


# --- dates and time zones ------------------------------------------------------------------


def test_dates_are_shown_in_the_customers_time_zone(renderer: Renderer) -> None:
    # Given a delivery at 19:30 UTC for a customer in Los Angeles
    event = sample(EventType.SHIPMENT_DELIVERED, timezone="America/Los_Angeles")

    # When rendered
    email = email_of(renderer, event)

    # Then the time is local, with its zone
    assert "Tuesday, December 1, 2026 at 11:30\xa0AM PST" in email.text


@pytest.mark.parametrize("timezone", [None, "Mars/Olympus_Mons", "../../etc/passwd"])
def test_missing_or_unknown_time_zone_shows_utc(renderer: Renderer, timezone: str | None) -> None:
    # Given a customer without a usable time zone
    document = event_dict(EventType.SHIPMENT_DELIVERED)
    document["data"]["customer"]["timezone"] = timezone

    # When rendered
    email = email_of(renderer, build(document))

    # Then the time is shown in UTC, labelled so
    assert "Tuesday, December 1, 2026 at 7:30\xa0PM UTC" in email.text


def test_midnight_utc_estimates_are_read_as_the_day_they_name(renderer: Renderer) -> None:
    # Given a carrier estimate published as midnight UTC, for a customer west of UTC
    document = event_dict(EventType.SHIPMENT_CREATED, timezone="America/Los_Angeles")
    document["data"]["shipment"]["estimated_delivery"] = "2026-12-04T00:00:00Z"

    # When rendered
    email = email_of(renderer, build(document))

    # Then the estimate is December 4, not the evening of December 3
    assert "Friday, December 4, 2026" in email.text


# --- escaping and header safety ------------------------------------------------------------

HOSTILE = '<script>alert(1)</script>"onerror=alert(2) x'
_TYPED_KEYS = {"name", "reason", "detail", "location", "received_by", "carrier", "number", "tracking_number", "sku"}


def _poison(node: Any) -> None:
    """Put HOSTILE in every free-text field a customer or storefront typed."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TYPED_KEYS and isinstance(value, str):
                node[key] = HOSTILE
            else:
                _poison(value)
    elif isinstance(node, list):
        for value in node:
            _poison(value)


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_everything_a_customer_or_storefront_typed_is_escaped_in_html(
    renderer: Renderer, event_type: EventType
) -> None:
    # Given an event whose every typed field holds markup and an attribute break-out
    document = event_dict(event_type)
    _poison(document["data"])
    if event_type == EventType.SHIPMENT_DELAYED:
        document["data"]["delay"] = {"reason": "weather", "detail": HOSTILE}  # reason is a code, not text
    event = build(document)

    # When the email is rendered
    email = email_of(renderer, event)

    # Then none of it is markup: no script tag, no quote closing an attribute, and the text is shown escaped
    assert "<script" not in email.html
    assert '"onerror=' not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;onerror=alert(2) x" in email.html
    assert not re.search(r"<[^>]*\sonerror=", email.html)
    # ...while the text part shows it as typed (it is never interpreted as HTML)
    assert HOSTILE in email.text


def test_subject_and_sender_name_are_single_lines_without_cr_or_lf(renderer: Renderer) -> None:
    # Given a store name and order number carrying header-injection attempts
    document = event_dict(EventType.ORDER_PLACED)
    document["data"]["store"]["name"] = "Acme\r\nBcc: victim@example.com\r\n\r\nX"
    document["data"]["order"]["number"] = "#1001\n\tSubject: hi"

    # When rendered
    email = email_of(renderer, build(document))

    # Then subject and from name are one line with single spaces
    for header in (email.subject, email.from_name or ""):
        assert "\r" not in header
        assert "\n" not in header
        assert "\t" not in header
        assert "  " not in header
    assert email.subject == "Your Acme Bcc: victim@example.com X order #1001 Subject: hi is confirmed"


def test_subject_is_capped_at_200_characters(renderer: Renderer) -> None:
    # Given a 200-character store name and a 200-character order number
    document = event_dict(EventType.ORDER_PLACED)
    document["data"]["store"]["name"] = "S" * 200
    document["data"]["order"]["number"] = "N" * 200

    # When rendered
    email = email_of(renderer, build(document))

    # Then the subject is cut to the cap, visibly
    assert len(email.subject) == SUBJECT_MAX_CHARS
    assert email.subject.endswith("...")


# --- branding ----------------------------------------------------------------------------------


def test_store_in_the_event_wins_over_the_default_name() -> None:
    # Given an event with a store block
    event = sample(EventType.ORDER_PLACED)

    # When its branding is read
    branding = branding_for(event, "Default Shop")

    # Then the event's store is used
    assert branding == Branding(
        name="Acme Outdoor",
        support_email="help@acme.example",
        support_url="https://acme.example/help",
        logo_url="https://cdn.acme.example/logo.png",
    )


def test_without_a_store_the_default_name_is_used_and_no_logo_or_support(renderer: Renderer) -> None:
    # Given an event without a store block
    document = event_dict(EventType.ORDER_PLACED)
    del document["data"]["store"]

    # When rendered
    email = renderer.email(build(document), from_email=FROM, default_store_name="Default Shop")

    # Then the default name brands it and nothing is invented
    assert email.from_name == "Default Shop"
    assert email.reply_to is None
    assert "Default Shop" in email.html
    assert "<img" not in email.html.split("</td>", 1)[0]
    assert "mailto:" not in email.html


@pytest.mark.parametrize(
    "support_email", ["help@acme.example?cc=victim@example.com", "a b@acme.example", "not-an-address"]
)
def test_a_support_address_that_could_add_recipients_is_not_used(support_email: str) -> None:
    # Given a store whose support address is not a plain address
    document = event_dict(EventType.ORDER_PLACED)
    document["data"]["store"]["support_email"] = support_email

    # When its branding is read
    branding = branding_for(build(document), DEFAULT_STORE)

    # Then it is neither a Reply-To nor a mailto link
    assert branding.support_email is None


# --- SMS length --------------------------------------------------------------------------------


def _long_everything(event_type: EventType, *, name: str, store: str) -> Envelope:
    document = event_dict(event_type, name=name)
    data = document["data"]
    data["store"]["name"] = store
    for item in data["order"]["items"]:
        item["name"] = "Ultralight waterproof expedition tent with footprint " * 3
    for block, field in [
        ("backorder", "reason"),
        ("cancellation", "reason"),
        ("delay", "detail"),
        ("attempt", "reason"),
        ("proof", "location"),
        ("exception", "detail"),
        ("return", "reason"),
    ]:
        if block in data:
            data[block][field] = "a very long explanation from the carrier " * 24
    if "backorder" in data:
        data["backorder"]["items"][0]["name"] = "Ultralight waterproof expedition tent with footprint " * 3
    if "shipment" in data:
        data["shipment"]["carrier"] = "Very Long Regional Carrier Name Logistics Incorporated " * 3
    return build(document)


@pytest.mark.parametrize("event_type", SMS_TYPES, ids=lambda t: t.value)
def test_very_long_free_text_is_shortened_but_the_link_is_kept(renderer: Renderer, event_type: EventType) -> None:
    # Given an event whose names, reasons and details are as long as the contract allows
    event = _long_everything(event_type, name="Jane " * 30, store=("Acme Outdoor Supply Company " * 8)[:200])

    # When the SMS is rendered
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then it fits two segments, free text was cut with an ellipsis and the link is whole (the SMS of
    # some return types only carry the store name as free text, which may fit as it is)
    assert sms.segments == segment_count(sms.body) <= MAX_SMS_SEGMENTS
    assert sms.encoding == "GSM-7"
    assert "..." in sms.body or event_type.family == "return"
    assert re.search(r"https://\S+$", sms.body) is not None
    assert _key_link_in(sms.body, event_type)
    assert "#1001" in sms.body


@pytest.mark.parametrize("event_type", SMS_TYPES, ids=lambda t: t.value)
def test_emoji_in_names_force_ucs2_and_the_sms_still_fits(renderer: Renderer, event_type: EventType) -> None:
    # Given a customer and a store whose names carry emoji (UCS-2: 67 units a part), plus long texts
    event = _long_everything(event_type, name="Jane 🌲🏕️ Doe " * 8, store="Acme 🏔️ Outdoor " * 8)

    # When the SMS is rendered
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then it is counted as UCS-2, fits two segments and keeps the link whole
    assert sms.encoding == "UCS-2" or "🏔" not in sms.body
    assert sms.segments == segment_count(sms.body) <= MAX_SMS_SEGMENTS
    assert _key_link_in(sms.body, event_type)
    assert sms.body.startswith("Acme")
    assert "#1001" in sms.body


@pytest.mark.parametrize("event_type", SMS_TYPES, ids=lambda t: t.value)
def test_non_latin_names_stay_ucs2_and_the_sms_still_fits(renderer: Renderer, event_type: EventType) -> None:
    # Given names in Cyrillic (letters, which are kept whatever it costs) and long free text
    event = _long_everything(event_type, name="Анна Каренина " * 10, store="Магазин Ёлка " * 15)

    # When the SMS is rendered
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then it is UCS-2, still within two segments (134 units), with the store, the order and the link
    assert sms.encoding == "UCS-2"
    assert sms.body.startswith("Магазин Ёлка")
    assert "#1001" in sms.body
    assert sms.segments == segment_count(sms.body) <= MAX_SMS_SEGMENTS
    assert _key_link_in(sms.body, event_type)


def test_an_emoji_store_name_is_kept_when_the_message_fits(renderer: Renderer) -> None:
    # Given a short store name with an emoji and an ordinary shipment
    document = event_dict(EventType.SHIPMENT_CREATED)
    document["data"]["store"]["name"] = "Acme 🏔️"

    # When the SMS is rendered
    sms = renderer.sms(build(document), default_store_name=DEFAULT_STORE)

    # Then nothing is dropped or cut, and it is counted as the UCS-2 message it is
    assert sms.body.startswith("Acme 🏔️: Your order #1001 has shipped with UPS")
    assert sms.encoding == "UCS-2"
    assert sms.segments == 2


def test_short_sms_is_left_untouched(renderer: Renderer) -> None:
    # Given an ordinary order
    # When the SMS is rendered
    sms = renderer.sms(sample(EventType.ORDER_PLACED), default_store_name=DEFAULT_STORE)

    # Then nothing is cut
    assert "..." not in sms.body
    assert sms.body == (
        "Acme Outdoor: Thanks Jane Doe! Order #1001 (Two-person tent +1 more) is confirmed, "
        f"total $129.90. Details: {STATUS_URL}"
    )
    assert sms.segments == 1


def test_typographic_punctuation_does_not_turn_an_sms_into_ucs2(renderer: Renderer) -> None:
    # Given a store name with a curly apostrophe and an item with an en dash
    document = event_dict(EventType.ORDER_PLACED)
    document["data"]["store"]["name"] = "Jane\u2019s Outfitters"
    document["data"]["order"]["items"][0]["name"] = "Tent \u2013 2 person"

    # When the SMS is rendered
    sms = renderer.sms(build(document), default_store_name=DEFAULT_STORE)

    # Then the look-alikes keep it GSM-7
    assert sms.body.startswith("Jane's Outfitters: ")
    assert "Tent - 2 person" in sms.body
    assert sms.encoding == "GSM-7"


def _key_link_in(body: str, event_type: EventType) -> bool:
    if event_type == EventType.SHIPMENT_DELIVERED:
        return PHOTO_URL in body
    if event_type == EventType.RETURN_APPROVED:
        return LABEL_URL in body
    return {"order": STATUS_URL, "shipment": TRACKING_URL, "return": PORTAL_URL}[event_type.family] in body


# --- locales -----------------------------------------------------------------------------------


@pytest.fixture
def two_locale_root(tmp_path: Path) -> Path:
    """The packaged templates plus a French folder, made the way a contributor would: copy and translate."""
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES / "en-US", root / "en-US")  # the packaged es-US and fr-CA are tested in test_locales
    shutil.copytree(root / "en-US", root / "fr")
    (root / "fr" / "order.placed" / "subject.txt").write_text("Votre commande {{ order.number }} est confirmée\n")
    (root / "fr" / "base.txt").write_text("{% block content %}{% endblock %}\n-- {{ brand.name }} (fr)\n")
    # A regional folder holding a single type: every other type falls back to its language.
    (root / "fr-CA" / "order.placed").mkdir(parents=True)
    for name in ("body.html", "body.txt", "sms.txt"):
        shutil.copy(root / "fr" / "order.placed" / name, root / "fr-CA" / "order.placed" / name)
    (root / "fr-CA" / "order.placed" / "subject.txt").write_text("Commande {{ order.number }} confirmée (CA)\n")
    for name in ("base.html", "base.txt", "macros.html", "macros.txt"):
        shutil.copy(root / "fr" / name, root / "fr-CA" / name)
    return root


def test_adding_a_locale_is_adding_a_folder(two_locale_root: Path) -> None:
    # Given a templates root with en-US, fr and fr-CA folders
    renderer = Renderer(two_locale_root)

    # When asked for its locales, Then all three folders are found
    assert renderer.locales() == ["en-US", "fr", "fr-CA"]


@pytest.mark.parametrize(
    ("customer_locale", "subject"),
    [
        ("fr", "Votre commande #1001 est confirmée"),
        ("fr-FR", "Votre commande #1001 est confirmée"),
        ("fr-CA", "Commande #1001 confirmée (CA)"),
        ("FR-ca", "Commande #1001 confirmée (CA)"),
        ("de-DE", "Your Acme Outdoor order #1001 is confirmed"),
        ("en-GB", "Your Acme Outdoor order #1001 is confirmed"),
    ],
)
def test_locale_resolves_exact_then_language_then_en_us(
    two_locale_root: Path, customer_locale: str, subject: str
) -> None:
    # Given a customer with this locale
    event = sample(EventType.ORDER_PLACED, locale=customer_locale)

    # When the email is rendered with the three-locale templates
    email = email_of(Renderer(two_locale_root), event)

    # Then the subject comes from the expected folder
    assert email.subject == subject


def test_a_partial_regional_folder_falls_back_to_its_language_per_type(two_locale_root: Path) -> None:
    # Given a fr-CA customer and an event type the fr-CA folder does not have
    event = sample(EventType.ORDER_PLACED, locale="fr-CA")
    shipped = sample(EventType.SHIPMENT_CREATED, locale="fr-CA")
    renderer = Renderer(two_locale_root)

    # When both are rendered
    placed_text = email_of(renderer, event).text
    shipped_text = email_of(renderer, shipped).text

    # Then each uses the closest folder that has it, with that folder's own layout
    assert placed_text.endswith("-- Acme Outdoor (fr)")
    assert shipped_text.endswith("-- Acme Outdoor (fr)")


def test_packaged_templates_are_complete_for_en_us(renderer: Renderer) -> None:
    # Given the packaged templates
    # When listing them, Then en-US has the four files of every type plus the shared layout
    root = TEMPLATES / "en-US"
    for name in ("base.html", "base.txt", "macros.html", "macros.txt"):
        assert (root / name).is_file(), name
    for event_type in EventType:
        for name in ("subject.txt", "body.html", "body.txt", "sms.txt"):
            assert (root / event_type.value / name).is_file(), f"{event_type.value}/{name}"
    assert "en-US" in renderer.locales()


def _visible_text(html: str) -> str:
    import html as html_module

    return html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def test_templates_are_compiled_once_and_served_from_memory(tmp_path: Path) -> None:
    # Given a renderer that has rendered every type once from a templates root
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES, root)
    renderer = Renderer(root)
    for event_type in EventType:
        email_of(renderer, sample(event_type))
        renderer.sms(sample(event_type), default_store_name=DEFAULT_STORE)

    # When the files disappear (a warm Lambda never rereads them)
    shutil.rmtree(root)

    # Then it still renders everything from its cached, compiled templates
    for event_type in EventType:
        assert "#1001" in email_of(renderer, sample(event_type)).subject
        assert "#1001" in renderer.sms(sample(event_type), default_store_name=DEFAULT_STORE).body


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [
        ("USD", "1234.5", "$1,234.50"),
        ("EUR", "12", "€12.00"),
        ("JPY", "1500", "¥1,500"),
        ("SEK", "99.999", "SEK\xa0100.00"),
        ("USD", "-5", "-$5.00"),
        (None, "7.1", "7.10"),
    ],
)
def test_amounts_are_shown_with_their_currency(currency: str | None, amount: str, shown: str) -> None:
    # Given an amount of an order in this currency, When formatted, Then it reads as money
    assert Formatter(tz=UTC, currency=currency).money(amount) == shown


@pytest.mark.parametrize("event_type", SMS_TYPES, ids=lambda t: t.value)
@pytest.mark.parametrize(("name", "store"), [("Jane " * 30, "Acme Outdoor " * 8), ("Jane 🌲 Doe " * 8, "Acme 🏔️ " * 8)])
def test_first_sms_with_the_opt_out_line_fits_the_segment_budget(
    renderer: Renderer, event_type: EventType, name: str, store: str
) -> None:
    # Given an event whose free text is as long as the contract allows (in GSM-7, and in UCS-2 with emoji)
    event = _long_everything(event_type, name=name, store=store)

    # When the SMS is rendered
    sms = renderer.sms(event, default_store_name=DEFAULT_STORE)

    # Then its first-SMS form ends with the opt-out line, keeps the link whole and fits the same two segments
    assert sms.opt_out_body is not None
    assert sms.opt_out_body.endswith(" Reply STOP to opt out.")
    assert sms.opt_out_segments == segment_count(sms.opt_out_body) <= MAX_SMS_SEGMENTS
    assert _key_link_in(sms.opt_out_body, event_type)
    # And the plain form, which every later SMS sends, carries no line and fits too
    assert OPT_OUT_LINE not in sms.body
    assert sms.segments == segment_count(sms.body) <= MAX_SMS_SEGMENTS
