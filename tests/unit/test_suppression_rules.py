"""Which suppression stops which notification (domain.suppression), and how inbound keywords are read."""

from __future__ import annotations

import pytest

from herald.contract.models import EventType
from herald.domain.notification import Channel
from herald.domain.suppression import (
    DEFAULT_HELP_TEXT,
    HELP_TEXTS,
    TRANSACTIONAL_EVENT_TYPES,
    Keyword,
    Suppression,
    SuppressionSignal,
    blocks,
    help_text,
    is_transactional,
    parse_keyword,
    recipient_key,
    strength,
    suppressed_reason,
)
from herald.rendering.gsm import encoding_of, segment_count

MARKETING_SIGNALS = (SuppressionSignal.UNSUBSCRIBE, SuppressionSignal.GROUP_UNSUBSCRIBE, SuppressionSignal.SPAM_REPORT)


def suppression(channel: Channel, signal: SuppressionSignal) -> Suppression:
    recipient = "+15005550010" if channel is Channel.SMS else "jordan.rivera@example.com"
    return Suppression("storefront/acme", channel, recipient, signal, "why", "2026-11-27T08:00:00+00:00")


# The rule table: (event type, channel, signal) -> stopped? Written out, not derived, so a change to the rule
# shows up here as a changed row.
TRANSACTIONAL = ["order.placed", "order.cancelled", "return.refunded"]
NON_ESSENTIAL = [t.value for t in EventType if t.value not in TRANSACTIONAL]
RULES = (
    # SMS: STOP stops everything, transactional or not (carrier rules: STOP is binding for every message)
    [(t, Channel.SMS, SuppressionSignal.KEYWORD, True) for t in TRANSACTIONAL + NON_ESSENTIAL]
    # Email: an undeliverable address stops everything
    + [(t, Channel.EMAIL, SuppressionSignal.BOUNCE, True) for t in TRANSACTIONAL + NON_ESSENTIAL]
    # Email: unsubscribe / spam report stop non-essential email only
    + [(t, Channel.EMAIL, s, False) for t in TRANSACTIONAL for s in MARKETING_SIGNALS]
    + [(t, Channel.EMAIL, s, True) for t in NON_ESSENTIAL for s in MARKETING_SIGNALS]
)


@pytest.mark.parametrize(("event_type", "channel", "signal", "stopped"), RULES)
def test_suppression_rule_table(event_type: str, channel: Channel, signal: SuppressionSignal, stopped: bool) -> None:
    # Given a recipient suppressed by `signal` on `channel`
    # When a notification of `event_type` is about to go to them
    # Then it is stopped exactly as the table says
    assert blocks(suppression(channel, signal), event_type) is stopped


def test_the_rule_table_covers_every_event_type_and_signal() -> None:
    # Given every contract event type and every email signal
    rows = {(t, c, s) for t, c, s, _ in RULES}
    # Then each has a row (a new event type or signal must be placed in the table on purpose)
    for event_type in EventType:
        assert (event_type.value, Channel.SMS, SuppressionSignal.KEYWORD) in rows
        for signal in (SuppressionSignal.BOUNCE, *MARKETING_SIGNALS):
            assert (event_type.value, Channel.EMAIL, signal) in rows


def test_transactional_types_are_the_order_confirmation_cancellation_and_refund() -> None:
    # Then exactly these three are transactional, and each is a contract event type
    contract_types = {t.value for t in EventType}
    assert {"order.placed", "order.cancelled", "return.refunded"} == TRANSACTIONAL_EVENT_TYPES
    assert contract_types >= TRANSACTIONAL_EVENT_TYPES
    assert not is_transactional("shipment.delivered")


def test_an_undeliverable_address_outranks_an_opt_out() -> None:
    # Then a hard bounce and STOP are stronger than any marketing-style opt-out (the adapter keeps the stronger)
    for signal in MARKETING_SIGNALS:
        assert strength(SuppressionSignal.BOUNCE) > strength(signal)
        assert strength(SuppressionSignal.KEYWORD) > strength(signal)


