"""The demo's story conditions: waited on with a deadline, read from the table, and named when they fail."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from herald.domain.circuit import CircuitState, CircuitStatus
from herald_tools.local.conditions import ConditionNotMet, Deployment, wait_for
from herald_tools.local.directives import DirectiveError, Stage, act

TABLE = "notifications"


class FakeClock:
    """Time that passes only when the wait sleeps: the tests never sleep."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_condition_that_holds_returns_what_was_seen() -> None:
    # Given an observation that holds on the third look
    looks = iter([1, 2, 3])
    clock = FakeClock()
    # When waited for; Then the observation that held is returned
    assert wait_for("three", lambda: next(looks), lambda n: n == 3, clock=clock, sleep=clock.sleep) == 3


def test_a_condition_not_met_by_its_deadline_fails_naming_it_and_the_last_observation() -> None:
    # Given a circuit that never opens
    clock = FakeClock()
    # When waited for with a 5 s deadline
    with pytest.raises(ConditionNotMet) as raised:
        wait_for(
            "the email circuit open", lambda: "closed", lambda s: s == "open", timeout=5, clock=clock, sleep=clock.sleep
        )
    # Then the failure names the condition and what was last seen, after the deadline and not before
    assert "waiting for the email circuit open; last seen: closed" in str(raised.value)
    assert 5 <= clock.now < 5.5


@pytest.mark.parametrize(
    ("state", "now", "due"),
    [
        (CircuitState(CircuitStatus.OPEN, opened_at=100), 103, True),
        (CircuitState(CircuitStatus.OPEN, opened_at=100), 102.9, False),  # the claim compares whole seconds
        (CircuitState(CircuitStatus.OPEN, opened_at=100, probe_until=110), 104, False),  # another probe holds it
        (CircuitState(CircuitStatus.CLOSED), 1000, False),
    ],
)
def test_a_probe_is_due_once_the_open_circuit_waited_its_interval_and_nobody_holds_it(
    state: CircuitState, now: float, due: bool
) -> None:
    # Given a 3 s probe interval; When the circuit is looked at `now`; Then the probe is due or not
    assert Deployment(None, TABLE, probe_seconds=3, epoch=lambda: now).probe_due(state) is due


@pytest.fixture
def table() -> Any:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _put(client: Any, **attributes: str) -> None:
    client.put_item(TableName=TABLE, Item={name: {"S": value} for name, value in attributes.items()})


def test_the_table_tells_the_circuit_the_notifications_on_their_way_and_the_opt_outs(table: Any) -> None:
    # Given an open email circuit, one email retrying, one sent, and Sam's STOP recorded
    _put(table, pk="CIRCUIT#email", sk="sendgrid", kind="circuit", state="open")
    _put(table, pk="ORDER#a", sk="N#1", kind="notification", channel="email", status="retrying", event_id="evt_1")
    _put(table, pk="ORDER#a", sk="N#2", kind="notification", channel="email", status="sent", event_id="evt_2")
    _put(table, pk="SUPPRESS#storefront/acme", sk="sms#+14155550142", signal="keyword")
    deployment = Deployment(table, TABLE, probe_seconds=3)
    # When the conditions read it; Then each sees what is there
    assert deployment.circuit("email").status is CircuitStatus.OPEN
    assert deployment.circuit("sms") == CircuitState()  # never written: closed
    assert deployment.unsettled("email") == ["evt_1"]
    assert deployment.unsettled("sms") == []
    assert deployment.suppressed("sms", "+14155550142") is True
    assert deployment.suppressed("sms", "+15005550006") is False


def _stage(deployment: Deployment | None) -> Stage:
    return Stage(sendgrid=object(), twilio=object(), webhooks_url=None, our_number="+1", deployment=deployment)


def test_until_circuit_open_returns_once_open_and_nothing_of_the_channel_is_on_its_way(table: Any) -> None:
    # Given the email circuit open and every email settled
    _put(table, pk="CIRCUIT#email", sk="sendgrid", kind="circuit", state="open")
    _put(table, pk="ORDER#a", sk="N#1", kind="notification", channel="email", status="sent", event_id="evt_1")
    # When the directive is acted out; Then it reports what it saw
    done = act({"until": "circuit_open", "channel": "email"}, _stage(Deployment(table, TABLE, probe_seconds=3)))
    assert done.startswith("seen: the email circuit open")


def test_until_a_condition_that_never_holds_stops_the_demo_naming_it(table: Any) -> None:
    # Given a closed email circuit
    stage = _stage(Deployment(table, TABLE, probe_seconds=3))
    # When the demo waits (briefly) for it to open; Then it stops, naming the condition
    with pytest.raises(ConditionNotMet, match="the email circuit open"):
        act({"until": "circuit_open", "channel": "email", "timeout": 0.2}, stage)


def test_until_an_unknown_condition_or_channel_is_a_mistake_in_the_events_file() -> None:
    with pytest.raises(DirectiveError, match="no condition"):
        act({"until": "sunrise", "channel": "email"}, _stage(None))
    with pytest.raises(DirectiveError, match="needs a channel"):
        act({"until": "circuit_open", "channel": "fax"}, _stage(None))


def test_until_is_skipped_when_the_channel_goes_to_the_real_provider() -> None:
    # Given real SendGrid (no stand-in): no outage was staged, its circuit has nothing to wait for
    stage = Stage(sendgrid=None, twilio=object(), webhooks_url=None, our_number="+1", deployment=None)
    assert act({"until": "circuit_open", "channel": "email"}, stage).startswith("skipped")
