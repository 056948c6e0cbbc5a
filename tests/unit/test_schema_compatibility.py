"""The contract may only grow: the checker catches each kind of breaking change, and the models pass it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from herald.contract.models import EMAIL_PATTERN, HTTPS_URL_PATTERN, NON_BLANK, EventType
from herald_tools.contract.schemas import (
    contract_incompatibilities,
    generate_schemas,
    incompatibilities,
    load_schemas,
)

BASELINE_DIR = Path(__file__).resolve().parents[1] / "contract_baseline" / "v1"

# A small schema shaped like pydantic's output: $defs and $ref, nullable fields as anyOf [..., null].
BASE: dict[str, Any] = {
    "$defs": {
        "Customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "email": {"anyOf": [{"type": "string", "maxLength": 254}, {"type": "null"}], "default": None},
                "sms_consent": {"type": "boolean", "default": False},
            },
            "required": ["name"],
        },
        "Reason": {"enum": ["weather", "carrier"], "type": "string"},
    },
    "type": "object",
    "properties": {
        "type": {"const": "order.placed", "type": "string"},
        "customer": {"$ref": "#/$defs/Customer"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "amount": {"type": "number"},
        "total": {"type": "string", "pattern": r"^\d+$"},
        "reason": {"$ref": "#/$defs/Reason"},
        "items": {
            "type": "array",
            "maxItems": 250,
            "items": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]},
        },
    },
    "required": ["type", "customer"],
}

Change = Callable[[dict[str, Any]], object]


def changed(change: Change) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    change(schema)
    return schema


def props(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["properties"]


def customer(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["$defs"]["Customer"]


BREAKING: dict[str, tuple[Change, str]] = {
    "removed property": (lambda s: props(s).pop("total"), "total: property removed"),
    "removed nested property": (
        lambda s: customer(s)["properties"].pop("sms_consent"),
        "customer.sms_consent: property removed",
    ),
    "property became required": (
        lambda s: customer(s)["required"].append("email"),
        "customer.email: property became required",
    ),
    "new required property": (
        lambda s: (props(s).update(channel={"type": "string"}), s["required"].append("channel")),
        "channel: property became required",
    ),
    "type changed": (lambda s: props(s)["quantity"].update(type="string"), "quantity: type changed"),
    "type narrowed number to integer": (
        lambda s: props(s)["amount"].update(type="integer"),
        "amount: type narrowed from number to integer",
    ),
    "null no longer accepted": (
        lambda s: customer(s)["properties"].update(email={"type": "string", "maxLength": 254}),
        "customer.email: type narrowed from null|string to string",
    ),
    "enum value removed": (
        lambda s: s["$defs"]["Reason"].update(enum=["weather"]),
        "reason: enum value(s) ['carrier'] removed",
    ),
    "enum added to a free value": (
        lambda s: props(s)["total"].update(enum=["1", "2"]),
        "total: enum ['1', '2'] added",
    ),
    "const changed": (
        lambda s: props(s)["type"].update(const="order.created"),
        "type: enum value(s) ['order.placed'] removed",
    ),
    "pattern changed": (lambda s: props(s)["total"].update(pattern=r"^\d{1,3}$"), "total: pattern changed"),
    "pattern added": (
        lambda s: customer(s)["properties"]["name"].update(pattern="^[A-Z]"),
        "customer.name: pattern added",
    ),
    "format added": (lambda s: props(s)["total"].update(format="date"), "total: format added"),
    "maxLength tightened": (
        lambda s: customer(s)["properties"]["name"].update(maxLength=100),
        "customer.name: maxLength tightened from 200 to 100",
    ),
    "maxLength tightened inside a nullable": (
        lambda s: customer(s)["properties"]["email"]["anyOf"][0].update(maxLength=100),
        "customer.email: maxLength tightened from 254 to 100",
    ),
    "maxLength added in array items": (
        lambda s: props(s)["items"]["items"]["properties"]["sku"].update(maxLength=64),
        "items[].sku: maxLength 64 added",
    ),
    "maximum tightened": (
        lambda s: props(s)["quantity"].update(maximum=50),
        "quantity: maximum tightened from 100 to 50",
    ),
    "maximum added": (lambda s: props(s)["amount"].update(maximum=1000), "amount: maximum 1000 added"),
    "minimum raised": (
        lambda s: props(s)["quantity"].update(minimum=2),
        "quantity: minimum tightened from 1 to 2",
    ),
    "maxItems tightened": (
        lambda s: props(s)["items"].update(maxItems=10),
        "items: maxItems tightened from 250 to 10",
    ),
    "additionalProperties closed at the root": (
        lambda s: s.update(additionalProperties=False),
        "(root): additionalProperties closed",
    ),
    "additionalProperties closed in a definition": (
        lambda s: customer(s).update(additionalProperties=False),
        "customer: additionalProperties closed",
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKING))
def test_each_breaking_change_is_reported(name: str) -> None:
    # Given the base schema and a copy with one breaking change
    change, expected = BREAKING[name]
    new = changed(change)
    # When they are compared
    problems = incompatibilities(BASE, new)
    # Then exactly that change is reported
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


COMPATIBLE: dict[str, Change] = {
    "no change": lambda s: None,
    "new optional property": lambda s: props(s).update(gift_message={"type": "string", "maxLength": 500}),
    "new enum value": lambda s: s["$defs"]["Reason"].update(enum=["weather", "carrier", "customs"]),
    "enum values reordered": lambda s: s["$defs"]["Reason"].update(enum=["carrier", "weather"]),
    "maxLength loosened": lambda s: customer(s)["properties"]["name"].update(maxLength=500),
    "maximum removed": lambda s: props(s)["quantity"].pop("maximum"),
    "pattern removed": lambda s: props(s)["total"].pop("pattern"),
    "integer widened to number": lambda s: props(s)["quantity"].update(type="number"),
    "null now accepted": lambda s: props(s).update(
        total={"anyOf": [{"type": "string", "pattern": r"^\d+$"}, {"type": "null"}], "default": None}
    ),
    "alternatives reordered": lambda s: customer(s)["properties"]["email"]["anyOf"].reverse(),
    "requirement dropped": lambda s: customer(s).update(required=[]),
    "definition inlined": lambda s: props(s).update(customer=s["$defs"]["Customer"]),
    "description and default changed": lambda s: props(s)["amount"].update(description="Total", default=0),
}


@pytest.mark.parametrize("name", sorted(COMPATIBLE))
def test_additive_or_loosening_changes_are_compatible(name: str) -> None:
    # Given the base schema and a copy that only adds or loosens / When compared / Then nothing is reported
    assert incompatibilities(BASE, changed(COMPATIBLE[name])) == []


def test_several_breaking_changes_are_all_reported() -> None:
    # Given a new schema that both removes a property and tightens another
    def change(s: dict[str, Any]) -> None:
        props(s).pop("total")
        props(s)["quantity"].update(maximum=10)

    # When compared / Then both are reported
    assert incompatibilities(BASE, changed(change)) == [
        "total: property removed",
        "quantity: maximum tightened from 100 to 10",
    ]


def test_a_removed_event_type_is_reported_and_a_new_one_is_not() -> None:
    # Given a contract of two event types
    old = {"order.placed": BASE, "order.cancelled": BASE}
    # When one disappears / Then it is reported; when one is added / Then nothing is
    assert contract_incompatibilities(old, {"order.placed": BASE}) == ["order.cancelled: event type removed"]
    assert contract_incompatibilities(old, {**old, "order.refunded": BASE}) == []


def test_removing_an_event_type_from_the_envelope_enum_is_reported() -> None:
    # Given the real envelope schema with one event type dropped from its enum
    current = generate_schemas()
    envelope = copy.deepcopy(current["envelope"])
    envelope["$defs"]["EventType"]["enum"].remove("order.placed")
    # When compared / Then the removal is named
    assert incompatibilities(current["envelope"], envelope) == ["type: enum value(s) ['order.placed'] removed"]


def test_tightening_a_real_field_is_reported_with_its_path() -> None:
    # Given the generated order.placed schema with a shorter maximum email length
    old = generate_schemas()["order.placed"]
    new = copy.deepcopy(old)
    new["$defs"]["Customer"]["properties"]["email"]["anyOf"][0]["maxLength"] = 100
    # When compared / Then the message leads to the field
    assert incompatibilities(old, new) == ["data.customer.email: maxLength tightened from 254 to 100"]


def test_every_event_type_of_the_frozen_v1_baseline_is_still_in_the_contract() -> None:
    # Given the frozen copy of the published v1 contract
    baseline = load_schemas(BASELINE_DIR)
    # Then it holds the envelope and at least one event type
    assert "envelope" in baseline
    assert set(baseline) - {"envelope"}
    # And every type it publishes is still a type of the contract: a type may be added after v1 (it is then
    # absent from the frozen baseline), but a published one never goes away
    assert set(baseline) - {"envelope"} <= {t.value for t in EventType}


def test_an_event_type_added_after_v1_is_not_required_in_the_frozen_baseline() -> None:
    # Given the frozen v1 baseline and a contract that grew a type the baseline does not know
    baseline = load_schemas(BASELINE_DIR)
    grown = {**generate_schemas(), "order.gift_wrapped": generate_schemas()["order.placed"]}
    # When compared / Then the new type is growth, not a break
    assert [p for p in contract_incompatibilities(baseline, grown) if not _allowed(p)] == []


_URL_FIELDS = ("status_url", "support_url", "logo_url", "tracking_url", "photo_url", "portal_url", "label_url")
# Tightenings of the published schemas that reject only what dispatch already rejected (docs/decisions.md,
# 2026-12-02 "strict schemas"): no event a v1 producer could get dispatched breaks. Each names the runtime check
# the schema now says; anything else the checker reports still fails the test below.
ALLOWED_TIGHTENINGS = (
    # Customer._reachable: at least one of email or phone, not blank
    *(f"data.customer.{name}: property became required" for name in ("email", "phone")),
    *(f"data.customer.{name}: pattern added (None -> {NON_BLANK!r})" for name in ("email", "phone")),
    # Customer._email_shape
    f"data.customer.email: pattern added (None -> {EMAIL_PATTERN!r})",
)  # _https_only's pattern is allowed on the https-only URL fields (_URL_FIELDS), see _allowed


def _allowed(problem: str) -> bool:
    rule = problem.split(": ", 1)[1]  # without the event type
    if rule.endswith(f"pattern added (None -> {HTTPS_URL_PATTERN!r})"):
        return rule.split(":", 1)[0].rsplit(".", 1)[-1] in _URL_FIELDS
    return rule in ALLOWED_TIGHTENINGS


def test_current_models_are_backward_compatible_with_the_published_v1_contract() -> None:
    # Given the published v1 schemas and the schemas the models generate today
    baseline = load_schemas(BASELINE_DIR)
    # When compared, leaving out the tightenings that only say what the runtime already refused
    problems = [p for p in contract_incompatibilities(baseline, generate_schemas()) if not _allowed(p)]
    # Then nothing a v1 producer relies on was removed, narrowed or tightened
    assert problems == [], (
        "the contract changed incompatibly; make the change additive (new optional fields, new enum values, "
        "new event types) or publish a new contract version:\n" + "\n".join(problems)
    )


def test_only_the_listed_tightenings_are_allowed() -> None:
    # Given tightenings the runtime did not already enforce (a new pattern on a name, an https rule on image_url)
    # When filtered / Then they still count as breaks
    assert not _allowed("order.placed: data.customer.name: pattern added (None -> '^x$')")
    assert not _allowed(f"order.placed: data.order.items[].image_url: pattern added (None -> {HTTPS_URL_PATTERN!r})")
    assert _allowed(f"order.placed: data.order.status_url: pattern added (None -> {HTTPS_URL_PATTERN!r})")
