"""Masking personal data before it reaches a log line."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-]{1,64})@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
# E.164 (+ and 8-15 digits) or a North-American style national number (555-555-1234, (555) 555 1234).
# Deliberately narrow: dates, timestamps and durations in a log line must stay readable.
_PHONE = re.compile(r"\+\d{8,15}\b|(?<![\d-])\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}\b")


def mask_email(address: str) -> str:
    """`jane.doe@example.com` -> `j***@example.com`: enough to tell two customers apart, not to write to them."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(number: str) -> str:
    """`+15551234567` -> `+1*******567`."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 6:
        return "***"
    prefix = "+" if number.strip().startswith("+") else ""
    return f"{prefix}{digits[0]}{'*' * (len(digits) - 4)}{''.join(digits[-3:])}"


def mask_recipient(value: str) -> str:
    return mask_email(value) if "@" in value else mask_phone(value)


def mask_text(text: str) -> str:
    """Mask every email address and phone number found in free text (exception messages, provider bodies)."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
