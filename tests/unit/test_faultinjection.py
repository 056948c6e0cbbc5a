"""herald_tools.faultinjection: crashes and DynamoDB throttling for soak runs, and nothing at all otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from herald_tools import faultinjection
from herald_tools.faultinjection import CRASH_EXIT_CODE, ENV_VAR, FaultConfig, Injector


@pytest.fixture(autouse=True)
def _fresh_injector() -> Iterator[None]:
    # The injector is cached per process (read once); each test sets its own environment.
    faultinjection.injector.cache_clear()
    yield
    faultinjection.injector.cache_clear()


def test_without_the_variable_nothing_is_injected(monkeypatch):
    # Given no HERALD_FAULT_INJECTION
    monkeypatch.delenv(ENV_VAR, raising=False)
    # When every crash point is passed, inside an in-flight notification
    with faultinjection.in_flight("n1") as tracked:
        for point in faultinjection.CRASH_POINTS:
            faultinjection.maybe_crash(point)
    # Then the process lives on, no injector exists and the in-flight context is the shared no-op
    assert tracked is None
    assert faultinjection.injector() is None
    assert faultinjection.in_flight("n2") is faultinjection.in_flight("n3")
    assert faultinjection.install_dynamodb_throttling() is False


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
        with injector.track("other"):
            injector.should_crash("before_provider")
            ready.wait()
            release.wait()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with injector.track("mine"):
        injector.should_crash("after_accept")
        ready.wait()
        # When this thread's crash is recorded
        record = injector.crash_record("after_accept")
    release.set()
    thread.join()
    # Then it names this notification and what every thread had in flight
    assert record["point"] == "after_accept"
    assert record["notification_id"] == "mine"
    assert record["in_flight"] == {"mine": "after_accept", "other": "before_provider"}
    # And finished notifications are forgotten
    assert injector.in_flight() == {}


def test_maybe_crash_kills_the_process_with_137_and_logs_the_point():
    # Given a process told to always crash after the provider accepted
    code = (
        "from herald_tools.faultinjection import in_flight, maybe_crash\n"
        "maybe_crash('before_provider')\n"
        "with in_flight('store|evt_1|sms'):\n"
        "    maybe_crash('after_accept')\n"
        "print('survived')\n"
    )
    env = {ENV_VAR: json.dumps({"crash": {"after_accept": 1.0}}), "PATH": ""}
    # When it passes the points
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], env={**env, "PYTHONPATH": ":".join(sys.path)}, capture_output=True, timeout=60
    )
    # Then it died at after_accept (not before it), exit code 137, having said where and in which notification
    assert result.returncode == CRASH_EXIT_CODE
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
