"""Masking personal data before it reaches a log line or a stored free-text field.

What is masked:
- email addresses whose local part uses any character RFC 5322 allows unquoted (its `atext` and dots:
  ``!#$%&'*+-/=?^_`{|}~``), so `o'brien+tag@x.example` and `a!b#c@x.example` are masked whole. Quoted local
  parts ("john doe"@x.example) are not recognised: no customer address Herald has seen uses one;
- international numbers in any grouping (`+14155552671`, `+44 7700 900123`, `+1 (415) 555-0100`), found by
  libphonenumber's `PhoneNumberMatcher` (leniency POSSIBLE: a number of a possible length for its country code;
  VALID would let through the numbers Ofcom and NANPA keep for fiction, 07700 900xxx and 555-01xx, which are
  exactly the ones tests and examples use);
- national numbers in the two shapes customers type: a trunk-prefix number in groups (`07700 900123`,
  `020 7946 0018`, `06 12 34 56 78`) and North-American style (`(415) 555-0100`, `415.555.0100`). These are
  regular expressions, not the matcher: a national number means nothing without its country, and the matcher
  run for a region reads dates, amounts and ids as that region's numbers (`2026-11-27`, `94107-1234`).

Deliberately narrow otherwise: dates, timestamps, durations and ids in a log line must stay readable.
"""

from __future__ import annotations

import re

# RFC 5322 `dot-atom` local part: atext plus dots (`-` last in the class, so literal). A match starts only where a
# run of such characters starts (the lookbehind): one attempt per run instead of one per character, and a run
# longer than a local part's 64 characters is masked whole rather than left readable.
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-"
_EMAIL = re.compile(rf"(?<![{_ATEXT}])([{_ATEXT}]+)@([A-Za-z0-9.\-]+\.[A-Za-z]{{2,}})")
# A `+` and seven digits or more, however grouped: the only text worth handing to the matcher (cheap to test
# first; a log line's timestamp ends in "+0000", which must not cost a matcher run per line).
_MAYBE_INTERNATIONAL = re.compile(r"\+\s?\(?\d(?:[\s.()\-]{0,2}\d){6}")
# What the matcher may miss in a line (an E.164 run glued to other text): kept from before it.
_E164 = re.compile(r"\+\d{8,15}\b")
# National formats. Not preceded by a word character, `+`, `.`, `-`, `:` or `/` (ids, decimals, times, paths).
_NATIONAL = re.compile(
    r"(?<![\w+.\-:/])(?:"
    r"\(?0\d{1,4}\)?(?:[ .\-]?\d{2,4}){2,4}"  # trunk prefix 0, then groups: 07700 900123, 06 12 34 56 78
    r"|\(?[2-9]\d{2}\)?[\s.\-]\d{3}[\s.\-]\d{4}"  # North American: (415) 555-0100, 415-555-0100
    r")(?![\w\-/]|[.:]\d)"
)
_MIN_NATIONAL_DIGITS = 9  # 0 + 8: shorter runs are counts and codes, not phone numbers


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
    """Mask every email address and phone number found in free text (log lines, provider reasons, bodies)."""
    if "@" in text:
        text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    if _MAYBE_INTERNATIONAL.search(text):
        text = _mask_international(text)
    return _NATIONAL.sub(_mask_national, text)


def _mask_international(text: str) -> str:
    # Imported here: the metadata costs a few milliseconds, and most lines carry no `+<digit>` at all.
    from phonenumbers import Leniency, PhoneNumberMatcher

    spans = [(m.start, m.end) for m in PhoneNumberMatcher(text, None, leniency=Leniency.POSSIBLE)]
    for start, end in reversed(spans):
        text = text[:start] + mask_phone(text[start:end]) + text[end:]
    return _E164.sub(lambda m: mask_phone(m.group(0)), text)


def _mask_national(match: re.Match[str]) -> str:
    value = match.group(0)
    if sum(c.isdigit() for c in value) < _MIN_NATIONAL_DIGITS and not value.startswith("("):
        return value
    return mask_phone(value)
