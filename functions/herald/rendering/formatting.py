"""Readable dates and amounts for templates, and the text clean-ups rendering relies on.

Dates are shown in the customer's IANA time zone when the event gives one (UTC otherwise, labelled
as such). Names and formats are English (en-US); see the report on locales in renderer.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$"}
# ISO 4217 currencies without minor units: "¥1,500", never "¥1,500.00".
_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "RWF", "XAF", "XOF", "XPF"})
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


@dataclass(frozen=True)
class Formatter:
    """The formatting helpers a template calls as `fmt.<name>(...)`, bound to one customer and order."""

    tz: tzinfo
    currency: str | None

    def moment(self, value: datetime) -> str:
        """`Friday, November 27, 2026 at 9:03 AM EST`: an exact time, in the customer's zone."""
        local = self._local(value)
        return f"{self._long_date(local.date())} at {self._clock(local)}"

    def short_moment(self, value: datetime) -> str:
        """`Fri, Nov 27, 9:03 AM`: for SMS."""
        local = self._local(value)
        return f"{self._short_date(local.date())}, {self._clock(local, zone=False)}"

    def day(self, value: date | datetime) -> str:
        """`Friday, November 27, 2026`: a day (an estimate, a ship date), in the customer's zone."""
        return self._long_date(self._as_day(value))

    def short_day(self, value: date | datetime) -> str:
        """`Fri, Nov 27`: for SMS."""
        return self._short_date(self._as_day(value))

    def money(self, amount: str | Decimal | None) -> str:
        """`$1,234.50`, `€12.00`, `1,200.00 SEK`: an amount in the order's currency."""
        if amount is None:
            return ""
        try:
            value = Decimal(amount)
        except InvalidOperation:
            return str(amount)
        places = 0 if self.currency in _ZERO_DECIMAL else 2
        quantum = Decimal(1).scaleb(-places)
        number = f"{abs(value.quantize(quantum, rounding=ROUND_HALF_UP)):,.{places}f}"
        sign = "-" if value < 0 else ""
        if self.currency is None:
            return f"{sign}{number}"
        symbol = _SYMBOLS.get(self.currency)
        return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {self.currency}"

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

    @staticmethod
    def _long_date(day: date) -> str:
        return f"{_WEEKDAYS[day.weekday()]}, {_MONTHS[day.month - 1]} {day.day}, {day.year}"

    @staticmethod
    def _short_date(day: date) -> str:
        return f"{_WEEKDAYS[day.weekday()][:3]}, {_MONTHS[day.month - 1][:3]} {day.day}"

    @staticmethod
    def _clock(local: datetime, *, zone: bool = True) -> str:
        hour = local.hour % 12 or 12
        text = f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
        name = local.tzname() if zone else None
        return f"{text} {name}" if name else text
