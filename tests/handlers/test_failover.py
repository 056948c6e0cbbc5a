"""Provider failover over the shared circuit breaker (DynamoDB under moto), with scripted providers.

Each `Instance` is one function instance: its own DynamoDB client, router and cache, all on one table.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from herald.adapters.dynamodb_circuit import DynamoDbCircuit
from herald.domain.circuit import CircuitSettings, CircuitSwitch
from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import Channel, ChannelMessage
from herald.usecases.failover import ESCALATION_REASON, FailoverRouter
from herald.usecases.followup import escalation_of
from herald.usecases.ports import Accepted
from herald_tools.local.tables import create_notifications_table
from tests.messages import channel_message

REGION = "us-east-1"
TABLE = "herald-test-notifications"
T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
SETTINGS = CircuitSettings(failure_threshold=3, probe_after_seconds=30, cache_seconds=2.0, probe_lease_seconds=30)
FAILOVER_REASON = "failover: sendgrid circuit open"
WRITES = {"UpdateItem", "PutItem", "DeleteItem"}
MESSAGE = channel_message(Channel.EMAIL, event_time=T0.isoformat())
ESCALATION = escalation_of(MESSAGE)

Outcome = str | ProviderError | Callable[[], str]


def retryable(code: str = "503") -> ProviderError:
    return ProviderError(ErrorKind.RETRYABLE, code, "service unavailable", http_status=503)


def permanent() -> ProviderError:
    return ProviderError(ErrorKind.PERMANENT, "400", "bad request", http_status=400)


class ScriptedProvider:
    """Plays its outcomes in order (an id, an error to raise, or a callable run during the call), then succeeds."""

    channel = Channel.EMAIL

    def __init__(self, name: str, *outcomes: Outcome) -> None:
        self.name = name
        self.outcomes: list[Outcome] = list(outcomes)
        self.calls = 0

    def then(self, *outcomes: Outcome) -> None:
        self.outcomes.extend(outcomes)

    def send(self, message: ChannelMessage) -> str | None:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else f"{self.name}-{self.calls}"
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome() if callable(outcome) else outcome


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Instance:
    """One function instance: its client (with its DynamoDB calls counted), providers and router."""

    client: Any
    primary: ScriptedProvider
    secondary: ScriptedProvider
    router: FailoverRouter
    calls: Counter[str] = field(default_factory=Counter)

    def writes(self) -> int:
        return sum(n for name, n in self.calls.items() if name in WRITES)


@dataclass
class World:
    clock: Clock
    switches: list[CircuitSwitch]

    def instance(self) -> Instance:
        client = boto3.client("dynamodb", region_name=REGION)
        primary, secondary = ScriptedProvider("sendgrid"), ScriptedProvider("ses")
        circuit = DynamoDbCircuit(client, TABLE, Channel.EMAIL.value, primary.name)
        router = FailoverRouter(primary, secondary, circuit, SETTINGS, on_switch=self.switches.append, clock=self.clock)
        instance = Instance(client, primary, secondary, router)

        def count(model: Any, **_: Any) -> None:
            instance.calls[model.name] += 1

        client.meta.events.register("before-call.dynamodb", count)
        return instance

    def item(self) -> dict[str, Any]:
        client = boto3.client("dynamodb", region_name=REGION)
        key = {"pk": {"S": "CIRCUIT#email"}, "sk": {"S": "sendgrid"}}
        return client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item", {})


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        create_notifications_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        yield World(Clock(), [])


def fail(instance: Instance, times: int, error: Callable[[], ProviderError] = retryable) -> None:
    """`times` sends through the instance's primary, each failing with a fresh `error()` that propagates."""
    for _ in range(times):
        expected = error()
        instance.primary.then(expected)
        with pytest.raises(ProviderError) as raised:
            instance.router.send(MESSAGE)
        assert raised.value is expected


def open_circuit(world: World, instance: Instance) -> None:
    fail(instance, SETTINGS.failure_threshold)
    assert [s.opened for s in world.switches] == [True]


