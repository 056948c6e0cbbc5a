"""Outbound events: the Standard Webhooks signature (against the specification's vector), the CloudEvent's shape,
the answer classification, the registry's `outbound` entry, and the verification the docs give storefronts."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from tests.storefronts import storefront

from herald.domain.outbound import (
    MAX_EVENT_BYTES,
    OUTBOUND_TYPES,
    OutboundEvent,
    OutboundType,
    Verdict,
    outbound_event,
    outbound_event_id,
    retry_after_seconds,
    verdict,
)
from herald.webhooks import standard_webhooks as sw
from herald.webhooks.errors import SignatureInvalid, SignatureMissing, SignatureStale
from herald_tools.local.standins import storefront_webhooks

REPO = Path(__file__).resolve().parents[2]
VECTOR = json.loads((REPO / "tests/fixtures/standard_webhooks_test_vector.json").read_text())
DOCS = (REPO / "docs/outbound-webhooks.md").read_text()
KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def disputed(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "storefront_source": "storefront/acme",
        "event_type": OutboundType.DELIVERY_DISPUTED,
        "subject": "1001",
        "data": {"shipment_id": "shp_1", "answer": "not_received", "note": "Nothing on the porch"},
        "id": outbound_event_id(OutboundType.DELIVERY_DISPUTED, "1001", "submission-1"),
        "time": datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
    }
    values.update(changes)
    return outbound_event(**values)


# --- the signature -----------------------------------------------------------------------------------------


def test_the_signature_is_the_specifications_published_test_vector() -> None:
    # Given the reference library's signing vector (tests/fixtures/SOURCES.md §8)
    key = sw.signing_key(VECTOR["secret"])
    # When Herald signs its msg_id, timestamp and payload
    signature = sw.signature(key, VECTOR["msg_id"], VECTOR["timestamp"], VECTOR["payload"].encode())
    # Then it is the signature the specification's library computes
    assert signature == VECTOR["expected_signature"]


def test_verify_accepts_the_vector_among_other_signatures_and_returns_its_id() -> None:
    # Given the vector's request with a foreign-version and a wrong signature beside the right one
    key = sw.signing_key(VECTOR["secret"])
    headers = {
        "webhook-id": VECTOR["msg_id"],
        "webhook-timestamp": str(VECTOR["timestamp"]),
        "webhook-signature": f"v1a,abc v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {VECTOR['expected_signature']}",
    }
    # When it is verified at the time it was signed
    found = sw.verify([key], headers, VECTOR["payload"].encode(), now=VECTOR["timestamp"])
    # Then it verifies and names its webhook-id
    assert found == VECTOR["msg_id"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda h, b: (h, b + b" "), SignatureInvalid),  # one byte more in the body
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), SignatureInvalid),  # the id is signed too
        (lambda h, b: ({**h, "webhook-timestamp": str(VECTOR["timestamp"] + 301)}, b), SignatureStale),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), SignatureMissing),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), SignatureInvalid),
    ],
)
def test_verify_refuses_a_changed_request(change: Any, error: type[Exception]) -> None:
    # Given the vector's request, changed
    key = sw.signing_key(VECTOR["secret"])
    headers = {
        "webhook-id": VECTOR["msg_id"],
        "webhook-timestamp": str(VECTOR["timestamp"]),
        "webhook-signature": VECTOR["expected_signature"],
    }
    changed_headers, body = change(headers, VECTOR["payload"].encode())
    # When it is verified, Then it is refused with the reason's kind
    with pytest.raises(error):
        sw.verify([key], changed_headers, body, now=VECTOR["timestamp"])


def test_every_key_signs_in_order_so_a_receiver_with_either_key_verifies() -> None:
    # Given a rotation: the new key first, the old one second
    new, old = bytes(range(24)), bytes(range(100, 132))
    header = sw.headers([new, old], "hrld_1", 1_764_662_400, b"{}")
    # Then the header holds one signature per key, in that order
    assert header["webhook-signature"].split(" ") == [
        sw.signature(new, "hrld_1", 1_764_662_400, b"{}"),
        sw.signature(old, "hrld_1", 1_764_662_400, b"{}"),
    ]
    # And a receiver holding only the old key still verifies the request
    assert sw.verify([old], header, b"{}", now=1_764_662_400) == "hrld_1"


def test_an_id_with_a_full_stop_is_never_signed() -> None:
    # Given an id holding "." (the specification forbids it: "a.1" + ".2" and "a" + ".1.2" would sign alike)
    # When it is signed, Then it is refused
    with pytest.raises(ValueError, match=re.escape("'.'")):
        sw.signature(KEY, "a.1", 2, b"{}")


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (base64.b64encode(KEY).decode(), "starts with whsec_"),
        ("whsec_" + base64.b64encode(bytes(16)).decode(), "24 to 64 bytes, not 16"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "not 65"),
        ("whsec_not base64!", "followed by base64"),
        ('{"keys": []}', '{"keys"'),
        ('{"keys": ', "not JSON"),
    ],
)
def test_a_secret_that_is_not_a_signing_secret_is_refused_without_quoting_it(secret: str, problem: str) -> None:
    # When the secret is read, Then it is refused naming the problem, and the message holds nothing of the value
    with pytest.raises(sw.SigningSecretInvalid) as refused:
        sw.signing_keys(secret)
    assert problem in str(refused.value)
    if not secret.startswith("{"):  # (the JSON shapes are the document's structure, not key material)
        assert secret.removeprefix("whsec_")[:8] not in str(refused.value)


def test_a_secret_is_one_whsec_value_or_a_list_of_keys_newest_first() -> None:
    other = "whsec_" + base64.b64encode(bytes(range(1, 25))).decode()
    assert sw.signing_keys(f"  {SECRET}\n") == [KEY]
    assert sw.signing_keys(json.dumps({"keys": [other, SECRET]})) == [bytes(range(1, 25)), KEY]


# --- the docs' verification is what the receiver stand-in runs, and it verifies Herald's signature ----------


def test_the_docs_verification_snippet_is_the_receiver_stand_ins_function() -> None:
    # Given the Python the docs give storefronts, and the stand-in's function
    snippet = re.search(r"```python\n(import base64.*?)```", DOCS, re.S)
    assert snippet is not None
    source = Path(storefront_webhooks.__file__).read_text()
    own = source[source.index("def verify_herald_webhook") : source.index("# --- end of the docs' snippet")]
    # Then the docs hold the stand-in's function word for word
    assert own.strip() in snippet.group(1)
    # And run as they are, they verify the specification's vector and a request Herald signed with two keys
    namespace: dict[str, Any] = {}
    exec(compile(snippet.group(1), "docs/outbound-webhooks.md", "exec"), namespace)  # noqa: S102 - our own docs
    verify = namespace["verify_herald_webhook"]
    vector_headers = {
        "webhook-id": VECTOR["msg_id"],
        "webhook-timestamp": str(VECTOR["timestamp"]),
        "webhook-signature": VECTOR["expected_signature"],
    }
    assert verify(VECTOR["secret"], vector_headers, VECTOR["payload"].encode(), VECTOR["timestamp"]) == {
        "test": 2432232314
    }
    event = OutboundEvent.model_validate(disputed())
    other = "whsec_" + base64.b64encode(bytes(range(1, 25))).decode()
    headers = sw.headers(sw.signing_keys(json.dumps({"keys": [other, SECRET]})), event.id, 1_764_662_400, event.body())
    assert verify(SECRET, headers, event.body(), 1_764_662_400)["id"] == event.id
    with pytest.raises(ValueError, match="stale"):
        verify(SECRET, headers, event.body(), 1_764_662_400 + 301)


# --- the event -----------------------------------------------------------------------------------------------


def test_an_outbound_event_is_a_cloudevent_about_the_storefronts_order() -> None:
    # When the lead's code builds a disputed-delivery event
    event = disputed()
    # Then it carries every CloudEvents attribute, sourced herald/<storefront source>, about the order
    assert event == {
        "specversion": "1.0",
        "id": outbound_event_id("delivery.disputed", "1001", "submission-1"),
        "source": "herald/storefront/acme",
        "type": "delivery.disputed",
        "time": "2026-12-02T08:00:00Z",
        "subject": "1001",
        "datacontenttype": "application/json",
        "data": {"shipment_id": "shp_1", "answer": "not_received", "note": "Nothing on the porch"},
    }
    parsed = OutboundEvent.model_validate(event)
    assert parsed.storefront_source == "storefront/acme"
    # And its body is compact ASCII JSON of exactly that
    assert json.loads(parsed.body()) == event
    assert b" " not in parsed.body().replace(b"Nothing on the porch", b"")
    assert OutboundEvent.model_validate(disputed(data={"shipment_id": "s", "answer": "é"})).body().isascii()


def test_the_id_is_deterministic_from_its_cause_and_distinct_for_another() -> None:
    # Given one cause given twice, and causes that differ in one part
    first = outbound_event_id("delivery.disputed", "1001", "submission-1")
    # Then the same cause gives the same id (a retry, a double submission), and any other part another id
    assert first == outbound_event_id(OutboundType.DELIVERY_DISPUTED, "1001", "submission-1")
    others = {
        outbound_event_id("delivery.confirmed", "1001", "submission-1"),
        outbound_event_id("delivery.disputed", "1002", "submission-1"),
        outbound_event_id("delivery.disputed", "1001", "submission-2"),
        outbound_event_id("delivery.disputed", "100", "1submission-1"),  # parts are length-prefixed
    }
    assert first not in others
    assert len(others) == 4
    assert re.fullmatch(r"hrld_[0-9a-f]{40}", first)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"data": {"shipment_id": "shp_1"}}, "delivery.disputed data lacks answer"),
        ({"id": "evt.1"}, "id"),
        ({"event_type": "order.placed"}, "order.placed"),
        ({"subject": ""}, "subject"),
        ({"data": {"shipment_id": "s", "answer": "x" * MAX_EVENT_BYTES}}, "over the 32768 allowed"),
        ({"time": datetime(2026, 12, 2, 8, 0)}, "time"),  # naive: refused
    ],
)
def test_an_event_the_model_refuses_names_what_is_wrong(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        disputed(**changes)


def test_every_outbound_type_has_its_registry_entry_and_its_row_in_the_docs() -> None:
    for event_type in OutboundType:
        spec = OUTBOUND_TYPES[event_type]
        row = re.search(rf"^\| `{re.escape(event_type.value)}` \|.*\| (.*) \|$", DOCS, re.M)
        assert row is not None, event_type
        # And the docs list exactly the data keys the model requires
        assert re.findall(r"`(\w+)`", row.group(1)) == list(spec.required_data), event_type


# --- what an answer means ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (299, Verdict.DELIVERED),
        (None, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (301, Verdict.PERMANENT),
        (307, Verdict.PERMANENT),
        (400, Verdict.PERMANENT),
        (401, Verdict.PERMANENT),
        (404, Verdict.PERMANENT),
        (410, Verdict.PERMANENT),
        (422, Verdict.PERMANENT),
    ],
)
def test_answers_are_delivered_retried_or_final(status: int | None, expected: Verdict) -> None:
    assert verdict(status) is expected


def test_retry_after_is_read_in_seconds_capped_and_a_date_is_ignored() -> None:
    assert retry_after_seconds("120", maximum=3600) == 120
    assert retry_after_seconds(" 99999 ", maximum=3600) == 3600
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT", maximum=3600) is None
    assert retry_after_seconds(None, maximum=3600) is None


# --- the registry's outbound entry ---------------------------------------------------------------------------


def test_a_storefront_names_its_outbound_url_secret_bus_and_returns_portal() -> None:
    entry = storefront(
        outbound={
            "url": "https://acme.example/hooks/herald",
            "secret_id": "herald/acme/outbound",
            "event_bus_arn": "arn:aws:events:us-east-1:444455556666:event-bus/acme-orders",
            "returns_portal_url": "https://acme.example/returns",
        }
    )
    assert entry.outbound is not None
    assert entry.outbound.event_bus_arn == "arn:aws:events:us-east-1:444455556666:event-bus/acme-orders"
    assert storefront().outbound is None


@pytest.mark.parametrize(
    ("outbound", "field"),
    [
        ({"url": "http://acme.example/hooks", "secret_id": "s"}, "outbound.url"),
        ({"url": "https://acme.example/a b", "secret_id": "s"}, "outbound.url"),
        ({"url": "https://acme.example/h", "secret_id": "no spaces allowed"}, "outbound.secret_id"),
        ({"url": "https://acme.example/h", "secret_id": "s", "event_bus_arn": "acme-orders"}, "event_bus_arn"),
        ({"url": "https://acme.example/h", "secret_id": "s", "returns_portal_url": "ftp://x"}, "returns_portal_url"),
        ({"url": "https://acme.example/h", "secret_id": "s", "secret": "whsec_..."}, "outbound.secret"),
    ],
)
def test_an_outbound_entry_with_a_bad_field_is_refused_naming_it(outbound: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        storefront(outbound=outbound)
    assert field in str(refused.value).replace("\n", " ").replace(" ", "."), refused.value
