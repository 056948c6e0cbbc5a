"""Each platform's webhook signature check (herald.intake.signatures): published vectors where they exist,
computed ones otherwise, and every way a forged or damaged request must be refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest
from tests.fixtures import fixture_path, load_fixture  # published payloads: tests/fixtures/SOURCES.md

from herald.intake.signatures import (
    aftership_valid,
    easypost_valid,
    onfleet_check_echo,
    onfleet_valid,
    shippo_valid,
    shopify_valid,
)

EASYPOST_VECTOR = load_fixture("easypost_webhook_hmac_test_vector.json")
# The vector is over the published body without the file's one trailing newline (SOURCES.md).
EASYPOST_BODY = fixture_path("easypost_tracker_updated_event.json").read_bytes().removesuffix(b"\n")
EASYPOST_HEADER = EASYPOST_VECTOR["expected_header_value"]
EASYPOST_SECRET = EASYPOST_VECTOR["webhook_secret"]

AFTERSHIP_BODY = fixture_path("aftership_tracking_update_intransit_trimmed.json").read_bytes()
ONFLEET_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # Onfleet secrets are hex strings (docs: reference/secrets)
ONFLEET_BODY = json.dumps({"triggerName": "taskCompleted", "taskId": "11z1BFspwhBYDvIH_FrJfWMm"}).encode()
SHOPIFY_BODY = fixture_path("shopify_orders_create.json").read_bytes()
SECRET = "hush-its-a-secret"


def b64_hmac_sha256(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def onfleet_signature(secret_hex: str, body: bytes) -> str:
    # As Onfleet's documented Python: hmac.new(binascii.a2b_hex(secret), body, 'sha512').hexdigest()
    return hmac.new(bytes.fromhex(secret_hex), body, hashlib.sha512).hexdigest()


Check = Callable[[bytes, str | None, str], bool]

# (name, check, body, a valid header, the secret that made it)
CASES: list[tuple[str, Check, bytes, str, str]] = [
    ("shopify", shopify_valid, SHOPIFY_BODY, b64_hmac_sha256(SECRET, SHOPIFY_BODY), SECRET),
    ("easypost", easypost_valid, EASYPOST_BODY, EASYPOST_HEADER, EASYPOST_SECRET),
    ("aftership", aftership_valid, AFTERSHIP_BODY, b64_hmac_sha256(SECRET, AFTERSHIP_BODY), SECRET),
    ("onfleet", onfleet_valid, ONFLEET_BODY, onfleet_signature(ONFLEET_SECRET, ONFLEET_BODY), ONFLEET_SECRET),
]
IDS = [case[0] for case in CASES]


def test_easypost_published_vector_verifies() -> None:
    """Given EasyPost's official fixture body, secret "sécret" and expected header,
    When the check runs, Then it accepts; and with the secret not NFKD-normalised it would not have."""
    assert easypost_valid(EASYPOST_BODY, EASYPOST_HEADER, EASYPOST_SECRET)
    composed = EASYPOST_SECRET.encode("utf-8")  # "é" as one code point: EasyPost signs with the NFKD form
    raw = "hmac-sha256-hex=" + hmac.new(composed, EASYPOST_BODY, hashlib.sha256).hexdigest()
    assert raw != EASYPOST_HEADER


def test_easypost_upper_case_hex_is_the_same_signature() -> None:
    """Given the published header with its hex in upper case, Then it is the same digest and is accepted."""
    prefix, digest = EASYPOST_HEADER.split("=", 1)
    assert easypost_valid(EASYPOST_BODY, f"{prefix}={digest.upper()}", EASYPOST_SECRET)


def test_easypost_header_without_its_prefix_is_refused() -> None:
    """Given the right hex digest but not in EasyPost's `hmac-sha256-hex=` form, Then it is refused."""
    assert not easypost_valid(EASYPOST_BODY, EASYPOST_HEADER.split("=", 1)[1], EASYPOST_SECRET)


def test_onfleet_uses_the_hex_decoded_secret() -> None:
    """Given a signature keyed with the secret's text rather than its hex-decoded bytes (a common mistake),
    Then Onfleet's check refuses it: Onfleet documents the hex-decoded key."""
    wrong = hmac.new(ONFLEET_SECRET.encode(), ONFLEET_BODY, hashlib.sha512).hexdigest()
    assert not onfleet_valid(ONFLEET_BODY, wrong, ONFLEET_SECRET)
    assert onfleet_valid(ONFLEET_BODY, onfleet_signature(ONFLEET_SECRET, ONFLEET_BODY), ONFLEET_SECRET)


def test_onfleet_secret_that_is_not_hex_refuses_everything() -> None:
    """Given a misconfigured (non-hex) Onfleet secret, Then no header is accepted and nothing raises."""
    assert not onfleet_valid(ONFLEET_BODY, onfleet_signature(ONFLEET_SECRET, ONFLEET_BODY), "not-hex!")