def test_threshold_consecutive_retryable_failures_open_the_circuit_and_the_next_send_takes_the_secondary(
    world: World,
) -> None:
    # Given one instance
    a = world.instance()
    # When the primary fails with a retryable error threshold times in a row
    fail(a, 3)
    world.clock.advance(1)
    accepted = a.router.send(MESSAGE)
    # Then the circuit opened once, and the next send went through the secondary, saying why
    assert accepted == Accepted("ses", "ses-1", route_reason=FAILOVER_REASON)
    assert a.primary.calls == 3
    [switch] = world.switches
    assert (switch.channel, switch.primary, switch.secondary) == ("email", "sendgrid", "ses")
    assert (switch.opened, switch.failures, switch.at) == (True, 3, T0)
    assert "503: service unavailable" in switch.reason
    # and the shared item holds the open state, never to expire
    item = world.item()
    assert item["state"] == {"S": "open"}
    assert item["failures"] == {"N": "3"}
    assert item["opened_at"] == {"N": str(int(T0.timestamp()))}
    assert item["last_error"] == {"S": "503: service unavailable"}
    assert "updated_at" in item
    assert "expires_at" not in item


def test_fewer_failures_than_the_threshold_keep_the_primary(world: World) -> None:
    # Given an instance whose primary failed threshold - 1 times
    a = world.instance()
    fail(a, 2)
    # When the next message comes
    accepted = a.router.send(MESSAGE)
    # Then the primary takes it and no switch is reported
    assert accepted == Accepted("sendgrid", "sendgrid-3")
    assert world.switches == []


def test_failures_interleaved_with_successes_are_not_consecutive(world: World) -> None:
    # Given failures, a success, then failures again: threshold in total, never threshold in a row
    a = world.instance()
    fail(a, 2)
    assert a.router.send(MESSAGE).provider == "sendgrid"
    fail(a, 2)
    world.clock.advance(5)  # past the cache: read what is stored
    # When the next message comes
    accepted = a.router.send(MESSAGE)
    # Then the circuit never opened: the success reset the count
    assert accepted.provider == "sendgrid"
    assert world.switches == []
    assert world.item()["failures"] == {"N": "0"}  # the last success reset it again


def test_permanent_errors_do_not_count(world: World) -> None:
    # Given a primary refusing requests as malformed, more often than the threshold
    a = world.instance()
    fail(a, 5, permanent)
    # When the next message comes
    accepted = a.router.send(MESSAGE)
    # Then the primary still takes it: the requests were at fault, not the provider; nothing was written
    assert accepted.provider == "sendgrid"
    assert world.switches == []
    assert world.item() == {}


def test_two_instances_share_the_circuit_and_one_switch_is_reported(world: World) -> None:
    # Given two instances of the function, each having read the circuit closed
    a, b = world.instance(), world.instance()
    assert b.router.send(MESSAGE).provider == "sendgrid"
    fail(a, 2)
    # When b's primary fails once more: the shared count reaches the threshold
    fail(b, 1)
    # Then b opened the circuit and reported it, failures counted by both
    [switch] = world.switches
    assert (switch.opened, switch.failures) == (True, 3)
    # a, within its cache period, still trusts what it read (a success there does not close the circuit)
    assert a.router.send(MESSAGE).provider == "sendgrid"
    assert world.item()["state"] == {"S": "open"}
    # and once its cache expires, a fails over too, with no second switch reported
    world.clock.advance(SETTINGS.cache_seconds)
    assert a.router.send(MESSAGE) == Accepted("ses", "ses-1", route_reason=FAILOVER_REASON)
    assert len(world.switches) == 1


def test_a_stale_instance_failing_on_an_open_circuit_reports_no_second_switch(world: World) -> None:
    # Given a opened the circuit while b's cache still says closed
    a, b = world.instance(), world.instance()
    assert b.router.send(MESSAGE).provider == "sendgrid"
    open_circuit(world, a)
    # When b tries its primary and fails
    fail(b, 1)
    # Then the failure is counted, but the circuit is not opened (nor reported) again
    assert world.item()["failures"] == {"N": "4"}
    assert len(world.switches) == 1


def test_only_one_conditional_open_wins(world: World) -> None:
    # Given two instances that both counted up to the threshold
    circuits = [DynamoDbCircuit(world.instance().client, TABLE, "email", "sendgrid") for _ in range(2)]
    for circuit in circuits:
        circuit.record_failure(T0, "503: down")
    circuits[0].record_failure(T0, "503: down")
    # When both try to open the circuit
    won = [circuit.open_if_closed(T0, min_failures=3) for circuit in circuits]
    # Then exactly one wins
    assert won == [True, False]


