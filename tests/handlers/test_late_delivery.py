"""A promised date that passes: dispatch schedules the check on EventBridge Scheduler (moto), the schedule's
input is delivered as Scheduler would deliver it at its time, the late-delivery function runs it, and dispatch
sends the one "running late" notice, or nothing when a later scan came first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from herald.adapters.scheduler_late_checks import LateCheckTargets, SchedulerLateChecks
from herald.domain.late_delivery import late_check
from herald.domain.shipment_states import ShipmentState
from herald.handlers import dispatch, late_delivery, send_sms

from .conftest import REGION, Env, _create_queue, sample

GROUP = "herald-late-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/herald-late-check-scheduler"


@pytest.fixture
def late_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    # The template's wiring: the schedule group, the checks' queue and DLQ, Scheduler's role
    scheduler = boto3.client("scheduler", region_name=REGION)
    scheduler.create_schedule_group(Name=GROUP)
    env.queues["late-checks"] = _create_queue(env.sqs, "late-checks")
    env.queues["late-checks-dlq"] = env.sqs.get_queue_url(QueueName="late-checks-dlq")["QueueUrl"]
    for name, value in {
        "HERALD_LATE_CHECK_SCHEDULE_GROUP": GROUP,
        "HERALD_LATE_CHECKS_QUEUE_URL": env.queues["late-checks"],
        "HERALD_LATE_CHECKS_QUEUE_ARN": env.arn("late-checks"),
        "HERALD_LATE_CHECKS_DLQ_ARN": env.arn("late-checks-dlq"),
        "HERALD_LATE_CHECK_SCHEDULER_ROLE_ARN": ROLE_ARN,
        # The join records each event's blocks (the check builds its notice from them)
        "HERALD_ORDER_EVENTS_QUEUE_URL": env.queues["order-events"],
        "HERALD_SHIPMENT_EVENTS_QUEUE_URL": env.queues["shipment-events"],
    }.items():
        monkeypatch.setenv(name, value)
    dispatch.root.reset()
    late_delivery.root.reset()
    return env


def _schedules() -> list[dict[str, Any]]:
    scheduler = boto3.client("scheduler", region_name=REGION)
    listed = scheduler.list_schedules(GroupName=GROUP)["Schedules"]
    return [scheduler.get_schedule(GroupName=GROUP, Name=s["Name"]) for s in listed]


def _ship(env: Env, event_type: str, event_id: str, **shipment: Any) -> dict[str, Any]:
    event = sample(event_type, id=event_id, time=datetime.now(UTC).isoformat())
    event["data"]["shipment"].update(shipment)
    env.publish("shipment-events", [json.dumps(event)])
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    return event


def _fire(env: Env, schedule: dict[str, Any]) -> None:
    """What Scheduler does at the schedule's time: put its input on its target queue."""
    target = schedule["Target"]
    assert target["Arn"] == env.arn("late-checks")
    env.sqs.send_message(QueueUrl=env.queues["late-checks"], MessageBody=target["Input"])


def _run_checks(env: Env) -> None:
    assert env.deliver("late-checks", late_delivery.handler)["batchItemFailures"] == []


def _outcomes(env: Env) -> dict[str, str]:
    return {i["event_id"]["S"]: i["status"]["S"] for i in env.items() if i.get("kind", {}).get("S") == "event"}


def _in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def test_a_promise_that_passes_with_no_later_scan_sends_one_running_late_notice(late_env: Env) -> None:
    env = late_env
    # Given a scan that promises delivery in three days
    promised = _in_days(3)
    _ship(env, "shipment.in_transit", "evt_scan", estimated_delivery=promised)
    # Then dispatch scheduled one check, the morning after, in the customer's zone (Denver), deleting itself
    (schedule,) = _schedules()
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    due = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC)
    assert due.date().isoformat() > promised
    assert due.hour in (15, 16)
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["RoleArn"] == ROLE_ARN
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": env.arn("late-checks-dlq")}

    # When the morning comes with no other scan, and the check runs
    _fire(env, schedule)
    _run_checks(env)
    # Then one shipment.delayed is on the shipment queue, and dispatch sends it by email and SMS
    assert env.depth("shipment-events") == 1
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    notice_id = f"late-shp_1001_1-{promised}"
    assert _outcomes(env)[notice_id] == "dispatched"
    email, sms = env.receive("email"), env.receive("sms")
    assert len(email["Records"]) == 2
    assert len(sms["Records"]) == 1
    (notice,) = [json.loads(r["body"]) for r in email["Records"] if json.loads(r["body"])["event_id"] == notice_id]
    assert "later than we said" in notice["email"]["text"]
    # And the notice itself promises nothing: no further check is scheduled
    assert len(_schedules()) == 1


def test_a_later_scan_cancels_the_check(late_env: Env) -> None:
    env = late_env
    # Given a scan that promised a day, and its scheduled check
    _ship(env, "shipment.in_transit", "evt_scan", estimated_delivery=_in_days(2))
    first = next(s for s in _schedules())
    # When the parcel goes out for delivery (no new estimate), and then the first check's time comes
    _ship(env, "shipment.out_for_delivery", "evt_ofd", estimated_delivery=None)
    _fire(env, first)
    _run_checks(env)
    # Then nothing is published: the customer heard more since that promise
    assert env.depth("shipment-events") == 0


