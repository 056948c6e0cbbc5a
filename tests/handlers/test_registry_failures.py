"""Dispatch over moto when the registry's entry for a storefront is one the model refuses (an operator's error)."""

from __future__ import annotations

import json

import boto3

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald.handlers import dispatch
from tests.storefronts import REGISTRY_PATH, SAMPLE_SOURCE

from .conftest import MAX_RECEIVE_COUNT, REGION, Env, sample


def test_an_event_whose_storefront_entry_is_invalid_is_retried_then_parked_in_the_dlq(env: Env) -> None:
    """Given the samples' storefront's entry overwritten with one lacking email_from
    When an order confirmation from it is dispatched until SQS gives up on it
    Then every attempt fails the record (retried, never refused as unregistered), the event ends in the
    order-events DLQ, and nothing was planned or queued for it."""
    ssm = boto3.client("ssm", region_name=REGION)
    name = SsmStorefronts(ssm, REGISTRY_PATH).name_of(SAMPLE_SOURCE)
    ssm.put_parameter(Name=name, Value=json.dumps({"source": SAMPLE_SOURCE}), Type="String", Overwrite=True)
    env.publish("order-events", [json.dumps(sample("order.placed"))])

    for _ in range(MAX_RECEIVE_COUNT):
        assert len(env.deliver("order-events", dispatch.handler)["batchItemFailures"]) == 1
        env.make_visible("order-events")
    leftover = env.deliver("order-events", dispatch.handler)  # SQS moves it to the DLQ instead

    assert leftover["records"] == 0
    assert env.depth("order-events-dlq") == 1
    assert env.depth("email") == env.depth("sms") == 0
    assert env.notifications() == {}
