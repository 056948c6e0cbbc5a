"""Fault injection for soak runs: sandboxes that die at chosen points, and DynamoDB that throttles.

Active ONLY when the environment variable HERALD_FAULT_INJECTION holds a JSON object, e.g.

    {"crash": {"before_provider": 0.05, "after_accept": 0.05, "after_mark": 0.05},
     "dynamodb_throttle": 0.02, "seed": 1}

- `crash`: for each point of a send (usecases/send.py: claim -> provider -> mark), the probability that the
  process dies there with os._exit(137), as a Lambda sandbox killed mid-invocation would (no finally blocks, no
  SQS delete): `before_provider` (claimed, provider not called), `after_accept` (the provider accepted, the
  mark was not written), `after_mark` (marked sent, the SQS message not yet deleted). Production code has no
  crash points: `install_crash_points()` (the local worker calls it) decorates the ports the senders'
  composition roots build (herald.handlers.wiring.decorate_ports), wrapping the provider router
  (before_provider, after_accept) and the ledger (after_mark; a successful claim starts the tracking).
- `dynamodb_throttle`: the share of DynamoDB requests answered with ProvisionedThroughputExceededException
  by a botocore `before-send` hook (no request reaches DynamoDB); botocore retries them as it would
  real throttling, and a request whose retries run out fails its record, which SQS then redelivers.
- `seed`: makes the draws reproducible per process (mixed with the process id, so that a restarted
  sandbox does not replay the draw that killed its predecessor and crash-loop).

The variable is read once per process and cached; when it is unset nothing is installed. Deployed stacks never
set it, and never run this module.

Before dying, the process writes one line to stderr (the local runtime's log of the function):
`HERALD_FAULT_INJECTION crash <json>` with the point and every notification in flight in the process
with the last point it passed, so that a soak can tell which duplicates the crash explains.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ENV_VAR = "HERALD_FAULT_INJECTION"
CRASH_POINTS = ("before_provider", "after_accept", "after_mark")
CRASH_EXIT_CODE = 137  # what a process killed by SIGKILL reports (128 + 9), as a sandbox that was torn down
LOG_PREFIX = "HERALD_FAULT_INJECTION crash "
THROTTLE_CODE = "ProvisionedThroughputExceededException"


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{ENV_VAR}: {name} must be a number between 0 and 1, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class FaultConfig:
    """What HERALD_FAULT_INJECTION asks for, validated."""

    crash: Mapping[str, float] = field(default_factory=dict)
    dynamodb_throttle: float = 0.0
    seed: int | None = None

    @classmethod
    def parse(cls, raw: str) -> FaultConfig:
        try:
            document = json.loads(raw)
        except ValueError as error:
            raise ValueError(f"{ENV_VAR} is not JSON: {error}") from None
        if not isinstance(document, dict):
            raise ValueError(f"{ENV_VAR} must be a JSON object")
        unknown = set(document) - {"crash", "dynamodb_throttle", "seed"}
        if unknown:
            raise ValueError(f"{ENV_VAR}: unknown setting(s) {sorted(unknown)}")
        crash = document.get("crash") or {}
        if not isinstance(crash, dict):
            raise ValueError(f"{ENV_VAR}: crash must be an object of point -> probability")
        bad_points = set(crash) - set(CRASH_POINTS)
        if bad_points:
            raise ValueError(f"{ENV_VAR}: unknown crash point(s) {sorted(bad_points)}; known: {CRASH_POINTS}")
        seed = document.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"{ENV_VAR}: seed must be an integer, got {seed!r}")
        return cls(
            crash={point: _rate(point, value) for point, value in crash.items()},
            dynamodb_throttle=_rate("dynamodb_throttle", document.get("dynamodb_throttle", 0.0)),
            seed=seed,
        )


class Injector:
    """The faults of one process. Thread-safe: a sender runs a batch on several threads."""

    def __init__(self, config: FaultConfig, *, pid: int | None = None) -> None:
        self.config = config
        pid = os.getpid() if pid is None else pid
        # Seeded from (seed, pid): reproducible for a process, different for its replacement.
        seed = None if config.seed is None else f"{config.seed}:{pid}"
        self._rng = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self._lock = threading.Lock()
        # thread id -> [notification id, last crash point passed]: what a crash leaves half done.
        self._in_flight: dict[int, list[str]] = {}

    def draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def begin(self, notification_id: str) -> None:
        """This thread claimed `notification_id`: until `end()`, a crash reports it as interrupted."""
        with self._lock:
            self._in_flight[threading.get_ident()] = [notification_id, "claimed"]

    def end(self) -> None:
        with self._lock:
            self._in_flight.pop(threading.get_ident(), None)

    def in_flight(self) -> dict[str, str]:
        with self._lock:
            return {notification: point for notification, point in self._in_flight.values()}

    def should_crash(self, point: str) -> bool:
        if point not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {point!r}; known: {CRASH_POINTS}")
        with self._lock:
            entry = self._in_flight.get(threading.get_ident())
            if entry is not None:
                entry[1] = point
        rate = self.config.crash.get(point, 0.0)
        return rate > 0.0 and self.draw() < rate

    def crash_record(self, point: str) -> dict[str, Any]:
        with self._lock:
            entry = self._in_flight.get(threading.get_ident())
        return {
            "point": point,
            "pid": os.getpid(),
            "notification_id": entry[0] if entry else None,
            "in_flight": self.in_flight(),
        }


@cache
def injector() -> Injector | None:
    """The process's injector, or None when HERALD_FAULT_INJECTION is unset or empty (read once)."""
    raw = os.environ.get(ENV_VAR, "").strip()
    return Injector(FaultConfig.parse(raw)) if raw else None