@pytest.mark.parametrize(("name", "check", "body", "header", "secret"), CASES, ids=IDS)
def test_valid_signature_is_accepted(name: str, check: Check, body: bytes, header: str, secret: str) -> None:
    """Given a body and the header its platform computes with the secret, When checked, Then it is accepted."""
    assert check(body, header, secret)


@pytest.mark.parametrize(("name", "check", "body", "header", "secret"), CASES, ids=IDS)
def test_wrong_secret_is_refused(name: str, check: Check, body: bytes, header: str, secret: str) -> None:
    """Given a valid header, When checked with another secret, Then it is refused."""
    other = "0f" * 16 if name == "onfleet" else secret + "x"
    assert not check(body, header, other)


@pytest.mark.parametrize(("name", "check", "body", "header", "secret"), CASES, ids=IDS)
def test_one_tampered_byte_is_refused(name: str, check: Check, body: bytes, header: str, secret: str) -> None:
    """Given a valid header, When one byte of the body changes, Then it is refused."""
    tampered = bytearray(body)
    tampered[len(tampered) // 2] ^= 0x01
    assert not check(bytes(tampered), header, secret)


@pytest.mark.parametrize(("name", "check", "body", "header", "secret"), CASES, ids=IDS)
def test_header_in_the_wrong_encoding_is_refused(
    name: str, check: Check, body: bytes, header: str, secret: str
) -> None:
    """Given the right digest in the other encoding (hex where base64 is due, and the reverse), Then refused."""
    prefix = "hmac-sha256-hex=" if name == "easypost" else ""
    value = header.removeprefix(prefix)
    if name in ("shopify", "aftership"):
        reencoded = base64.b64decode(value).hex()
    else:
        reencoded = base64.b64encode(bytes.fromhex(value)).decode()
    assert not check(body, prefix + reencoded, secret)


@pytest.mark.parametrize(("name", "check", "body", "header", "secret"), CASES, ids=IDS)
def test_truncated_header_is_refused(name: str, check: Check, body: bytes, header: str, secret: str) -> None:
    """Given a valid header cut short (by 2 and by 4 characters, still decodable in some cases), Then refused."""
    assert not check(body, header[:-2], secret)
    assert not check(body, header[:-4], secret)


@pytest.mark.parametrize(("name", "check", "body", "header", "secret"), CASES, ids=IDS)
@pytest.mark.parametrize("bad", [None, "", " ", "\u00e9\u00e9", "=" * 8, "hmac-sha256-hex="])
def test_missing_empty_or_garbage_header_is_refused_without_raising(
    name: str, check: Check, body: bytes, header: str, secret: str, bad: str | None
) -> None:
    """Given no header, an empty one or garbage, When checked, Then it is refused and nothing raises."""
    assert not check(body, bad, secret)


@pytest.mark.parametrize(("name", "check", "body", "header", "secret"), CASES, ids=IDS)
def test_empty_secret_refuses_even_a_header_made_with_it(
    name: str, check: Check, body: bytes, header: str, secret: str
) -> None:
    """Given an unconfigured (empty) secret, When a header computed with that empty key arrives, Then refused:
    an unconfigured storefront accepts nothing."""
    forged = {
        "shopify": b64_hmac_sha256("", body),
        "aftership": b64_hmac_sha256("", body),
        "easypost": "hmac-sha256-hex=" + hmac.new(b"", body, hashlib.sha256).hexdigest(),
        "onfleet": hmac.new(b"", body, hashlib.sha512).hexdigest(),
    }[name]
    assert not check(body, forged, "")


def test_shippo_token_matches_only_the_configured_token() -> None:
    """Given Shippo's documented URL token, When the request's `?token=` is the configured one, Then accepted;
    another, a prefix of it, a missing or empty one, or an unconfigured secret, Then refused."""
    assert shippo_valid("123abc", "123abc")
    assert not shippo_valid("123abd", "123abc")
    assert not shippo_valid("123ab", "123abc")
    assert not shippo_valid(None, "123abc")
    assert not shippo_valid("", "123abc")
    assert not shippo_valid("", "")
    assert not shippo_valid("123abc", "")


def test_onfleet_check_echo_answers_the_registration_check() -> None:
    """Given Onfleet's registration GET `?check=<value>`, Then the value is what to answer with; without a
    check (or an empty, oversized or unprintable one), Then None (not a validation request)."""
    assert onfleet_check_echo({"check": "nLNSpGUdhtQkYxjhF9qh2w7M"}) == "nLNSpGUdhtQkYxjhF9qh2w7M"
    assert onfleet_check_echo({}) is None
    assert onfleet_check_echo({"check": ""}) is None
    assert onfleet_check_echo({"check": "x" * 201}) is None
    assert onfleet_check_echo({"check": "a\r\nSet-Cookie: x"}) is None
