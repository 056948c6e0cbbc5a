"""The shipment state machine's stories through the real dispatch handler and the DynamoDB ledger over moto:
the conditional write built from domain.shipment_states decides, not a fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.domain.keys import key
from herald.handlers import dispatch

from .conftest import TABLE, Env, sample

_START = datetime.now(UTC) - timedelta(hours=12)


def _ship(env: Env, event_type: str, event_id: str, hours: float, **exception: str) -> None:
    """Dispatch one shipment event of the sample shipment, `hours` after the story's start."""
    event: dict[str, Any] = sample(
        event_type, id=event_id, time=(_START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    )
    if exception:
        event["data"]["exception"] |= exception
    env.publish("shipment-events", [json.dumps(event)])
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []


def _outcomes(env: Env) -> dict[str, str]:
    return {i["event_id"]["S"]: i["status"]["S"] for i in env.items() if i.get("kind", {}).get("S") == "event"}


def test_out_for_delivery_and_an_attempt_after_an_exception_are_sent(env: Env) -> None:
    # Given a shipment out for delivery, then an exception (address issue)
    _ship(env, "shipment.out_for_delivery", "evt_ofd", 1)
    _ship(env, "shipment.exception", "evt_exc", 2, kind="address_issue")

    # When the carrier sends it out again the next day and fails once more
    _ship(env, "shipment.out_for_delivery", "evt_ofd_again", 5)
    _ship(env, "shipment.delivery_attempted", "evt_try", 6)

    # Then every one is notified (email and SMS each)
    outcomes = _outcomes(env)
    assert [outcomes[e] for e in ("evt_ofd", "evt_exc", "evt_ofd_again", "evt_try")] == ["dispatched"] * 4
    assert (env.depth("email"), env.depth("sms")) == (4, 4)


def test_a_delay_after_out_for_delivery_is_sent(env: Env) -> None:
    # Given a shipment out for delivery
    _ship(env, "shipment.out_for_delivery", "evt_ofd", 1)

    # When the carrier reports a delay
    _ship(env, "shipment.delayed", "evt_delay", 2)

    # Then the delay is notified
    assert _outcomes(env)["evt_delay"] == "dispatched"
    assert (env.depth("email"), env.depth("sms")) == (2, 2)


def test_in_transit_twice_is_one_notice_and_an_older_scan_after_out_for_delivery_is_superseded(env: Env) -> None:
    # Given a first scan notified
    _ship(env, "shipment.in_transit", "evt_scan_1", 1)

    # When a second scan arrives, then the parcel goes out, then a scan from before it goes out arrives late
    _ship(env, "shipment.in_transit", "evt_scan_2", 2)
    _ship(env, "shipment.out_for_delivery", "evt_ofd", 4)
    _ship(env, "shipment.in_transit", "evt_scan_late", 3)

    # Then only the first scan and the out_for_delivery are notified
    outcomes = _outcomes(env)
    assert [outcomes[e] for e in ("evt_scan_1", "evt_scan_2", "evt_ofd", "evt_scan_late")] == [
        "dispatched",
        "superseded",
        "dispatched",
        "superseded",
    ]
    assert (env.depth("email"), env.depth("sms")) == (2, 1)  # in_transit is email only


def test_after_delivered_only_a_return_to_sender_is_sent(env: Env) -> None:
    # Given a delivered shipment
    _ship(env, "shipment.delivered", "evt_delivered", 1)

    # When a late out_for_delivery, a damage exception, a created and then a return to sender arrive
    _ship(env, "shipment.out_for_delivery", "evt_ofd_late", 2)
    _ship(env, "shipment.exception", "evt_damaged", 3, kind="damaged")
    _ship(env, "shipment.created", "evt_created", 4)
    _ship(env, "shipment.exception", "evt_returned", 5, kind="returned_to_sender")

    # Then the three are superseded and the return is notified
    outcomes = _outcomes(env)
    assert [outcomes[e] for e in ("evt_ofd_late", "evt_damaged", "evt_created")] == ["superseded"] * 3
    assert outcomes["evt_returned"] == "dispatched"
    assert (env.depth("email"), env.depth("sms")) == (2, 2)


def test_a_state_item_written_under_ranks_lets_the_next_status_through(env: Env) -> None:
    # Given a shipment's state item as the rank-based ledger wrote it (delivered's rank 4, no state)
    shipment = sample("shipment.delivered")
    env.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": key("SHIPMENT", shipment["source"], shipment["data"]["shipment"]["id"])},
            "sk": {"S": "STATE"},
            "rank": {"N": "4"},
            "event_time_ms": {"N": "0"},
            "last_event_id": {"S": "evt_old"},
        },
    )

    # When the next status of the shipment arrives
    _ship(env, "shipment.out_for_delivery", "evt_ofd", 1)

    # Then it is notified (an item without a state is read as none), and the state is now the table's
    assert _outcomes(env)["evt_ofd"] == "dispatched"
    state = next(i for i in env.items() if i["sk"]["S"] == "STATE")
    assert state["state"]["S"] == "out_for_delivery"
