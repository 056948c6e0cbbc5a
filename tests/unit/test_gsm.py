"""GSM-7 / UCS-2 detection and SMS segment counting, as carriers bill them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.rendering.gsm import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    encoding_of,
    gsm_friendly,
    gsm_letters,
    segment_count,
    without_symbols,
)

BASIC = sorted(GSM7_BASIC)
EXTENSION = sorted(GSM7_EXTENSION)


@pytest.mark.parametrize(
    "text",
    ["Hello, world!", "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", "line\nbreak\r", "^{}\\[~]|€\f"],
)
def test_text_of_the_gsm_alphabet_and_its_extension_is_gsm7(text: str) -> None:
    # Given text made only of GSM 03.38 characters, When its encoding is read, Then it is GSM-7
    assert encoding_of(text) == "GSM-7"


@pytest.mark.parametrize("text", ["ú", "Привет", "你好", "🙂", "it\u2019s", "\u2026", "\t", "\x1b"])
def test_any_character_outside_gsm_makes_it_ucs2(text: str) -> None:
    # Given text with one character GSM 03.38 cannot encode (curly quote, ellipsis, tab, bare ESC...)
    # When its encoding is read, Then it is UCS-2
    assert encoding_of("Order #1001 " + text) == "UCS-2"


@pytest.mark.parametrize(
    ("length", "segments"), [(0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_is_160_alone_and_153_per_part(length: int, segments: int) -> None:
    # Given GSM-7 text of this length, When counted, Then single up to 160 and 153 a part after
    assert segment_count("a" * length) == segments


def test_extension_characters_count_two_septets() -> None:
    # Given 80 euro signs (160 septets) and then one more character
    # When counted, Then 80 fit one message and the 161st septet needs a second
    assert segment_count("€" * 80) == 1
    assert segment_count("€" * 80 + "a") == 2
    assert segment_count("a" * 159 + "{") == 2


def test_an_extension_character_is_never_split_across_parts() -> None:
    # Given 152 septets, then a 2-septet character at the end of the first part, then 152 more:
    # 306 septets, which would be two parts if the escape and its character could be split
    text = "a" * 152 + "€" + "a" * 152

    # When counted, Then the euro sign opens part two and the last septet needs a third part
    assert segment_count(text) == 3
    # ...while the same length with the euro sign away from the boundary is two parts
    assert segment_count("€" + "a" * 304) == 2


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_is_70_alone_and_67_per_part(length: int, segments: int) -> None:
    # Given UCS-2 text (Cyrillic) of this length, When counted, Then 70 alone and 67 a part
    assert segment_count("ж" * length) == segments


def test_emoji_count_two_utf16_units() -> None:
    # Given 35 emoji (70 UTF-16 code units) and then one more character
    # When counted, Then 35 fit one message and one more character needs a second
    assert segment_count("😀" * 35) == 1
    assert segment_count("😀" * 35 + "a") == 2
    assert segment_count("😀" * 36) == 2


def test_an_emoji_is_never_split_across_parts() -> None:
    # Given 66 units, then a surrogate pair straddling the 67-unit boundary, then 66 more: 134 units
    text = "ж" * 66 + "😀" + "ж" * 66

    # When counted, Then the emoji opens part two and a third part is needed
    assert segment_count(text) == 3
    assert segment_count("😀" + "ж" * 132) == 2


def test_one_non_gsm_character_switches_the_whole_message_to_ucs2_limits() -> None:
    # Given a 100-character GSM-7 message (one segment), When one emoji is added
    # Then it is counted in UCS-2 and needs two segments
    assert segment_count("a" * 100) == 1
    assert segment_count("a" * 100 + "🙂") == 2


def test_typographic_punctuation_is_folded_to_gsm_lookalikes() -> None:
    # Given text pasted from a word processor
    text = "It\u2019s \u201cgreat\u201d \u2013 really\u2026 see you\u00a0soon"

    # When folded, Then it reads the same and is GSM-7
    folded = gsm_friendly(text)
    assert folded == 'It\'s "great" - really... see you soon'
    assert encoding_of(folded) == "GSM-7"


def test_without_symbols_drops_emoji_but_keeps_letters_of_every_script() -> None:
    # Given names with emoji, joiners, selectors, skin tones, and non-Latin letters
    # When symbols are removed, Then only the pictographs go
    assert without_symbols("Acme 🏔️ Outdoor") == "Acme  Outdoor"
    assert without_symbols("Jo 👍🏽 👨‍👩‍👧") == "Jo  "
    assert without_symbols("Ёлка 你好 €5 §2") == "Ёлка 你好 €5 §2"


@given(st.text(alphabet=st.sampled_from(BASIC), min_size=161, max_size=2000))
def test_long_basic_gsm_text_needs_ceil_of_septets_over_153(text: str) -> None:
    # Given any multi-part text of basic-alphabet characters (1 septet each)
    # When counted, Then it is exactly ceil(length / 153) parts
    assert segment_count(text) == math.ceil(len(text) / 153)


@given(st.text(alphabet=st.sampled_from(BASIC + EXTENSION), max_size=800))
def test_gsm_count_lies_between_the_splittable_bound_and_one_more_part_per_boundary(text: str) -> None:
    # Given any GSM-7 text
    septets = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    count = segment_count(text)

    # When counted, Then it is at least what splitting anywhere would need, and never a part per
    # boundary more (each boundary can waste at most one septet)
    if septets == 0:
        assert count == 0
    elif septets <= 160:
        assert count == 1
    else:
        assert math.ceil(septets / 153) <= count <= math.ceil(septets / 152)


@given(st.text(min_size=1, max_size=300))
def test_segment_count_never_decreases_when_text_grows(text: str) -> None:
    # Given any text, When a GSM-7 character is appended, Then it never needs fewer segments
    assert segment_count(text + "a") >= segment_count(text)


def test_gsm_letters_drops_only_the_accents_gsm7_lacks() -> None:
    # Given Spanish and French text with accented letters GSM-7 has and lacks
    text = "María Rodríguez, boîte reçue à l'entrepôt, café, niño, über, Ça, août"

    # When its letters are made GSM-7
    folded = gsm_letters(text)

    # Then á í ê ç ô û lose their accent, é ñ ü à Ç keep theirs, and the result is GSM-7
    assert folded == "Maria Rodriguez, boite recue à l'entrepot, café, niño, über, Ça, aout"
    assert encoding_of(folded) == "GSM-7"


def test_gsm_letters_keeps_letters_of_other_scripts_and_symbols() -> None:
    # Given Cyrillic, Chinese and an emoji, When folded, Then nothing changes (they have no GSM-7 base letter)
    assert gsm_letters("Ёлка 你好 🏔️") == "Ёлка 你好 🏔️"