def maybe_crash(active: Injector, point: str) -> None:
    """Dies here with os._exit(137), with the probability HERALD_FAULT_INJECTION gives `point`."""
    if not active.should_crash(point):
        return
    line = LOG_PREFIX + json.dumps(active.crash_record(point), sort_keys=True) + "\n"
    # Straight to the file descriptor: os._exit flushes nothing, and a logging handler may hold a lock.
    os.write(2, line.encode())
    os._exit(CRASH_EXIT_CODE)


class CrashingRouter:
    """A sender's provider router with a crash point on each side of the provider call."""

    def __init__(self, router: Any, active: Injector) -> None:
        self._router = router
        self._injector = active

    def send(self, message: Any) -> Any:
        maybe_crash(self._injector, "before_provider")
        try:
            accepted = self._router.send(message)
        except Exception:
            # A refusal (marked failed or retrying next) or an outage: nothing is half done any more.
            self._injector.end()
            raise
        maybe_crash(self._injector, "after_accept")
        return accepted


class TrackingLedger:
    """A sender's ledger that tells the injector what is in flight, with a crash point after the mark."""

    def __init__(self, ledger: Any, active: Injector) -> None:
        self._ledger = ledger
        self._injector = active

    def claim(self, message: Any, **kwargs: Any) -> Any:
        claim = self._ledger.claim(message, **kwargs)
        if claim.claimed:
            self._injector.begin(message.notification_id)
        return claim

    def mark_sent(self, message: Any, accepted: Any, **kwargs: Any) -> None:
        try:
            self._ledger.mark_sent(message, accepted, **kwargs)
        except Exception:
            # The mark failed (DynamoDB throttling outlasted botocore's retries): the send ends here.
            self._injector.end()
            raise
        maybe_crash(self._injector, "after_mark")
        self._injector.end()

    def __getattr__(self, name: str) -> Any:
        # mark_failed, mark_retrying and anything else the ledger offers: as they are.
        return getattr(self._ledger, name)


def crash_points(active: Injector) -> Callable[[str, Any], Any]:
    """A port decorator (herald.handlers.wiring.decorate_ports) that puts the crash points around the ports."""
    from herald.handlers.wiring import PORT_LEDGER, PORT_PROVIDER_ROUTER

    def decorate(name: str, port: Any) -> Any:
        if name == PORT_PROVIDER_ROUTER:
            return CrashingRouter(port, active)
        if name == PORT_LEDGER:
            return TrackingLedger(port, active)
        return port

    return decorate


def install_crash_points() -> bool:
    """Decorates the ports every composition root builds from now on, when HERALD_FAULT_INJECTION asks for crashes.
    Returns whether anything was installed."""
    from herald.handlers.wiring import decorate_ports

    active = injector()
    if active is None or not any(active.config.crash.values()):
        return False
    decorate_ports(crash_points(active))
    return True


def throttle_hook(rate: float, draw: Any) -> Any:
    """A botocore `before-send` handler that answers a share `rate` of requests with a throttling error."""
    from botocore.awsrequest import AWSResponse

    body = json.dumps(
        {"__type": f"com.amazonaws.dynamodb.v20120810#{THROTTLE_CODE}", "message": "injected by " + ENV_VAR}
    ).encode()

    class _Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield body

    def before_send(request: Any, **_: Any) -> Any:
        if draw() >= rate:
            return None  # botocore sends the request as usual
        # (botocore turns a plain dict into its own headers object; its type stubs ask for that object)
        headers: Any = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault-injection"}
        return AWSResponse(request.url, 400, headers, _Raw())

    return before_send


def install_dynamodb_throttling(session: Any = None) -> bool:
    """Registers the throttling hook on `session` (boto3's default session when None), for every DynamoDB
    client created from it afterwards. Returns whether anything was installed."""
    active = injector()
    if active is None or active.config.dynamodb_throttle <= 0.0:
        return False
    if session is None:
        import boto3

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
    session.events.register("before-send.dynamodb", throttle_hook(active.config.dynamodb_throttle, active.draw))
    return True
