"""FailoverRouter with a refresher: an expired circuit state is used while one read renews it off the sends."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from tests.messages import channel_message

from herald.domain.circuit import CircuitSettings, CircuitState, CircuitStatus
from herald.domain.notification import Channel, ChannelMessage
from herald.usecases.failover import FailoverRouter

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SETTINGS = CircuitSettings(failure_threshold=3, probe_after_seconds=60, cache_seconds=2.0)
MESSAGE = channel_message(Channel.EMAIL)


class Provider:
    channel = Channel.EMAIL

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = 0

    def send(self, message: ChannelMessage) -> str | None:
        self.sent += 1
        return f"{self.name}-{self.sent}"


class Store:
    """The shared circuit, as the adapter answers: `states` are what successive reads find."""

    def __init__(self, *states: CircuitState | Exception) -> None:
        self.states = list(states)
        self.reads = 0

    def snapshot(self) -> CircuitState:
        self.reads += 1
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if isinstance(state, Exception):
            raise state
        return state

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no write expected: {name}")


class ManualExecutor(Executor):
    """Keeps submitted work until the test runs it: the refresh happens exactly when the test says."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.pending.append(lambda: fn(*args, **kwargs))
        return Future()

    def run_all(self) -> None:
        while self.pending:
            self.pending.pop(0)()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


OPEN = CircuitState(status=CircuitStatus.OPEN, failures=3, opened_at=int(T0.timestamp()))


def _router(store: Store, clock: Clock, executor: ManualExecutor) -> tuple[FailoverRouter, Provider, Provider]:
    primary, secondary = Provider("sendgrid"), Provider("ses")
    return FailoverRouter(primary, secondary, store, SETTINGS, clock=clock, refresher=executor), primary, secondary


def test_an_expired_state_is_used_while_one_background_read_renews_it() -> None:
    # Given a router that read a closed circuit, and the circuit opened by another instance since
    store, clock, executor = Store(CircuitState(), OPEN), Clock(), ManualExecutor()
    router, primary, secondary = _router(store, clock, executor)
    assert router.send(MESSAGE).provider == "sendgrid"
    clock.now += timedelta(seconds=5)
    # When two sends come after the cache expired
    first, second = router.send(MESSAGE), router.send(MESSAGE)
    # Then both go on with the last state read (no read on the sending threads), and one refresh is queued
    assert (first.provider, second.provider) == ("sendgrid", "sendgrid")
    assert (store.reads, len(executor.pending)) == (1, 1)
    # And once the refresh ran, the next send follows the open circuit
    executor.run_all()
    assert store.reads == 2
    assert router.send(MESSAGE).provider == "ses"
    assert (primary.sent, secondary.sent) == (3, 1)


def test_a_failed_background_read_keeps_the_last_state_and_is_tried_again() -> None:
    # Given a router that read a closed circuit, then a table that fails one read
    error = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")
    store, clock, executor = Store(CircuitState(), error, OPEN), Clock(), ManualExecutor()
    router, _, _ = _router(store, clock, executor)
    router.send(MESSAGE)
    clock.now += timedelta(seconds=5)
    # When the refresh fails
    assert router.send(MESSAGE).provider == "sendgrid"
    executor.run_all()
    # Then sends go on with the last state, and the next send queues another refresh, which succeeds
    assert router.send(MESSAGE).provider == "sendgrid"
    executor.run_all()
    assert router.send(MESSAGE).provider == "ses"
    assert store.reads == 3
