"""SMS encodings and segment counting, as carriers (and Twilio's bill) count them.

An SMS is GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table,
otherwise UCS-2. A single GSM-7 message holds 160 septets, a part of a concatenated one 153 (the user
data header takes the rest); an extension-table character is an escape plus a septet, so it counts 2
and is never split across two parts. UCS-2 holds 70 UTF-16 code units, 67 per part; a character
outside the Basic Multilingual Plane (most emoji) is a surrogate pair: 2 units, never split either.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet, in table order. 0x1B (ESC) is left out: it only introduces an
# extension character and is never a character of the text.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each of these costs an escape septet plus its own.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# So: emoji and pictographs; Sk: skin-tone modifiers; Cf: zero-width joiners; Co: private use.
_SYMBOL_CATEGORIES = frozenset({"So", "Sk", "Cf", "Co"})

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

# Typographic characters that storefronts paste from word processors. Each one alone would switch a
# whole message to UCS-2 (70 characters instead of 160), so SMS text is folded to these look-alikes.
_GSM_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
        "\u200b": "",
        "\ufeff": "",
    }
)


def encoding_of(text: str) -> Encoding:
    """`GSM-7` when every character has a GSM 03.38 code (basic or extension table), else `UCS-2`."""
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def segment_count(text: str) -> int:
    """How many SMS segments `text` is sent as (0 for an empty text: there is nothing to send)."""
    if encoding_of(text) == "GSM-7":
        return _pack((2 if c in GSM7_EXTENSION else 1 for c in text), GSM7_SINGLE, GSM7_PART)
    return _pack((2 if ord(c) > 0xFFFF else 1 for c in text), UCS2_SINGLE, UCS2_PART)


def gsm_friendly(text: str) -> str:
    """`text` with typographic quotes, dashes, ellipses and odd spaces replaced by GSM-7 look-alikes."""
    return text.translate(_GSM_LOOKALIKES)


def without_symbols(text: str) -> str:
    """`text` without emoji and other pictographic symbols (and their joiners, selectors, skin tones).

    Letters of every script stay: a name in Cyrillic is still that name. Characters GSM-7 can carry
    (`£`, `€`, `§`...) stay too.
    """
    return "".join(c for c in text if c in GSM7_BASIC or c in GSM7_EXTENSION or not _is_symbol(c))


def gsm_letters(text: str) -> str:
    """`text` with each accented letter GSM-7 lacks written as its GSM-7 base letter: á í ó ú -> a i o u,
    ç ê ô î û -> c e o i u (Spanish and French names and free text). The accented letters GSM-7 has (é è à ù
    ñ ü ä ö Ç É...) stay, and so do letters of other scripts (Cyrillic Ё decomposes to a Cyrillic letter,
    which GSM-7 lacks too)."""
    return "".join(_gsm_letter(c) for c in text)


@lru_cache(maxsize=1024)
def _gsm_letter(char: str) -> str:
    if char in GSM7_BASIC or char in GSM7_EXTENSION:
        return char
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if marks and base in GSM7_BASIC and all(unicodedata.combining(mark) for mark in marks):
        return base
    return char


def _is_symbol(char: str) -> bool:
    return unicodedata.category(char) in _SYMBOL_CATEGORIES or "\ufe00" <= char <= "\ufe0f"


def _pack(weights: Iterable[int], single: int, part: int) -> int:
    """Segments for characters of the given unit weights: one if all fit in `single`, else greedy parts.

    A character never straddles two parts: when it does not fit in what is left of a part, the part
    is closed short and the character opens the next one (handsets and carriers do the same).
    """
    sizes = list(weights)
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > part:
            parts += 1
            used = 0
        used += size
    return parts
