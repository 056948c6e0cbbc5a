"""Readable dates and amounts for templates, and the text clean-ups rendering relies on.

Dates are shown in the customer's IANA time zone when the event gives one (UTC otherwise, labelled
as such). Day and month names, the order of a date's parts, the clock (12 or 24 h), digit grouping and
where the currency symbol goes are Babel's (the CLDR data of the formatting locale), never written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, get_timezone_gmt, get_timezone_name
from babel.numbers import format_currency, format_decimal, get_currency_precision

from herald.rendering.gsm import gsm_letters

DEFAULT_FORMAT_LOCALE = "en-US"
ELLIPSIS = "..."  # three dots, not U+2026: the single character would turn an SMS into UCS-2
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@lru_cache(maxsize=256)
def timezone_named(name: str | None) -> tzinfo:
    """The IANA zone `name`, or UTC when it is missing or unknown (a bad zone never blocks a message)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    # ValueError: not a zone key at all ("../etc"); OSError: a folder of the tz database ("America", with tzdata)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line: every run of whitespace (CR/LF included) becomes one space, control
    characters go, and the result is cut to `limit` characters with an ellipsis."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    if limit is not None and len(flat) > limit:
        return clip(flat, limit)
    return flat


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[: max(limit, 0)]
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


@lru_cache(maxsize=64)
def babel_locale(tag: str) -> Locale | None:
    """Babel's locale for a BCP 47 tag (`fr-CA`, `es_US`, `EN-us`), or None when CLDR has no data for it."""
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


_EN_US = Locale("en", "US")  # in every Babel's data: what a tag Babel does not know formats as
# CLDR 42+ puts U+202F (narrow no-break space) before AM/PM and between digit groups in French. U+00A0 has the same
# no-break meaning and, being Latin-1, is in every font a mail client falls back on; U+202F is missing from some
# older ones. SMS text folds both to a plain space (gsm.gsm_friendly).
_NARROW_NBSP = str.maketrans({"\u202f": "\u00a0"})
# CLDR's currencySpacing rule, which Babel does not apply: "a space is automatically added between letters in a
# currency symbol and adjacent numbers" (en "SEK 100.00", not "SEK100.00"; "$1.00" and "CA$1.00" keep none).
_LETTER_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
# A zone abbreviation CLDR has for this locale ("EST", "HNE"); anything else is Babel's fallback (an offset such
# as "+0900" or a long name), replaced by the locale's own offset format ("GMT+09:00", "UTC+09:00").
_ZONE_ABBREVIATION = re.compile(r"^[A-Z]{2,5}$")


