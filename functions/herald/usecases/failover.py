"""Failover between a channel's primary and secondary provider, steered by a circuit breaker shared by every instance.

The decisions are herald/domain/circuit.py's; this module applies them: it reads the shared state through a short
in-process cache (one read per `cache_seconds`, however many threads send), counts the primary's retryable
failures, and makes each switch (open, close) through a conditional write, so that exactly one instance reports it.

A retryable error of the primary is never followed by the secondary in the same call: a timeout may have been
accepted, and the caller's queue back-off retries the message (through whichever provider the circuit then says).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from herald.domain.circuit import (
    CircuitSettings,
    CircuitState,
    CircuitSwitch,
    Route,
    epoch_seconds,
    needs_reset,
    route,
    should_open,
)
from herald.domain.errors import ProviderError
from herald.domain.masking import mask_text
from herald.domain.notification import ChannelMessage
from herald.usecases.ports import Accepted, Provider

ESCALATION_REASON = "escalation: no delivery confirmed before the deadline"


class CircuitStore(Protocol):
    """The shared circuit state (adapters/dynamodb_circuit.py). Each bool: whether this instance's write won."""

    def snapshot(self) -> CircuitState: ...
    def record_failure(self, now: datetime, error: str) -> CircuitState: ...
    def open_if_closed(self, now: datetime, *, min_failures: int) -> bool: ...
    def reset(self, now: datetime) -> bool: ...
    def claim_probe(self, now: datetime, *, lease_seconds: int, probe_after_seconds: int) -> bool: ...
    def close_after_probe(self, now: datetime) -> bool: ...
    def reopen(self, now: datetime, error: str) -> bool: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ignore(switch: CircuitSwitch) -> None:
    """The default `on_switch`: the handler wiring passes one that logs and counts."""


def describe(error: ProviderError) -> str:
    # Masked: provider error bodies may quote the recipient, and this text is stored and logged.
    return mask_text(f"{error.code}: {error.message}")