def test_no_probe_before_probe_after_seconds(world: World) -> None:
    # Given an open circuit
    a, b = world.instance(), world.instance()
    open_circuit(world, a)
    # When both instances send for probe_after_seconds - 1
    world.clock.advance(SETTINGS.probe_after_seconds - 1)
    routed = [a.router.send(MESSAGE).provider, b.router.send(MESSAGE).provider]
    # Then every message goes through the secondary; nobody claimed the probe
    assert routed == ["ses", "ses"]
    assert (a.primary.calls, b.primary.calls) == (3, 0)
    assert "probe_until" not in world.item()


def test_exactly_one_of_two_instances_wins_the_probe(world: World) -> None:
    # Given an open circuit, read by both instances just before the probe time
    a, b = world.instance(), world.instance()
    open_circuit(world, a)
    world.clock.advance(SETTINGS.probe_after_seconds - 1)
    a.router.send(MESSAGE)
    b.router.send(MESSAGE)
    world.clock.advance(1)
    # When both send at the probe time, b while a's probe is still in flight
    during_probe: list[Accepted] = []

    def b_sends_then_a_is_accepted() -> str:
        during_probe.append(b.router.send(MESSAGE))
        return "probe-id"

    a.primary.then(b_sends_then_a_is_accepted)
    probe = a.router.send(MESSAGE)
    # Then a won the probe and sent through the primary; b lost the claim and used the secondary
    assert probe == Accepted("sendgrid", "probe-id")
    assert during_probe == [Accepted("ses", "ses-2", route_reason=FAILOVER_REASON)]
    assert b.primary.calls == 0
    assert b.calls["UpdateItem"] == 1  # b did try the claim


def test_an_instance_losing_the_probe_to_a_closed_circuit_takes_the_primary(world: World) -> None:
    # Given an open circuit, read by b just before the probe time
    a, b = world.instance(), world.instance()
    open_circuit(world, a)
    world.clock.advance(SETTINGS.probe_after_seconds - 1)
    b.router.send(MESSAGE)
    world.clock.advance(1)
    # When a's probe closes the circuit, then b (its cache still saying open) sends
    assert a.router.send(MESSAGE).provider == "sendgrid"
    accepted = b.router.send(MESSAGE)
    # Then b's claim failed, it read the circuit again and found it closed: the primary takes the message
    assert accepted == Accepted("sendgrid", "sendgrid-1")
    assert b.calls["GetItem"] == 2


def test_probe_success_closes_the_circuit_and_reports_the_switch_back_once(world: World) -> None:
    # Given an open circuit whose probe time has come
    a, b = world.instance(), world.instance()
    open_circuit(world, a)
    world.clock.advance(SETTINGS.probe_after_seconds)
    # When a's probe succeeds
    assert a.router.send(MESSAGE).provider == "sendgrid"
    # Then the circuit is closed, its count reset, and the switch back reported once
    assert [(s.opened, s.failures, s.reason) for s in world.switches] == [
        (True, 3, world.switches[0].reason),
        (False, 0, "probe succeeded"),
    ]
    item = world.item()
    assert (item["state"], item["failures"]) == ({"S": "closed"}, {"N": "0"})
    assert "opened_at" not in item
    assert "probe_until" not in item
    # and later sends from both instances go through the primary
    world.clock.advance(SETTINGS.cache_seconds)
    assert [a.router.send(MESSAGE).provider, b.router.send(MESSAGE).provider] == ["sendgrid", "sendgrid"]
    assert len(world.switches) == 2


def test_probe_answered_with_a_permanent_error_closes_the_circuit(world: World) -> None:
    # Given an open circuit whose probe time has come
    a = world.instance()
    open_circuit(world, a)
    world.clock.advance(SETTINGS.probe_after_seconds)
    # When the probe's message is refused as malformed
    fail(a, 1, permanent)
    # Then the primary answered: the circuit closes (the error still propagated, as `fail` checks)
    assert world.switches[-1].opened is False
    assert "permanent error (400)" in world.switches[-1].reason
    assert world.item()["state"] == {"S": "closed"}
    assert a.router.send(MESSAGE).provider == "sendgrid"


