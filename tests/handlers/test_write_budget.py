"""The DynamoDB writes of one order and its shipment, counted through the real handlers over moto, as deployed with
the order page and the intake's join (issue 12, section 6): a change that adds a write fails here, with the list
of what was written (docs/capacity.md's table of writes says what each one guarantees)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from herald.handlers import dispatch, send_email, send_sms
from herald.handlers.aws import aws_client
from herald_tools.write_meter import WriteMeter

from .conftest import REGION, Env, sample

BASE_URL = "https://abc123defg.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def deployed(env: Env, monkeypatch: pytest.MonkeyPatch) -> tuple[Env, WriteMeter]:
    """The template's dispatch: the order page (its key in Secrets Manager) and the intake's join both on; every
    write of the functions' shared DynamoDB client metered."""
    monkeypatch.setenv("HERALD_ORDER_PAGE_BASE_URL", BASE_URL)
    monkeypatch.setenv("HERALD_ORDER_EVENTS_QUEUE_URL", env.queues["order-events"])
    monkeypatch.setenv("HERALD_SHIPMENT_EVENTS_QUEUE_URL", env.queues["shipment-events"])
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="herald/order-pages", SecretString=json.dumps({"keys": ["p" * 40]})
    )
    dispatch.root.reset()
    return env, WriteMeter.attach(aws_client("dynamodb"))


def _tell(env: Env, event: dict[str, Any]) -> None:
    """Dispatch the event, then send every message it queued (each function as its poller would invoke it)."""
    queue = "shipment-events" if event["type"].startswith("shipment.") else "order-events"
    env.publish(queue, [json.dumps(event)])
    assert env.deliver(queue, dispatch.handler)["batchItemFailures"] == []
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []


def test_an_order_placed_costs_the_writes_of_its_guarantees_and_no_more(deployed: tuple[Env, WriteMeter]) -> None:
    # Given a deployment with the order page and the join, and the sample order (an email and an SMS)
    env, meter = deployed
    # When the order is placed and both messages are sent
    _tell(env, sample("order.placed"))
    # Then it costs eleven writes: the event's claim and its finish, the join's order link, the page's record, each
    # notification's record, claim and mark, the number's opt-out notice; each item under 1 KB (one WRU each)
    assert meter.by_kind() == {
        "LINK/link": 1,
        "OPTOUT_NOTICE/sms": 1,
        "ORDER/EVENT": 2,
        "ORDER/NOTIF": 6,
        "PAGE/PAGE": 1,
    }, meter.log
    assert meter.writes == 11
    assert meter.wru == 11, meter.largest()


def _scan(event_type: str, event_id: str, hours: int) -> dict[str, Any]:
    """A carrier scan of the sample shipment, with the shipment block (and estimate) of the in-transit sample."""
    event = sample(event_type, id=event_id, time=f"2026-10-31T{10 + hours:02d}:00:00Z")
    event["data"]["shipment"] = sample("shipment.in_transit")["data"]["shipment"]
    return event


def test_a_scan_that_changes_nothing_the_join_and_the_page_keep_writes_neither(
    deployed: tuple[Env, WriteMeter],
) -> None:
    # Given the order placed and its shipment's first scan, which wrote the shipment's links and the page
    env, meter = deployed
    _tell(env, sample("order.placed"))
    meter.reset()
    _tell(env, _scan("shipment.in_transit", "evt_scan_1", 0))
    first = meter.by_kind()
    assert first["LINK/link"] == 3, first
    assert first["PAGE/PAGE"] == 1, first
    # When the next scans carry the same shipment block (same estimate)
    meter.reset()
    _tell(env, _scan("shipment.out_for_delivery", "evt_scan_2", 1))
    out = meter.by_kind()
    meter.reset()
    _tell(env, _scan("shipment.delivered", "evt_scan_3", 2))
    delivered = meter.by_kind()
    # Then neither rewrites the links nor the page: the shipment's state write said they did not change
    for written in (out, delivered):
        assert "LINK/link" not in written, written
        assert "PAGE/PAGE" not in written, written
    # And each (an email and an SMS) costs ten writes: the event's two, the state, each notification's record,
    # claim and mark, and the opt-out notice's claim (refused: the number was told already)
    expected = {"OPTOUT_NOTICE/sms": 1, "ORDER/EVENT": 2, "ORDER/NOTIF": 6, "SHIPMENT/STATE": 1}
    assert out == expected, out
    assert delivered == expected, delivered


def test_a_repeated_scan_is_superseded_for_three_writes(deployed: tuple[Env, WriteMeter]) -> None:
    # Given a shipment scanned in transit
    env, meter = deployed
    _tell(env, _scan("shipment.in_transit", "evt_scan_1", 0))
    # When the carrier reports in transit again
    meter.reset()
    _tell(env, _scan("shipment.in_transit", "evt_scan_2", 1))
    # Then the event is claimed, refused by the shipment's state and finished as superseded: nothing else
    assert meter.by_kind() == {"ORDER/EVENT": 2, "SHIPMENT/STATE": 1}, meter.log


def test_a_scan_with_a_new_estimate_rewrites_the_links_the_late_check_and_the_join_read(
    deployed: tuple[Env, WriteMeter],
) -> None:
    # Given a shipment scanned once
    env, meter = deployed
    _tell(env, _scan("shipment.in_transit", "evt_scan_1", 0))
    # When a later notice revises the estimate
    later = _scan("shipment.delayed", "evt_delay", 1)
    later["data"]["shipment"]["estimated_delivery"] = "2026-11-09"
    meter.reset()
    _tell(env, later)
    # Then the shipment's links hold the new estimate (what the customer was told last)
    assert meter.by_kind()["LINK/link"] == 3
    link = env.dynamodb.get_item(
        TableName="herald-test-notifications",
        Key={"pk": {"S": "LINK#storefront/acme-outdoor#shipment#shp_1001_1"}, "sk": {"S": "link"}},
    )["Item"]
    assert json.loads(link["blocks"]["S"])["shipment"]["estimated_delivery"] == "2026-11-09"