@dataclass(frozen=True)
class Formatter:
    """The formatting helpers a template calls as `fmt.<name>(...)`, bound to one customer and order.

    `locale` is the BCP 47 tag the formats follow (see renderer.Renderer._format_locale); a tag Babel does not
    know formats as en-US.
    """

    tz: tzinfo
    currency: str | None
    locale: str = DEFAULT_FORMAT_LOCALE
    # An SMS squeezed to fit (renderer._SmsMode(symbols=False)): the accented letters GSM-7 lacks are written
    # without their accent ("août" -> "aout"), as the customer's free text is in that mode.
    gsm: bool = False

    @property
    def _babel(self) -> Locale:
        return babel_locale(self.locale) or _EN_US

    def moment(self, value: datetime) -> str:
        """`Friday, November 27, 2026, 9:03 AM EST`, `viernes, 27 de noviembre de 2026, 9:03 a.m. EST`,
        `vendredi 27 novembre 2026, 09 h 03 HNE`: an exact time in the customer's zone, joined as the locale
        joins a full date and a time (templates that want "at"/"à" write `fmt.day(x)` and `fmt.time(x)`)."""
        local = self._local(value)
        pattern = self._babel.datetime_formats["full"]
        return self._tidy(pattern.format(self.time(value), self._full_date(local.date())))

    def time(self, value: datetime) -> str:
        """`9:03 AM EST`, `9:03 a.m. EST`, `09 h 03 HNE`: the time of day in the customer's zone, with the zone."""
        local = self._local(value)
        return f"{self._clock(local)} {self._zone(local)}"

    def short_moment(self, value: datetime, skeleton: str = "MMMEd") -> str:
        """`Fri, Nov 27, 9:03 AM`, `ven. 27 nov. 09 h 03`: for SMS (no zone, no year)."""
        local = self._local(value)
        pattern = self._babel.datetime_formats["short"]
        return self._tidy(pattern.format(self._clock(local), self._skeleton(local.date(), skeleton)))

    def day(self, value: date | datetime) -> str:
        """`Friday, November 27, 2026`, `viernes, 27 de noviembre de 2026`, `vendredi 27 novembre 2026`: a day (an
        estimate, a ship date), in the customer's zone."""
        return self._full_date(self._as_day(value))

    def short_day(self, value: date | datetime, skeleton: str = "MMMEd") -> str:
        """`Fri, Nov 27`, `ven. 27 nov.`: for SMS. `skeleton` is a CLDR skeleton: a template may ask for another
        (es-US SMS ask for "MMMd", `27 nov`, because `sáb` would turn a Saturday's SMS into UCS-2)."""
        return self._skeleton(self._as_day(value), skeleton)

    def money(self, amount: str | Decimal | None) -> str:
        """`$1,234.50`, `1 234,50 $ US`, `SEK 1,200.00`: an amount in the order's currency, as the locale writes
        it. Rounded half up to the currency's minor units (none for JPY), as a bill is."""
        if amount is None:
            return ""
        places = get_currency_precision(self.currency) if self.currency else 2
        try:
            value = Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        except InvalidOperation:  # not a number, or beyond Decimal's precision: shown as given, never dropped
            return str(amount)
        if not value.is_finite():
            return str(amount)
        if self.currency is None:
            return self._tidy(format_decimal(value, format="#,##0." + "0" * places, locale=self._babel))
        text = format_currency(value, self.currency, locale=self._babel, currency_digits=True)
        return _LETTER_THEN_DIGIT.sub("\u00a0", self._tidy(text))

    def _tidy(self, text: str) -> str:
        text = text.translate(_NARROW_NBSP)
        return gsm_letters(text) if self.gsm else text

    def _full_date(self, day: date) -> str:
        return self._tidy(format_date(day, "full", locale=self._babel))

    def _skeleton(self, day: date, skeleton: str) -> str:
        return self._tidy(format_skeleton(skeleton, day, locale=self._babel))

    def _clock(self, local: datetime) -> str:
        return self._tidy(format_time(local, "short", locale=self._babel))

    def _zone(self, local: datetime) -> str:
        try:
            name = get_timezone_name(local, "short", locale=self._babel)
        except (LookupError, ValueError, AttributeError):  # a fixed offset Babel cannot name: shown as an offset
            name = ""
        if _ZONE_ABBREVIATION.match(name):
            return name
        return self._tidy(get_timezone_gmt(local, "long", locale=self._babel))

    def _as_day(self, value: date | datetime) -> date:
        if not isinstance(value, datetime):
            return value
        # Carriers publish estimated days as midnight UTC ("2024-08-05T00:00:00Z"); converting that to
        # New York would show the day before. Midnight UTC is read as the day it names.
        if value.utcoffset() == timedelta(0) and value.timetz().replace(tzinfo=None) == time(0, 0):
            return value.date()
        return self._local(value).date()

    def _local(self, value: datetime) -> datetime:
        """`value` in the customer's zone, or as published when that would leave years 1-9999
        (`9999-12-31T23:00:00-05:00` is a valid contract time; converting it raises OverflowError)."""
        try:
            return value.astimezone(self.tz)
        except OverflowError:
            return value
