"""Fault injection for the local provider stand-ins.

A `FaultPlan` decides, once per request, whether a stand-in answers normally or misbehaves the way a
real provider does on a bad day (rate limiting, 5xx, a request that hangs past the client's timeout).
The plan is shared with a running server thread and may be changed from a test or a benchmark while
requests are in flight, so every read and write of its settings goes through one lock.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Decision = Literal["ok", "throttle", "server_error", "timeout"]
DECISIONS: tuple[Decision, ...] = get_args(Decision)

_RATES = ("throttle_rate", "server_error_rate", "timeout_rate")
_DURATIONS = ("hang_seconds", "latency_seconds")
_TUNABLE = frozenset((*_RATES, *_DURATIONS, "seed", "accept_on_timeout"))


def _check_rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return rate


def _check_duration(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not (seconds >= 0.0 and math.isfinite(seconds)):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return seconds


@dataclass
class FaultPlan:
    """How often a stand-in misbehaves, and how.

    The three rates are shares of requests (0..1, summing to at most 1). One uniform draw per request
    picks the outcome, so a seeded plan yields the same sequence of outcomes on every run.

    `accept_on_timeout` models the worst timeout: the provider accepted the message but the answer
    never reached the client in time. With it set, a "timeout" request is processed (written to the
    outbox) and its success answer is held back for `hang_seconds`; without it the hung request is
    answered with a 500 and nothing is sent.
    """

    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_seconds: float = 10.0
    latency_seconds: float = 0.0
    seed: int | None = None
    accept_on_timeout: bool = False
    _lock: threading.RLock = field(init=False, repr=False, compare=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _forced: deque[Decision] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in _RATES:
            object.__setattr__(self, name, _check_rate(name, getattr(self, name)))
        for name in _DURATIONS:
            object.__setattr__(self, name, _check_duration(name, getattr(self, name)))
        self._check_total()
        object.__setattr__(self, "_rng", random.Random(self.seed))  # noqa: S311 - fault injection, not crypto
        object.__setattr__(self, "_forced", deque())
        object.__setattr__(self, "_lock", threading.RLock())

    def __setattr__(self, name: str, value: Any) -> None:
        # Assignments from another thread while a server runs are allowed; they are validated and
        # applied under the lock so `decide` never sees a half-updated plan.
        lock: threading.RLock | None = self.__dict__.get("_lock")
        if lock is None or name not in _TUNABLE:
            object.__setattr__(self, name, value)
            return
        self.update(**{name: value})

    def update(self, **changes: Any) -> None:
        """Change several settings at once, atomically (e.g. swap a throttle for a 5xx storm)."""
        unknown = set(changes) - _TUNABLE
        if unknown:
            raise AttributeError(f"FaultPlan has no setting(s) {sorted(unknown)}")
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name in _RATES:
                checked[name] = _check_rate(name, value)
            elif name in _DURATIONS:
                checked[name] = _check_duration(name, value)
            elif name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise TypeError(f"seed must be an int or None, got {value!r}")
                checked[name] = value
            else:
                checked[name] = bool(value)
        with self._lock:
            previous = {name: getattr(self, name) for name in checked}
            for name, value in checked.items():
                object.__setattr__(self, name, value)
            try:
                self._check_total()
            except ValueError:
                for name, value in previous.items():
                    object.__setattr__(self, name, value)
                raise
            if "seed" in checked:
                self._rng.seed(checked["seed"])

    def _check_total(self) -> None:
        total = self.throttle_rate + self.server_error_rate + self.timeout_rate
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:.3f}; they must add up to at most 1")

    def force_next(self, *outcomes: Decision) -> None:
        """Queue exact outcomes for the next requests, ahead of the random draw.

        For tests that need "the first two calls are throttled, the third succeeds" without relying
        on a seed.
        """
        for outcome in outcomes:
            if outcome not in DECISIONS:
                raise ValueError(f"unknown outcome {outcome!r}; expected one of {DECISIONS}")
        with self._lock:
            self._forced.extend(outcomes)

    def snapshot(self) -> tuple[float, float, bool]:
        """(latency_seconds, hang_seconds, accept_on_timeout) read together under the lock."""
        with self._lock:
            return self.latency_seconds, self.hang_seconds, self.accept_on_timeout

    def decide(self) -> Decision:
        """The outcome for one request. Exactly one random draw per call (forced outcomes draw none)."""
        with self._lock:
            if self._forced:
                return self._forced.popleft()
            draw = self._rng.random()
            threshold = self.throttle_rate
            if draw < threshold:
                return "throttle"
            threshold += self.server_error_rate
            if draw < threshold:
                return "server_error"
            threshold += self.timeout_rate
            if draw < threshold:
                return "timeout"
            return "ok"