def test_suppressed_reason_says_what_happened_and_when() -> None:
    reason = suppressed_reason(suppression(Channel.EMAIL, SuppressionSignal.SPAM_REPORT))
    assert reason == "suppressed: recipient reported an email as spam (why) at 2026-11-27T08:00:00+00:00"


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", Keyword.STOP),
        ("  stop  ", Keyword.STOP),
        ("Stop.", Keyword.STOP),
        ("StopAll", Keyword.STOP),
        ("unsubscribe", Keyword.STOP),
        ("CANCEL", Keyword.STOP),
        ("end", Keyword.STOP),
        ("Quit\n", Keyword.STOP),
        ("START", Keyword.START),
        ("yes", Keyword.START),
        ("Unstop", Keyword.START),
        ("help", Keyword.HELP),
        (" HELP! ", Keyword.HELP),
        ("please stop the deliveries", None),
        ("stopp", None),
        ("", None),
        ("Where is my parcel?", None),
    ],
)
def test_keywords_are_whole_messages_in_any_case(body: str, keyword: Keyword | None) -> None:
    # When an inbound SMS says `body`; Then it is read as `keyword` (or as no keyword)
    assert parse_keyword(body) is keyword


def test_help_text_fills_in_the_store_and_has_a_default() -> None:
    # Given a configured text with a placeholder, and no configured text
    assert help_text("{store} help: call 555-0100. Reply STOP to opt out.", "Acme") == (
        "Acme help: call 555-0100. Reply STOP to opt out."
    )
    default = help_text(None, "Acme Outdoor")
    # Then the default names the store and tells how to stop and resume
    assert default == DEFAULT_HELP_TEXT.replace("{store}", "Acme Outdoor")
    for word in ("Acme Outdoor", "STOP", "START"):
        assert word in default


@pytest.mark.parametrize(
    ("locale", "starts"),
    [
        ("en-US", "Cascade Mountain Outfitters: order and delivery updates."),
        ("es", "Cascade Mountain Outfitters: avisos de pedidos y entregas."),
        ("es-MX", "Cascade Mountain Outfitters: avisos de pedidos y entregas."),
        ("fr-CA", "Cascade Mountain Outfitters : avis de commande et de livraison."),
        ("fr", "Cascade Mountain Outfitters : avis de commande et de livraison."),
        ("de", "Cascade Mountain Outfitters: order and delivery updates."),
        (None, "Cascade Mountain Outfitters: order and delivery updates."),
    ],
)
def test_the_default_help_text_is_in_the_storefronts_language(locale: str | None, starts: str) -> None:
    # Given no configured text, When HELP is answered for a storefront of this locale, Then it is in its language
    assert help_text(None, "Cascade Mountain Outfitters", locale).startswith(starts)
    # And a storefront's own text is its own words, whatever its locale
    assert help_text("{store}: 555-0100", "Acme", locale) == "Acme: 555-0100"


@pytest.mark.parametrize("locale", sorted(HELP_TEXTS))
def test_every_help_text_is_one_gsm7_segment_and_keeps_the_keywords(locale: str) -> None:
    # Given a store name of 30 characters, When the default HELP text of the locale is filled in
    text = HELP_TEXTS[locale].replace("{store}", "Cascade Mountain Outfitters Co")
    assert len("Cascade Mountain Outfitters Co") == 30
    # Then it is GSM-7, one segment, and says STOP and START (the keywords in every language)
    assert encoding_of(text) == "GSM-7"
    assert segment_count(text) == 1
    assert "STOP" in text
    assert "START" in text


def test_recipient_keys_ignore_email_case_but_keep_phone_numbers_as_given() -> None:
    assert recipient_key(Channel.EMAIL, " Jordan.Rivera@Example.COM ") == "email#jordan.rivera@example.com"
    assert recipient_key(Channel.SMS, "+15005550010") == "sms#+15005550010"
