"""Channel policy, phone normalisation, masking and error sorting."""

from __future__ import annotations

import pytest

from herald.contract.models import Customer, EventType
from herald.domain.channels import choose_channels
from herald.domain.errors import ErrorKind, classify_sendgrid, classify_twilio, retry_delay_seconds
from herald.domain.masking import mask_email, mask_phone, mask_text
from herald.domain.notification import Channel
from herald.domain.phone import PhoneNotUsable, to_e164


def test_national_number_is_read_with_the_shipping_country() -> None:
    # Given a French national number and the shipping country; When normalised; Then it is E.164
    assert to_e164("06 12 34 56 78", "FR") == "+33612345678"
    assert to_e164("(415) 555-2671", "US") == "+14155552671"


def test_national_number_without_country_is_not_usable() -> None:
    # Given a national number and no country; When normalised; Then it is refused with a reason
    with pytest.raises(PhoneNotUsable, match=r"customer\.country"):
        to_e164("0612345678", None)


def test_shopify_placeholder_phone_is_not_usable() -> None:
    # Given the "555-555-SHIP" phone of Shopify's published orders/create sample
    with pytest.raises(PhoneNotUsable):
        to_e164("555-555-SHIP", "US")


def test_twilio_test_numbers_are_refused_in_production() -> None:
    # Given Twilio's "valid number" test phone, which libphonenumber reads as a valid +1 500 personal number
    # When production's rule reads it; Then it is refused, saying why
    with pytest.raises(PhoneNotUsable, match="Twilio test number"):
        to_e164("+15005550006", None)
    # And SMS is skipped for a customer who gives it
    customer = Customer(email="a@b.co", phone="+15005550006", sms_consent=True)
    sms = next(d for d in choose_channels(EventType.ORDER_PLACED, customer) if d.channel is Channel.SMS)
    assert (sms.recipient, sms.skipped_reason) == (None, "phone is a Twilio test number (+1 500 555), not a customer's")


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        ({"email": "a@b.co", "phone": "+14155552671", "sms_consent": True}, {"email": "a@b.co", "sms": "+14155552671"}),
        ({"email": "a@b.co", "phone": "+14155552671", "sms_consent": False}, {"email": "a@b.co", "sms": None}),
        ({"phone": "4155552671", "sms_consent": True, "country": "US"}, {"email": None, "sms": "+14155552671"}),
        ({"email": "a@b.co", "phone": "12", "sms_consent": True}, {"email": "a@b.co", "sms": None}),
    ],
)
def test_sms_only_with_consent_and_a_usable_phone(customer: dict, expected: dict) -> None:
    # Given a customer; When channels are chosen for an order confirmation
    decisions = {d.channel.value: d.recipient for d in choose_channels(EventType.ORDER_PLACED, Customer(**customer))}
    # Then each channel goes to the normalised recipient, or is skipped
    assert decisions == expected


def test_in_transit_and_return_requested_never_go_by_sms() -> None:
    customer = Customer(email="a@b.co", phone="+14155552671", sms_consent=True)
    for event_type in (EventType.SHIPMENT_IN_TRANSIT, EventType.RETURN_REQUESTED, EventType.RETURN_RECEIVED):
        assert [d.channel for d in choose_channels(event_type, customer)] == [Channel.EMAIL]


def test_skipped_channel_says_why() -> None:
    decisions = choose_channels(EventType.ORDER_PLACED, Customer(email="a@b.co"))
    sms = next(d for d in decisions if d.channel is Channel.SMS)
    assert not sms.send
    assert sms.skipped_reason == "customer has no phone number"


def test_masking_keeps_logs_useful_without_personal_data() -> None:
    # Given a log line with an email, a phone, a date and a timestamp
    line = '{"to": "jane.doe@example.com", "phone": "+14155552671", "at": "2026-11-27T14:03:11Z", "ms": 1764253391000}'
    # When masked
    masked = mask_text(line)
    # Then neither address is readable, and the date and number are untouched
    assert "jane.doe" not in masked
    assert "4155552671" not in masked
    assert "j***@example.com" in masked
    assert "+1*******671" in masked
    assert "2026-11-27T14:03:11Z" in masked
    assert "1764253391000" in masked
    assert mask_email("x@y.org") == "x***@y.org"
    assert mask_phone("123") == "***"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 21211, ErrorKind.PERMANENT),
        (400, 21408, ErrorKind.PERMANENT),
        (400, 21610, ErrorKind.PERMANENT),
        (400, 21612, ErrorKind.PERMANENT),
        (400, 21614, ErrorKind.PERMANENT),
        (429, 20429, ErrorKind.RETRYABLE),
        (500, None, ErrorKind.RETRYABLE),
        (503, None, ErrorKind.RETRYABLE),
        (401, 20003, ErrorKind.RETRYABLE),  # the auth token was rotated or revoked
        (401, None, ErrorKind.RETRYABLE),
    ],
)
def test_twilio_errors_are_sorted(status: int, code: int | None, kind: ErrorKind) -> None:
    assert classify_twilio(status, code) is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.PERMANENT),
        (401, ErrorKind.RETRYABLE),  # the key was rotated or revoked: the account's fault, not the message's
        (403, ErrorKind.RETRYABLE),
        (413, ErrorKind.PERMANENT),
        (429, ErrorKind.RETRYABLE),
        (500, ErrorKind.RETRYABLE),
        (502, ErrorKind.RETRYABLE),
    ],
)
def test_sendgrid_errors_are_sorted(status: int, kind: ErrorKind) -> None:
    assert classify_sendgrid(status) is kind


def test_retry_delay_grows_and_is_capped() -> None:
    assert [retry_delay_seconds(n, base=10, maximum=900) for n in (1, 2, 3, 4, 8)] == [10, 20, 40, 80, 900]


@pytest.mark.parametrize(
    "address", ["x@y.co\r\nBcc: z@evil.example", "a\x0bb@c.co", "a\u2028@b.co", "a b@c.co", "nope"]
)
def test_undeliverable_or_injecting_email_addresses_are_refused(address: str) -> None:
    # Given an address with a header break, a control or separator character, or no domain; Then the contract refuses it
    with pytest.raises(ValueError, match="not an email address"):
        Customer(email=address)
