"""One policy per event type: a type without an entry, templates or sample fails here, not in a dispatch; and no
module but the registry (and the type's model) keeps a table keyed by event type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from herald.contract.event_types import EventType
from herald.domain.channel_registry import CHANNELS
from herald.domain.policy import POLICIES, Urgency, policy_for

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = [ROOT / "functions" / "herald", ROOT / "tools" / "herald_tools"]
TEMPLATES = ROOT / "functions" / "herald" / "rendering" / "templates" / "en-US"
EVENTS = ROOT / "events"
# Adding a type touches its model (contract/: its name, its data and event model) and its policy entry.
ALLOWED = {
    ROOT / "functions/herald/contract/event_types.py",
    ROOT / "functions/herald/contract/models.py",
    ROOT / "functions/herald/domain/policy.py",
    # The outbound types' own registry (Herald to the storefront, keyed by OutboundType): its `return.requested`
    # names the customer's act the storefront's own return.requested event will answer, not a Herald event type.
    ROOT / "functions/herald/domain/outbound.py",
}

TYPES = list(EventType)


@pytest.mark.parametrize("event_type", TYPES, ids=str)
def test_every_event_type_has_a_policy_entry(event_type: EventType) -> None:
    # Given a contract type / When its policy is looked up, by enum and by wire name / Then it is the same entry
    assert event_type in POLICIES
    assert policy_for(event_type.value) is POLICIES[event_type]
    # And it is sent on at least one channel by default
    assert POLICIES[event_type].default_channels


@pytest.mark.parametrize("event_type", TYPES, ids=str)
def test_every_event_type_has_templates_for_each_channel_it_may_be_sent_on(event_type: EventType) -> None:
    # Given the type's templates folder
    folder = TEMPLATES / POLICIES[event_type].templates
    # Then every channel has its templates there: the defaults are sent first, any other may be sent as fallback
    missing = [f"{folder.name}/{name}" for spec in CHANNELS.values() for name in spec.template_files]
    assert [m for m in missing if not (TEMPLATES / m).is_file()] == []


@pytest.mark.parametrize("event_type", TYPES, ids=str)
def test_every_event_type_has_a_sample_event(event_type: EventType) -> None:
    # Given events/ / Then it holds a sample of the type (tests/unit/test_event_samples.py checks it is valid)
    assert (EVENTS / f"{event_type.value}.json").is_file()


def test_a_name_that_is_not_a_contract_type_has_no_policy() -> None:
    # Given a wire name the contract does not know / When looked up / Then it is refused, not defaulted
    with pytest.raises(ValueError, match=r"order\.teleported"):
        policy_for("order.teleported")


def test_only_shipment_types_have_a_place_in_a_parcels_life() -> None:
    # Given every policy / Then the shipment step is set exactly for the shipment family
    assert {t for t, p in POLICIES.items() if p.shipment is not None} == {t for t in TYPES if t.family == "shipment"}


def test_a_type_the_customer_waits_for_is_never_held_and_the_confirmation_is_escalated() -> None:
    # Given the founding story's types / Then the confirmation is never held and is the only one escalated
    assert policy_for(EventType.ORDER_PLACED).urgency is Urgency.NEVER_HELD
    assert [t for t, p in POLICIES.items() if p.escalate_at_deadline] == [EventType.ORDER_PLACED]


_KEYED_BY_TYPE = re.compile(r"^\s*EventType\.[A-Z_]+\s*:", re.MULTILINE)
_NAMES = "|".join(re.escape(t.value) for t in EventType)
_TYPE_NAME = re.compile(rf"""["'](?:{_NAMES})["']""")


def test_no_module_but_the_registry_keeps_a_table_keyed_by_event_type() -> None:
    # Given every source file of the functions and the tools, but the registry and the contract models
    sources = [p for d in SOURCE_DIRS for p in d.rglob("*.py") if p not in ALLOWED]
    # When searched for a dict entry keyed by an EventType member, or (in the shipped code: the tools name sample
    # files after types) an event type's name written as a string, as the string-keyed tables were
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in sources
        for pattern in (_KEYED_BY_TYPE, _TYPE_NAME)
        if pattern is _KEYED_BY_TYPE or path.is_relative_to(SOURCE_DIRS[0])
        for match in pattern.finditer(path.read_text())
    ]
    # Then there is none: what a type does is its policy entry, so adding a type touches no other module
    assert offenders == []
