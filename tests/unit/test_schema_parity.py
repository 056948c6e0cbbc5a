"""The published JSON Schemas (schemas/) answer as dispatch's parser does: a producer validating with them gets
the same accept/reject answer as Herald's runtime, for every sample and for variants built here from them.

The one runtime rule left out on purpose: the 24 h future bound on `time` depends on the reader's clock (the
schema's description says so); parse_event is called without `now`, which leaves that bound out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from herald.contract.parsing import EventRejected, parse_event

ROOT = Path(__file__).resolve().parents[2]
EVENTS, SCHEMAS = ROOT / "events", ROOT / "schemas"
VALIDATORS = {
    path.name.removesuffix(".schema.json"): Draft202012Validator(
        json.loads(path.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for path in SCHEMAS.glob("*.schema.json")
}


def schema_accepts(body: str) -> bool:
    try:
        document = json.loads(body)
    except ValueError:
        return False
    validator = VALIDATORS.get(document.get("type")) if isinstance(document, dict) else None
    # A type with no published schema is one no producer can validate: the schemas refuse it.
    return validator is not None and validator.is_valid(document)


def runtime_accepts(body: str) -> bool:
    try:
        parse_event(body)
    except EventRejected:
        return False
    return True


def _sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return document


def _variant(name: str, change: Callable[[dict[str, Any]], object]) -> str:
    document = copy.deepcopy(_sample(name))
    change(document)
    return json.dumps(document)


def _customer(**fields: Any) -> Callable[[dict[str, Any]], object]:
    return lambda e: e["data"]["customer"].update(fields)


def _drop_contacts(e: dict[str, Any]) -> None:
    e["data"]["customer"].pop("email", None)
    e["data"]["customer"].pop("phone", None)


FILES = sorted(
    p for p in EVENTS.glob("**/*.json") if "sqs" not in p.parts and "demo" not in p.parts
)  # the SQS-wrapped copies are not events; the demo's are the samples again
VARIANTS: dict[str, str] = {
    "no email, no phone": _variant("order.placed", _drop_contacts),
    "email not-an-email, no phone": _variant("order.placed", lambda e: (_drop_contacts(e), _customer(email="x")(e))),
    "email not-an-email": _variant("order.placed", _customer(email="not-an-email")),
    "email without a dotted domain": _variant("order.placed", _customer(email="a@localhost")),
    "email with an angle bracket": _variant("order.placed", _customer(email="a<b@example.com")),
    "email with a space inside": _variant("order.placed", _customer(email="a b@example.com")),
    "email with a NUL": _variant("order.placed", _customer(email="a\u0000b@example.com")),
    "email padded with spaces": _variant("order.placed", _customer(email="  ana@example.com  ")),
    "email with two @": _variant("order.placed", _customer(email="a@b@example.com")),
    "blank email, a phone": _variant("order.placed", _customer(email="")),
    "blank email, blank phone": _variant("order.placed", _customer(email="", phone=" ")),
    "null email, null phone": _variant("order.placed", _customer(email=None, phone=None)),
    "null email, a phone": _variant("order.placed", _customer(email=None)),
    "no phone, an email": _variant("order.placed", lambda e: e["data"]["customer"].pop("phone", None)),
    "phone longer than 32": _variant("order.placed", _customer(phone="+1" + "5" * 31)),
    "http status_url": _variant(
        "order.placed", lambda e: e["data"]["order"].update(status_url="http://shop.example/o")
    ),
    "HTTPS status_url": _variant(
        "order.placed", lambda e: e["data"]["order"].update(status_url="HTTPS://shop.example/o")
    ),
    "http image_url (allowed)": _variant(
        "order.placed", lambda e: e["data"]["order"]["items"][0].update(image_url="http://cdn.example/a.png")
    ),
    "http tracking_url": _variant(
        "shipment.in_transit", lambda e: e["data"]["shipment"].update(tracking_url="http://track.example/1")
    ),
    "http photo_url": _variant(
        "shipment.delivered", lambda e: e["data"].setdefault("proof", {}).update(photo_url="http://p.example/1.jpg")
    ),
    "http label_url": _variant("return.approved", lambda e: e["data"]["return"].update(label_url="http://l.example/1")),
    "shipment without contact": _variant("shipment.delivered", _drop_contacts),
}
CORPUS = {str(p.relative_to(EVENTS)): p.read_text() for p in FILES} | VARIANTS


def test_the_corpus_holds_both_answers() -> None:
    # Given the corpus; Then it has events each side accepts and rejects (a parity over one answer proves nothing)
    answers = {runtime_accepts(body) for body in CORPUS.values()}
    assert answers == {True, False}
    assert runtime_accepts(VARIANTS["no email, no phone"]) is False
    assert runtime_accepts(VARIANTS["email padded with spaces"]) is True


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_published_schema_and_the_runtime_give_the_same_answer(name: str) -> None:
    # Given an event of the corpus
    body = CORPUS[name]
    # When it is validated by the published schema and parsed by dispatch's parser
    # Then both accept it or both reject it
    assert schema_accepts(body) is runtime_accepts(body)
