"""The provider circuit breaker's decisions, free of storage and clocks.

A channel's circuit guards its primary provider. Closed: every send goes through the primary. After
`failure_threshold` consecutive retryable failures it opens: sends go through the secondary. Once
`probe_after_seconds` have passed since it opened, one send (the probe, claimed by one instance for
`probe_lease_seconds`) tries the primary again: an answer closes the circuit, a retryable failure restarts the wait.

Times are whole epoch seconds, as stored (adapters/dynamodb_circuit.py): a probe may come up to a second early.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class CircuitSettings:
    failure_threshold: int = 5  # consecutive retryable failures of the primary that open the circuit
    probe_after_seconds: int = 30  # how long an open circuit waits before one send probes the primary
    cache_seconds: float = 2.0  # how long an instance trusts the state it last read
    probe_lease_seconds: int = 30  # how long the instance that claimed the probe holds it


class CircuitStatus(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True)
class CircuitState:
    """A snapshot of the shared state. The defaults are a circuit nobody has written yet: closed."""

    status: CircuitStatus = CircuitStatus.CLOSED
    failures: int = 0  # consecutive retryable failures of the primary
    opened_at: int | None = None  # epoch seconds: opened, or the last probe failed
    probe_until: int | None = None  # epoch seconds: an instance holds the probe until then
    last_error: str | None = None  # "<code>: <message>" of the last retryable failure, short


class Route(StrEnum):
    PRIMARY = "primary"
    PROBE = "probe"  # a candidate: the instance must win the probe claim, else it takes the secondary
    SECONDARY = "secondary"


@dataclass(frozen=True)
class CircuitSwitch:
    """The circuit opened (`opened`) or closed again; reported once per switch, whatever the number of instances."""

    channel: str
    primary: str
    secondary: str
    opened: bool
    failures: int  # the count that opened it; 0 when it closes
    reason: str
    at: datetime


def epoch_seconds(at: datetime) -> int:
    return int(at.timestamp())


def probe_due_at(state: CircuitState, settings: CircuitSettings) -> int:
    """When an open circuit may be probed (an open circuit without `opened_at`, written by hand: at once)."""
    return (state.opened_at or 0) + settings.probe_after_seconds


def probe_held(state: CircuitState, now: int) -> bool:
    return state.probe_until is not None and state.probe_until >= now


def route(state: CircuitState, now: int, settings: CircuitSettings) -> Route:
    if state.status is CircuitStatus.CLOSED:
        return Route.PRIMARY
    if now < probe_due_at(state, settings) or probe_held(state, now):
        # Another instance already probing: no point trying a claim that cannot win.
        return Route.SECONDARY
    return Route.PROBE


def should_open(state: CircuitState, settings: CircuitSettings) -> bool:
    """After counting a failure: is it time to open? (Only the instance whose conditional write wins reports it.)"""
    return state.status is CircuitStatus.CLOSED and state.failures >= settings.failure_threshold


def needs_reset(known: CircuitState | None, counted_since_reset: bool) -> bool:
    """After a success on the primary: write failures = 0 only with a reason to think they are above 0.

    Most sends succeed with no failure anywhere: they must not cost a write each.
    """
    return counted_since_reset or (known is not None and known.failures > 0)
