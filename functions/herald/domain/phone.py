"""Phone numbers to E.164, with the `phonenumbers` library (Google's libphonenumber metadata)."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers


class PhoneNotUsable(ValueError):
    """The number cannot be normalised to a valid E.164 number; the reason says why."""


# The rule channel choice reads a customer's phone with: (raw, country) -> E.164, or PhoneNotUsable.
# Production's is `to_e164`; the local runtime widens it to Twilio's test numbers (herald_tools.local.ports).
PhoneRule = Callable[[str, str | None], str]


def parse(raw: str, country: str | None) -> phonenumbers.PhoneNumber:
    """`raw` (E.164 or national format) parsed; a national number is read with `country` (ISO 3166 alpha-2 of the
    shipping address), and without it only numbers that start with `+` can be read."""
    try:
        return phonenumbers.parse(raw, country if not raw.strip().startswith("+") else None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if country or raw.strip().startswith("+") else " (national number without customer.country)"
        raise PhoneNotUsable(f"phone is not a number: {exc.args[0] if exc.args else exc}{hint}") from None


def e164(parsed: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_twilio_test_number(parsed: phonenumbers.PhoneNumber) -> bool:
    """Twilio's test-credential numbers, +1 500 555 xxxx: they reach no phone, and no customer has one."""
    return parsed.country_code == 1 and str(parsed.national_number).startswith("500555")


def to_e164(raw: str, country: str | None) -> str:
    """Normalise `raw` to E.164, refusing a number that is not valid for its country (libphonenumber's metadata).

    Twilio's test numbers are refused too: libphonenumber reads +1 500 as a valid personal-number area code, but an
    SMS there would go nowhere (with live credentials Twilio refuses it), so a customer giving one is unreachable.
    """
    parsed = parse(raw, country)
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneNotUsable("phone is not a valid number for its country")
    if is_twilio_test_number(parsed):
        raise PhoneNotUsable("phone is a Twilio test number (+1 500 555), not a customer's")
    return e164(parsed)