class FailoverRouter:
    """A ProviderRouter over a primary and a secondary provider of one channel. Safe to share between threads."""

    def __init__(
        self,
        primary: Provider,
        secondary: Provider,
        circuit: CircuitStore,
        settings: CircuitSettings,
        *,
        on_switch: Callable[[CircuitSwitch], None] = _ignore,
        clock: Callable[[], datetime] = _utc_now,
        refresher: Executor | None = None,
    ) -> None:
        if primary.channel != secondary.channel:
            raise ValueError(f"{primary.name} and {secondary.name} serve different channels")
        self.channel = primary.channel
        self._primary = primary
        self._secondary = secondary
        self._circuit = circuit
        self._settings = settings
        self._on_switch = on_switch
        self._clock = clock
        self._failover_reason = f"failover: {primary.name} circuit open"
        # Guards the three fields below: the router is called from several threads at once.
        self._lock = threading.Lock()
        self._known: CircuitState | None = None
        self._known_at: datetime | None = None
        self._counted_since_reset = False
        # With a refresher, an expired state is still used while one read renews it off the sending threads
        # (stale-while-revalidate): a batch of sends then never waits for the circuit. Without one (tests), the
        # read happens in line, under the lock.
        self._refresher = refresher
        self._refreshing = False

    def send(self, message: ChannelMessage) -> Accepted:
        if message.escalation:
            # An escalation exists because the first send went unconfirmed: another path, whatever the circuit.
            return Accepted(self._secondary.name, self._secondary.send(message), ESCALATION_REASON)
        now = self._clock()
        decision = route(self._state(now), epoch_seconds(now), self._settings)
        if decision is Route.PROBE:
            if self._circuit.claim_probe(
                now,
                lease_seconds=self._settings.probe_lease_seconds,
                probe_after_seconds=self._settings.probe_after_seconds,
            ):
                return self._probe(message)
            # Lost the claim: another instance probes, or closed the circuit since we read it. Read it again;
            # anything but closed now means the secondary (never a second probe in one call).
            self._forget()
            closed = route(self._state(now), epoch_seconds(now), self._settings) is Route.PRIMARY
            decision = Route.PRIMARY if closed else Route.SECONDARY
        if decision is Route.PRIMARY:
            return self._through_primary(message)
        return Accepted(self._secondary.name, self._secondary.send(message), self._failover_reason)

    # --- primary --------------------------------------------------------------------------

    def _through_primary(self, message: ChannelMessage) -> Accepted:
        try:
            message_id = self._primary.send(message)
        except ProviderError as error:
            # A permanent error is the request's own fault, not the provider's health: not counted.
            if error.retryable:
                self._count_failure(error)
            raise
        self._after_success()
        return Accepted(self._primary.name, message_id)

    def _count_failure(self, error: ProviderError) -> None:
        now = self._clock()
        state = self._circuit.record_failure(now, describe(error))
        with self._lock:
            self._counted_since_reset = True
            self._known, self._known_at = state, now
        if not should_open(state, self._settings):
            return
        opened = self._circuit.open_if_closed(now, min_failures=self._settings.failure_threshold)
        self._forget()  # open now, by this instance or another (or reset meanwhile): read it again next send
        if opened:
            reason = f"{state.failures} consecutive retryable failures; last {describe(error)}"
            self._report(opened=True, failures=state.failures, reason=reason, at=now)

    def _after_success(self) -> None:
        with self._lock:
            if not needs_reset(self._known, self._counted_since_reset):
                return
            self._counted_since_reset = False
        now = self._clock()
        if self._circuit.reset(now):
            with self._lock:
                self._known, self._known_at = CircuitState(), now
        else:
            self._forget()  # open (another instance opened it): read it again next send

    # --- probe ----------------------------------------------------------------------------

    def _probe(self, message: ChannelMessage) -> Accepted:
        try:
            message_id = self._primary.send(message)
        except ProviderError as error:
            if error.retryable:
                self._circuit.reopen(self._clock(), describe(error))
                self._forget()
            else:
                # The primary answered (the request was at fault): it is up again.
                self._close(f"probe answered with a permanent error ({error.code})")
            raise
        self._close("probe succeeded")
        return Accepted(self._primary.name, message_id)

    def _close(self, reason: str) -> None:
        now = self._clock()
        closed = self._circuit.close_after_probe(now)
        with self._lock:
            self._counted_since_reset = False
            self._known, self._known_at = (CircuitState(), now) if closed else (None, None)
        if closed:
            self._report(opened=False, failures=0, reason=reason, at=now)

    # --- shared state ---------------------------------------------------------------------

    def _state(self, now: datetime) -> CircuitState:
        """The circuit as last read, read again when older than `cache_seconds`."""
        # The read happens under the lock: concurrent sends wait for the one read instead of each making one.
        with self._lock:
            known, known_at = self._known, self._known_at
            if known is not None and known_at is not None:
                if (now - known_at).total_seconds() < self._settings.cache_seconds:
                    return known
                if self._refresher is not None:
                    if not self._refreshing:
                        self._refreshing = True
                        self._refresher.submit(self._refresh)
                    return known
            self._known, self._known_at = self._circuit.snapshot(), now
            return self._known

    def _refresh(self) -> None:
        """Read the circuit for the next sends (on the refresher's thread)."""
        try:
            state = self._circuit.snapshot()
        except (ClientError, BotoCoreError):
            # Keep the last state: the next send past the cache asks again. A failed read must not fail sends.
            state = None
        with self._lock:
            self._refreshing = False
            if state is not None:
                self._known, self._known_at = state, self._clock()

    def _forget(self) -> None:
        with self._lock:
            self._known, self._known_at = None, None

    def _report(self, *, opened: bool, failures: int, reason: str, at: datetime) -> None:
        self._on_switch(
            CircuitSwitch(
                channel=self.channel.value,
                primary=self._primary.name,
                secondary=self._secondary.name,
                opened=opened,
                failures=failures,
                reason=reason,
                at=at,
            )
        )