def test_probe_failure_keeps_the_circuit_open_and_restarts_the_wait(world: World) -> None:
    # Given an open circuit whose probe time has come
    a = world.instance()
    open_circuit(world, a)
    world.clock.advance(SETTINGS.probe_after_seconds)
    probe_time = world.clock.now
    # When the probe fails with a retryable error
    fail(a, 1)
    # Then the error propagated without the secondary being tried in the same call (it may have been accepted)
    assert a.secondary.calls == 0
    item = world.item()
    assert item["state"] == {"S": "open"}
    assert item["opened_at"] == {"N": str(int(probe_time.timestamp()))}
    assert "probe_until" not in item
    # and the wait starts again: secondary until probe_after_seconds after the failed probe, then a new probe
    world.clock.advance(SETTINGS.probe_after_seconds - 1)
    assert a.router.send(MESSAGE).provider == "ses"
    world.clock.advance(1)
    assert a.router.send(MESSAGE).provider == "sendgrid"
    assert [s.opened for s in world.switches] == [True, False]


def test_escalations_always_take_the_secondary_and_never_touch_the_circuit(world: World) -> None:
    # Given a closed circuit on one instance, an open one seen by another
    a, b = world.instance(), world.instance()
    open_circuit(world, b)
    reads_and_writes = (sum(a.calls.values()), sum(b.calls.values()))
    # When escalations are sent through both
    accepted = [a.router.send(ESCALATION), b.router.send(ESCALATION)]
    # Then the secondary took both, saying why, without a single DynamoDB call
    assert accepted == [
        Accepted("ses", "ses-1", route_reason=ESCALATION_REASON),
        Accepted("ses", "ses-1", route_reason=ESCALATION_REASON),
    ]
    assert (sum(a.calls.values()), sum(b.calls.values())) == reads_and_writes
    assert a.primary.calls == 0


def test_a_success_with_no_known_failures_makes_no_dynamodb_write(world: World) -> None:
    # Given a healthy primary
    a = world.instance()
    # When several messages are sent, across cache periods
    for _ in range(3):
        a.router.send(MESSAGE)
        world.clock.advance(SETTINGS.cache_seconds)
    # Then the circuit was read (once per cache period) and never written
    assert a.writes() == 0
    assert a.calls["GetItem"] == 3


def test_a_success_after_a_counted_failure_resets_once(world: World) -> None:
    # Given an instance that counted one failure
    a = world.instance()
    fail(a, 1)
    writes_after_failure = a.writes()
    # When two messages then succeed
    a.router.send(MESSAGE)
    a.router.send(MESSAGE)
    # Then the first success reset the count (one write), the second wrote nothing
    assert a.writes() == writes_after_failure + 1
    assert world.item()["failures"] == {"N": "0"}


def test_a_success_resets_failures_counted_by_another_instance(world: World) -> None:
    # Given failures counted by b, seen by a when it reads the circuit
    a, b = world.instance(), world.instance()
    fail(b, 2)
    # When a's primary succeeds
    a.router.send(MESSAGE)
    # Then a reset the shared count
    assert a.writes() == 1
    assert world.item()["failures"] == {"N": "0"}


def test_errors_of_the_secondary_propagate_unchanged(world: World) -> None:
    # Given an open circuit and a secondary that fails
    a = world.instance()
    open_circuit(world, a)
    error = retryable("429")
    a.secondary.then(error)
    # When a message fails over
    with pytest.raises(ProviderError) as raised:
        a.router.send(MESSAGE)
    # Then its error is the secondary's own, and the primary's circuit did not count it
    assert raised.value is error
    assert world.item()["failures"] == {"N": "3"}


def test_concurrent_sends_read_the_circuit_once_per_cache_period(world: World) -> None:
    # Given one instance used from 10 threads
    a = world.instance()
    start = threading.Barrier(10)

    def send(_: int) -> Accepted:
        start.wait(timeout=10)  # all threads released together: the cache is empty when they arrive
        return a.router.send(MESSAGE)

    # When 10 messages are sent at once
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(send, range(10)))
    # Then all went through the primary and the circuit was read once
    assert {r.provider for r in results} == {"sendgrid"}
    assert a.calls["GetItem"] == 1
