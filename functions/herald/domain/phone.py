"""Phone numbers to E.164, with the `phonenumbers` library (Google's libphonenumber metadata)."""

from __future__ import annotations

import phonenumbers


class PhoneNotUsable(ValueError):
    """The number cannot be normalised to a valid E.164 number; the reason says why."""


def to_e164(raw: str, country: str | None) -> str:
    """Normalise `raw` (E.164 or national format) to E.164.

    A national number is read with `country` (ISO 3166 alpha-2 of the shipping address); without it
    only numbers that start with `+` can be read.
    """
    try:
        parsed = phonenumbers.parse(raw, country if not raw.strip().startswith("+") else None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if country or raw.strip().startswith("+") else " (national number without customer.country)"
        raise PhoneNotUsable(f"phone is not a number: {exc.args[0] if exc.args else exc}{hint}") from None
    if not phonenumbers.is_valid_number(parsed) and not _is_twilio_test_number(parsed):
        raise PhoneNotUsable("phone is not a valid number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _is_twilio_test_number(parsed: phonenumbers.PhoneNumber) -> bool:
    # Twilio's test-credential numbers (+1 500 555 00xx) are not assigned numbers, so libphonenumber
    # calls them invalid; they are exactly what the local stand-in and sandboxes use, so we let them through.
    return parsed.country_code == 1 and str(parsed.national_number).startswith("500555")
