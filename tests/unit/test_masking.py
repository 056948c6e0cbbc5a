"""Masking of personal data in log lines and stored free text: national phone formats, RFC 5322 local parts."""

from __future__ import annotations

import json

import pytest

from herald.domain.masking import mask_text


@pytest.mark.parametrize(
    ("number", "digits"),
    [
        ("07700 900123", "7700900123"),
        ("+44 7700 900123", "447700900123"),
        ("(415) 555-0100", "4155550100"),
        ("415-555-0100", "4155550100"),
        ("+1 (415) 555-0100", "14155550100"),
        ("06 12 34 56 78", "612345678"),
        ("020 7946 0018", "2079460018"),
        ("+33 6 12 34 56 78", "33612345678"),
        ("+14155552671", "14155552671"),
    ],
)
def test_phone_numbers_in_national_and_grouped_formats_are_masked(number: str, digits: str) -> None:
    # Given a log line quoting a customer's number as they typed it
    line = json.dumps({"message": f"Twilio refused {number}: not reachable", "to": number})
    # When masked
    masked = mask_text(line)
    # Then the number is unreadable (neither as typed nor as a run of its digits) and the rest is intact
    assert number not in masked
    assert digits not in "".join(c for c in masked if c.isdigit() or c == " ").replace(" ", "")
    assert "Twilio refused " in masked
    assert ": not reachable" in masked


@pytest.mark.parametrize(
    "address",
    [
        "o'brien+tag@x.example",
        "a!b#c@x.example",
        "d$e%f&g*h@x.example",
        "i/j=k?l^m@x.example",
        "n_o`p{q|r}s~t@x.example",
        "first.last-x@x.example",
    ],
)
def test_every_character_rfc_5322_allows_in_a_local_part_is_masked(address: str) -> None:
    # Given a bounce reason quoting an address whose local part uses RFC 5322's atext characters
    text = f"550 5.1.1 <{address}>: Recipient address rejected"
    # When masked
    masked = mask_text(text)
    # Then nothing of the local part but its first character is left, and the domain and the rest are kept
    local = address.split("@")[0]
    assert local not in masked
    assert local[1:] not in masked
    assert f"<{local[0]}***@x.example>: Recipient address rejected" in masked


def test_dates_times_amounts_and_ids_stay_readable() -> None:
    # Given a log line with the numbers logs are made of
    line = json.dumps(
        {
            "timestamp": "2026-11-27 14:03:11,123+0000",
            "at": "2026-11-27T14:03:11Z",
            "ms": 1764253391000,
            "took": 1234.5,
            "zip": "94107-1234",
            "order": "100234567",
            "trace": "1-5759e988-bd862e3fe1be46a994272793",
            "id": "550e8400-e29b-41d4-a716-446655440000",
            "smtp": "5.1.1",
            "version": "v2.10.100",
        }
    )
    # When masked; Then nothing changed
    assert mask_text(line) == line
