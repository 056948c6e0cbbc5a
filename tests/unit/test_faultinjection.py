"""herald_tools.faultinjection: crashes and DynamoDB throttling for soak runs, and nothing at all otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from herald.handlers import wiring
from herald_tools import faultinjection
from herald_tools.faultinjection import CRASH_EXIT_CODE, ENV_VAR, FaultConfig, Injector

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_injector() -> Iterator[None]:
    # The injector is cached per process (read once); each test sets its own environment.
    faultinjection.injector.cache_clear()
    yield
    faultinjection.injector.cache_clear()


def test_without_the_variable_nothing_is_injected(monkeypatch):
    # Given no HERALD_FAULT_INJECTION
    monkeypatch.delenv(ENV_VAR, raising=False)
    # When the worker asks for the crash points and the throttling
    # Then nothing is installed: the composition roots build their ports as production does
    assert faultinjection.injector() is None
    assert faultinjection.install_crash_points() is False
    assert faultinjection.install_dynamodb_throttling() is False
    assert wiring.port(wiring.PORT_LEDGER, "ledger") == "ledger"


def test_the_variable_is_read_once_and_cached(monkeypatch):
    # Given the variable unset when first read
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert faultinjection.injector() is None
    # When it is set afterwards
    monkeypatch.setenv(ENV_VAR, json.dumps({"crash": {"after_mark": 1.0}}))
    # Then the process keeps what it read first
    assert faultinjection.injector() is None


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        json.dumps({"crash": {"somewhere": 0.1}}),
        json.dumps({"crash": {"after_mark": 1.5}}),
        json.dumps({"crash": {"after_mark": True}}),
        json.dumps({"dynamodb_throttle": -0.1}),
        json.dumps({"seed": "one"}),
        json.dumps({"crahs": {}}),
    ],
)
def test_a_malformed_setting_is_refused_with_the_variable_named(raw):
    # When the configuration is malformed
    # Then parsing fails, naming the variable
    with pytest.raises(ValueError, match=ENV_VAR):
        FaultConfig.parse(raw)


def test_crash_draws_follow_each_points_probability_and_are_reproducible_per_process():
    # Given a seeded configuration that crashes at after_accept 30% of the time and never elsewhere
    config = FaultConfig.parse(json.dumps({"crash": {"after_accept": 0.3}, "seed": 7}))
    first, same_pid, other_pid = Injector(config, pid=100), Injector(config, pid=100), Injector(config, pid=101)
    # When each decides 2,000 times
    draws = [[i.should_crash("after_accept") for _ in range(2000)] for i in (first, same_pid, other_pid)]
    # Then about 30% crash, the same process id replays the same draws, and a replacement process does not
    assert 0.25 < sum(draws[0]) / 2000 < 0.35
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]
    # And a point without a probability never crashes, nor draws
    assert not any(first.should_crash("before_provider") for _ in range(100))
    with pytest.raises(ValueError, match="unknown crash point"):
        first.should_crash("elsewhere")


def test_a_crash_record_names_the_point_and_every_notification_in_flight_with_its_last_point():
    # Given two threads each sending a notification, one past the provider, one before it
    injector = Injector(FaultConfig(crash={}))
    ready, release = threading.Barrier(2), threading.Event()

    def other_thread() -> None:
        injector.begin("other")
        injector.should_crash("before_provider")
        ready.wait()
        release.wait()
        injector.end()

    thread = threading.Thread(target=other_thread)
    thread.start()
    injector.begin("mine")
    injector.should_crash("after_accept")
    ready.wait()
    # When this thread's crash is recorded
    record = injector.crash_record("after_accept")
    injector.end()
    release.set()
    thread.join()
    # Then it names this notification and what every thread had in flight
    assert record["point"] == "after_accept"
    assert record["notification_id"] == "mine"
    assert record["in_flight"] == {"mine": "after_accept", "other": "before_provider"}
    # And finished notifications are forgotten
    assert injector.in_flight() == {}


class _Claim:
    claimed = True


class _Ledger:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def claim(self, message, **_):
        self.calls.append("claim")
        return _Claim()

    def mark_sent(self, message, accepted, **_):
        self.calls.append("mark_sent")

    def mark_failed(self, message, **_):
        self.calls.append("mark_failed")


class _Router:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def send(self, message):
        if self.error is not None:
            raise self.error
        return "accepted"


class _Message:
    notification_id = "store|evt_1|sms"


def test_the_crash_points_wrap_the_ledger_and_router_and_track_what_is_in_flight():
    # Given crash points that never fire, decorating the ports a root builds
    injector = Injector(FaultConfig(crash={"after_mark": 0.0}))
    decorate = faultinjection.crash_points(injector)
    ledger, router = _Ledger(), _Router()
    wrapped_ledger, wrapped_router = decorate(wiring.PORT_LEDGER, ledger), decorate(wiring.PORT_PROVIDER_ROUTER, router)
    # When a send claims, calls the provider and marks
    wrapped_ledger.claim(_Message(), lease_seconds=60, now=None)
    tracked_during_send = injector.in_flight()
    assert wrapped_router.send(_Message()) == "accepted"
    tracked_after_accept = injector.in_flight()
    wrapped_ledger.mark_sent(_Message(), "accepted", now=None)
    # Then the real ports did the work, and the notification was in flight from the claim until the mark
    assert ledger.calls == ["claim", "mark_sent"]
    assert tracked_during_send == {"store|evt_1|sms": "claimed"}
    assert tracked_after_accept == {"store|evt_1|sms": "after_accept"}
    assert injector.in_flight() == {}
    # And another port name is left as it is
    assert decorate(wiring.PORT_PHONE_RULE, "rule") == "rule"


def test_a_provider_error_ends_the_tracking_and_reaches_the_caller():
    # Given a claimed notification whose provider refuses it
    injector = Injector(FaultConfig(crash={}))
    decorate = faultinjection.crash_points(injector)
    ledger = decorate(wiring.PORT_LEDGER, _Ledger())
    router = decorate(wiring.PORT_PROVIDER_ROUTER, _Router(RuntimeError("refused")))
    ledger.claim(_Message(), lease_seconds=60, now=None)
    # When the provider is called
    with pytest.raises(RuntimeError, match="refused"):
        router.send(_Message())
    # Then nothing is left in flight, and the ledger's other calls go through as they are
    assert injector.in_flight() == {}
    ledger.mark_failed(_Message(), code="21211", reason="invalid", now=None)


def test_a_crash_point_kills_the_process_with_137_and_logs_the_point():
    # Given a process told to always crash after the provider accepted, with the crash points installed
    code = (
        "from herald.handlers import wiring\n"
        "from herald_tools.faultinjection import install_crash_points\n"
        "from tests.unit.test_faultinjection import _Ledger, _Message, _Router\n"
        "assert install_crash_points()\n"
        "ledger = wiring.port(wiring.PORT_LEDGER, _Ledger())\n"
        "router = wiring.port(wiring.PORT_PROVIDER_ROUTER, _Router())\n"
        "ledger.claim(_Message(), lease_seconds=60, now=None)\n"
        "router.send(_Message())\n"
        "print('survived')\n"
    )
    env = {ENV_VAR: json.dumps({"crash": {"after_accept": 1.0}}), "PATH": ""}
    # When a send passes the points
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": ":".join([str(ROOT), *sys.path])},
        capture_output=True,
        timeout=60,
    )
    # Then it died at after_accept (not before it), exit code 137, having said where and in which notification
    assert result.returncode == CRASH_EXIT_CODE, result.stderr.decode()[-2000:]
    assert b"survived" not in result.stdout
    line = next(line for line in result.stderr.decode().splitlines() if line.startswith(faultinjection.LOG_PREFIX))
    record = json.loads(line.removeprefix(faultinjection.LOG_PREFIX))
    assert record["point"] == "after_accept"
    assert record["in_flight"] == {"store|evt_1|sms": "after_accept"}


def test_dynamodb_throttling_is_retried_by_botocore_and_fails_the_call_when_retries_run_out(monkeypatch):
    # Given fault injection that throttles every DynamoDB request, installed on a fresh session
    monkeypatch.setenv(ENV_VAR, json.dumps({"dynamodb_throttle": 1.0}))
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    attempts: list[int] = []
    # (registered first: botocore stops at the first before-send handler that returns a response)
    session.events.register("before-send.dynamodb", lambda request, **_: attempts.append(1), unique_id="count")
    assert faultinjection.install_dynamodb_throttling(session) is True
    client = session.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",  # never reached: the hook answers first
        # botocore's "max_attempts" here counts retries: 1 attempt + 3 retries
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    # When a request is made
    with pytest.raises(ClientError) as raised:
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    # Then botocore saw ProvisionedThroughputExceededException on every attempt, retried, and gave up
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 3
    assert len(attempts) == 4


def test_dynamodb_throttling_lets_the_other_requests_through(monkeypatch):
    # Given a 0% throttle rate hook (the draw never falls under it)
    hook = faultinjection.throttle_hook(0.0, lambda: 0.5)
    # When a request goes through it
    # Then it returns None: botocore sends the request itself
    assert hook(request=object()) is None
