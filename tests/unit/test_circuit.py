"""The circuit breaker's pure decisions: which provider a send takes, when to open, when a success must write."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from herald.domain.circuit import (
    CircuitSettings,
    CircuitState,
    CircuitStatus,
    Route,
    epoch_seconds,
    needs_reset,
    route,
    should_open,
)

SETTINGS = CircuitSettings(failure_threshold=3, probe_after_seconds=30, probe_lease_seconds=10)
OPENED_AT = 1_800_000_000


def _open(*, failures: int = 3, probe_until: int | None = None) -> CircuitState:
    return CircuitState(status=CircuitStatus.OPEN, failures=failures, opened_at=OPENED_AT, probe_until=probe_until)


def test_settings_defaults_are_the_documented_ones_and_frozen() -> None:
    # Given the default settings
    settings = CircuitSettings()
    # Then they are the documented values, and cannot be changed in place
    assert (settings.failure_threshold, settings.probe_after_seconds) == (5, 30)
    assert (settings.cache_seconds, settings.probe_lease_seconds) == (2.0, 30)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.failure_threshold = 1  # type: ignore[misc]


def test_a_circuit_never_written_is_closed_and_routes_to_the_primary() -> None:
    # Given no item yet (the default state)
    state = CircuitState()
    # When routing
    decision = route(state, OPENED_AT, SETTINGS)
    # Then the primary takes it
    assert state.status is CircuitStatus.CLOSED
    assert decision is Route.PRIMARY


def test_a_closed_circuit_with_failures_below_threshold_still_routes_to_the_primary() -> None:
    # Given two failures counted, three needed
    state = CircuitState(failures=2)
    # When routing / deciding whether to open
    # Then the primary keeps the traffic and the circuit stays closed
    assert route(state, OPENED_AT, SETTINGS) is Route.PRIMARY
    assert not should_open(state, SETTINGS)


def test_reaching_the_threshold_on_a_closed_circuit_opens_it() -> None:
    # Given the threshold count reached, or passed (several instances counting at once)
    # Then it is time to open
    assert should_open(CircuitState(failures=3), SETTINGS)
    assert should_open(CircuitState(failures=7), SETTINGS)


def test_an_open_circuit_is_not_opened_again() -> None:
    # Given an open circuit whose count keeps growing (stale instances still trying the primary)
    state = _open(failures=9)
    # Then no second opening: one trip, one switch
    assert not should_open(state, SETTINGS)


def test_an_open_circuit_routes_to_the_secondary_until_the_probe_time() -> None:
    # Given a circuit opened at OPENED_AT, probed after 30 s
    state = _open()
    # When routing at +0 s and +29 s
    # Then the secondary takes it
    assert route(state, OPENED_AT, SETTINGS) is Route.SECONDARY
    assert route(state, OPENED_AT + 29, SETTINGS) is Route.SECONDARY


def test_an_open_circuit_is_a_probe_candidate_once_the_wait_is_over() -> None:
    # Given a circuit opened 30 s ago, nobody probing
    state = _open()
    # When routing
    decision = route(state, OPENED_AT + 30, SETTINGS)
    # Then this send may try to claim the probe
    assert decision is Route.PROBE


def test_a_held_probe_sends_the_others_to_the_secondary() -> None:
    # Given another instance holding the probe until +40 s
    state = _open(probe_until=OPENED_AT + 40)
    # When routing at +35 s and at +40 s (the lease's last second)
    # Then no claim is attempted: the secondary takes it
    assert route(state, OPENED_AT + 35, SETTINGS) is Route.SECONDARY
    assert route(state, OPENED_AT + 40, SETTINGS) is Route.SECONDARY


def test_an_expired_probe_lease_can_be_claimed_again() -> None:
    # Given a probe lease that ended at +40 s (its instance died mid-probe)
    state = _open(probe_until=OPENED_AT + 40)
    # When routing at +41 s
    # Then this send is a probe candidate again
    assert route(state, OPENED_AT + 41, SETTINGS) is Route.PROBE


def test_an_open_circuit_without_opened_at_is_probed_at_once() -> None:
    # Given an item opened by hand, without opened_at
    state = CircuitState(status=CircuitStatus.OPEN)
    # Then the next send may probe (rather than never)
    assert route(state, OPENED_AT, SETTINGS) is Route.PROBE


def test_a_success_writes_a_reset_only_with_a_reason_to_think_failures_were_counted() -> None:
    # Given what an instance knows after a success on the primary
    # Then: nothing known, or zero failures known, and none counted by itself: no write
    assert not needs_reset(None, counted_since_reset=False)
    assert not needs_reset(CircuitState(), counted_since_reset=False)
    # failures known (counted by another instance), or counted by itself: reset
    assert needs_reset(CircuitState(failures=2), counted_since_reset=False)
    assert needs_reset(None, counted_since_reset=True)


def test_epoch_seconds_are_whole_seconds_of_the_instant() -> None:
    # Given an instant with a fraction of a second
    at = datetime(2027, 1, 15, 8, 0, 0, 900_000, tzinfo=UTC)
    # Then it is stored as the whole second it falls in
    assert epoch_seconds(at) == int(datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp())
