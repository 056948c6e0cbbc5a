"""Table keys built from parts (herald.domain.keys): no two different lists of parts give one key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.domain.keys import key, key_prefix, split_key

PARTS = st.lists(st.text(alphabet="ab#\\%", max_size=4), min_size=1, max_size=4)


def test_parts_holding_the_separator_no_longer_make_one_key() -> None:
    # Given the two orders that used to share an item: (shop, a#b) and (shop#a, b)
    # When their keys are built / Then they differ, and each reads back as its own parts
    first, second = key("ORDER", "shop", "a#b"), key("ORDER", "shop#a", "b")
    assert first != second
    assert split_key(first) == ["ORDER", "shop", "a#b"]
    assert split_key(second) == ["ORDER", "shop#a", "b"]


def test_a_part_without_separator_or_escape_is_joined_as_before() -> None:
    # Given ordinary parts / When joined / Then the key is what the raw join gave (stored items stay put)
    assert key("ORDER", "storefront/acme-outdoor", "ord_1001") == "ORDER#storefront/acme-outdoor#ord_1001"


def test_an_escape_character_at_the_end_of_a_part_cannot_swallow_the_separator() -> None:
    # Given a part ending in the escape character, and the list it would be confused with raw
    # When both are keyed / Then they differ
    assert key("a\\", "b") != key("a\\#b")
    assert split_key(key("a\\", "b")) == ["a\\", "b"]


@given(PARTS, PARTS)
def test_different_lists_of_parts_never_share_a_key(first: list[str], second: list[str]) -> None:
    # Given any two lists of parts made of separators, escapes and letters
    # When keyed / Then the keys are equal only when the lists are, and each key splits back into its list
    assert (key(*first) == key(*second)) == (first == second)
    assert split_key(key(*first)) == first


def test_a_prefix_matches_only_keys_that_continue_after_all_its_parts() -> None:
    # Given the prefix of event evt_1's notifications
    prefix = key_prefix("NOTIF", "evt_1")
    # Then its notification keys start with it and those of event "evt_1#x" do not
    assert key("NOTIF", "evt_1", "email").startswith(prefix)
    assert not key("NOTIF", "evt_1#x", "email").startswith(prefix)


def test_a_key_needs_a_part() -> None:
    # Given no parts / When keyed / Then it is refused rather than made empty
    with pytest.raises(ValueError, match="at least one part"):
        key()