def test_a_revised_date_is_a_new_promise_with_its_own_check(late_env: Env) -> None:
    env = late_env
    # Given a scan promising the 2nd day, then a delay promising the 5th
    _ship(env, "shipment.in_transit", "evt_scan", estimated_delivery=_in_days(2))
    _ship(env, "shipment.delayed", "evt_delay", estimated_delivery=_in_days(5))
    # Then each scheduled its own check
    schedules = _schedules()
    assert len(schedules) == 2
    # When both fall due
    for schedule in schedules:
        _fire(env, schedule)
    _run_checks(env)
    # Then only the delay's (the last notice's) publishes the running-late notice, for the 5th
    assert env.depth("shipment-events") == 1
    (record,) = env.receive("shipment-events")["Records"]
    assert json.loads(record["body"])["id"] == f"late-shp_1001_1-{_in_days(5)}"


def test_a_redelivered_event_or_check_tells_the_customer_once(late_env: Env) -> None:
    env = late_env
    # Given one scan dispatched twice (SQS redelivers), promising a day
    event = _ship(env, "shipment.in_transit", "evt_scan", estimated_delivery=_in_days(1))
    env.publish("shipment-events", [json.dumps(event)])
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    # Then one schedule exists (the second creation was a conflict, not an error)
    (schedule,) = _schedules()
    # When Scheduler delivers the check twice
    _fire(env, schedule)
    _fire(env, schedule)
    _run_checks(env)
    # Then two notices of one id are published, and the customer gets one SMS (dispatch records one
    # notification per channel for the id; the sender's claim sends it once however often it is queued)
    assert env.depth("shipment-events") == 2
    while env.depth("shipment-events"):
        assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    while env.depth("sms"):
        assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    texts = [m["body"] for m in env.outbox.sms()]
    assert len(texts) == 1
    assert "delayed" in texts[0]


def _promised_day_due_hours_ago() -> str:
    """A promised day (in Denver, the sample customer's zone) whose morning check fell due within the last day."""
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo("America/Denver"))
    days_back = 1 if local.hour >= 9 else 2  # due today at 09:00 (passed), else yesterday at 09:00 (< 24 h ago)
    return (local.date() - timedelta(days=days_back)).isoformat()


def test_a_promise_already_due_is_checked_at_once_and_an_older_one_not_at_all(late_env: Env) -> None:
    env = late_env
    # Given a scan Herald hears of only now, whose promised day's morning passed a few hours ago
    _ship(env, "shipment.in_transit", "evt_late_news", estimated_delivery=_promised_day_due_hours_ago())
    # Then no schedule is made (Scheduler cannot run one in the past): the check is on the queue already
    assert _schedules() == []
    assert env.depth("late-checks") == 1
    # And running it publishes the running-late notice
    _run_checks(env)
    assert env.depth("shipment-events") == 1
    # When another shipment's scan promised a day whose morning passed days ago (a replayed history)
    event = sample("shipment.in_transit", id="evt_replayed", time=datetime.now(UTC).isoformat())
    event["data"]["shipment"].update(id="shp_replayed", estimated_delivery=_in_days(-5))
    env.publish("shipment-events", [json.dumps(event)])
    env.receive("shipment-events")  # the notice above, out of the way
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    # Then it gets no check at all
    assert _schedules() == []
    assert env.depth("late-checks") == 0


def test_a_check_that_is_not_a_check_lands_in_the_dlq_after_max_receives(late_env: Env) -> None:
    env = late_env
    # Given a body on the checks' queue that is not a check
    env.sqs.send_message(QueueUrl=env.queues["late-checks"], MessageBody='{"not": "a check"}')
    # When it is received MaxReceiveCount times (the function fails it each time)
    for _ in range(3):
        result = env.deliver("late-checks", late_delivery.handler)
        assert len(result["batchItemFailures"]) == 1
        env.make_visible("late-checks")
    env.receive("late-checks")  # the receive past maxReceiveCount moves it
    # Then it is parked in the DLQ, where an operator finds it
    assert env.depth("late-checks-dlq") == 1


def test_scheduler_refusing_the_schedule_fails_the_event_for_redelivery(late_env: Env) -> None:
    # Given Scheduler answers with an error other than "already exists"
    class Refusing:
        def create_schedule(self, **_: Any) -> None:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "CreateSchedule")

    targets = LateCheckTargets(GROUP, late_env.queues["late-checks"], "arn:q", "arn:dlq", ROLE_ARN)
    adapter = SchedulerLateChecks(Refusing(), late_env.sqs, targets)
    check = late_check(
        source="s",
        order_id="o",
        shipment_id="p",
        state=ShipmentState.IN_TRANSIT,
        estimate=datetime.now(UTC).date() + timedelta(days=3),
        basis_event_id="e",
        timezone="UTC",
        now=datetime.now(UTC),
    )
    assert check is not None
    # Then scheduling raises (dispatch fails the record; SQS redelivers the event, which schedules again)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ThrottlingException"):
        adapter.schedule(check)
