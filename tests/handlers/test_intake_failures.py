"""The intake's failure paths over moto: the event queue refusing a verified report, the Shopify-events consumer
failing a record for AWS's reasons until it lands in its DLQ, and the registry index finding a storefront added
after it was built."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from herald.adapters.ssm_storefronts import MISSING_MAX_AGE_SECONDS, IntakeIndex, SsmStorefronts
from herald.handlers import aws, dispatch, intake, intake_events
from herald.handlers.wiring import Root
from tests.storefronts import REGISTRY_PATH, seed_registry, storefront

from . import test_intake, test_intake_shopify
from .conftest import MAX_RECEIVE_COUNT, REGION, Env
from .signing import snapshot
from .test_intake import (
    EASYPOST_BODY,
    EASYPOST_PATH,
    EASYPOST_SIGNATURE,
    _post,
    _shipment_with_the_fixtures_tracking_number,
)
from .test_intake_shopify import _fixture, _wrapped

# The intake's environments, as the intake's own handler tests build them.
intake_env = test_intake.intake_env
shopify_env = test_intake_shopify.shopify_env

SIGNED = {"X-Hmac-Signature": EASYPOST_SIGNATURE}
Refusal = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def refusing_sqs() -> Iterator[Callable[[Refusal | None], None]]:
    """`refuse(answer)`: from now on the functions' shared SQS client answers SendMessageBatch with `answer(request)`
    (None: SQS as it is). Set after the function's first invocation built its client."""
    client = aws.aws_client("sqs")
    real = client.send_message_batch

    def refuse(answer: Refusal | None) -> None:
        client.send_message_batch = real if answer is None else (lambda **request: answer(request))

    yield refuse
    client.send_message_batch = real


def _no_such_queue(request: dict[str, Any]) -> dict[str, Any]:
    """SQS's own error, as the SDK raises it (the queue is gone, or the function may not send to it)."""
    return boto3.client("sqs", region_name=REGION).send_message_batch(  # type: ignore[no-any-return]
        QueueUrl=request["QueueUrl"] + "-gone", Entries=request["Entries"]
    )


def _first_entry_failed(request: dict[str, Any]) -> dict[str, Any]:
    """A partial failure, as SQS answers one: HTTP 200, every entry but the first taken, the first in `Failed`."""
    first, *rest = request["Entries"]
    real = boto3.client("sqs", region_name=REGION)
    taken = real.send_message_batch(QueueUrl=request["QueueUrl"], Entries=rest)["Successful"] if rest else []
    return {"Successful": taken, "Failed": [{"Id": first["Id"], "SenderFault": False, "Code": "InternalError"}]}


# --- a. the event queue refuses: 5xx, and the platform's retry is taken whole ---------------------------------


@pytest.mark.parametrize("refusal", [_no_such_queue, _first_entry_failed], ids=["sqs-error", "partial-batch-failure"])
def test_a_report_the_event_queue_refuses_is_answered_503_and_taken_whole_when_retried(
    intake_env: Env, refusing_sqs: Callable[[Refusal | None], None], refusal: Refusal
) -> None:
    """Given the storefront told Herald of the shipment EasyPost's published event tracks
    When SQS refuses the scan's event (its error, or the entry reported Failed in an HTTP 200 batch answer)
    Then the intake answers 503 (EasyPost retries), the table is as it was and nothing is on the queue;
    And when EasyPost delivers the same request again with SQS back, it is published and its notice recorded."""
    env = intake_env
    _shipment_with_the_fixtures_tracking_number(env)
    before = snapshot(env)
    refusing_sqs(refusal)

    refused = _post(EASYPOST_PATH, EASYPOST_BODY, SIGNED)

    assert refused["statusCode"] == 503, refused
    assert json.loads(refused["body"]) == {"message": "try again later"}
    assert snapshot(env) == before
    assert env.depth("shipment-events") == 0

    refusing_sqs(None)
    retried = _post(EASYPOST_PATH, EASYPOST_BODY, SIGNED)

    assert retried["statusCode"] == 200, retried
    assert json.loads(retried["body"])["published"] == ["easypost-evt_1"]
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    assert [n["status"] for n in env.notifications().values() if n.get("event_id") == "easypost-evt_1"] != []


def test_a_scan_parked_before_the_queue_refused_its_release_is_kept_for_the_retry(
    intake_env: Env, refusing_sqs: Callable[[Refusal | None], None]
) -> None:
    """Given EasyPost's scan arrived before its shipment and was parked
    When the shipment is reported but SQS refuses the released scan (dispatch fails the record, SQS redelivers)
    Then the scan stays parked; and when dispatch takes the shipment again with SQS back, the scan is published."""
    env = intake_env
    assert json.loads(_post(EASYPOST_PATH, EASYPOST_BODY, SIGNED)["body"])["parked"] != []
    refusing_sqs(_first_entry_failed)

    event = json.dumps(_shipment_event())
    env.publish("shipment-events", [event])
    assert len(env.deliver("shipment-events", dispatch.handler)["batchItemFailures"]) == 1
    assert [i for i in env.items() if i["pk"]["S"].startswith("PARKED#")] != []

    refusing_sqs(None)
    env.make_visible("shipment-events")
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    assert [i for i in env.items() if i["pk"]["S"].startswith("PARKED#")] == []
    assert env.depth("shipment-events") == 1  # the released scan, waiting for dispatch


def _shipment_event() -> dict[str, Any]:
    from .conftest import sample

    event = sample("shipment.created", id="evt_easypost_shipment")
    event["data"]["shipment"].update({"carrier": "FedEx", "tracking_number": "1", "id": "shp_easypost"})
    return event


def test_a_revised_estimates_delay_the_queue_refuses_after_its_scan_was_admitted_is_still_told(
    intake_env: Env, refusing_sqs: Callable[[Refusal | None], None]
) -> None:
    """Given the shipment was announced for 2024-08-01, and EasyPost's published scan expects 2024-08-05 (so the
    scan comes with a revision's shipment.delayed)
    When SQS takes the scan, dispatch admits it (the link now holds the new estimate as told), and only then SQS
    answers that the delay's entry failed
    Then the intake answers 503 and keeps the delay parked under the parcel's link;
    And when EasyPost retries, dispatch's copy of the scan releases the delay, and the customer is told of it."""
    env = intake_env
    shipment = _shipment_event()
    shipment["data"]["shipment"]["estimated_delivery"] = "2024-08-01"
    env.publish("shipment-events", [json.dumps(shipment)])
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    delay_id = "easypost-edd-1-2024-08-05"
    refused: list[str] = []

    def scan_taken_and_admitted_then_delay_failed(request: dict[str, Any]) -> dict[str, Any]:
        real = boto3.client("sqs", region_name=REGION)
        if request["QueueUrl"] != env.queues["shipment-events"] or refused:
            return real.send_message_batch(**request)  # type: ignore[no-any-return]
        *taken, last = request["Entries"]
        refused.append(json.loads(last["MessageBody"])["id"])
        answer = real.send_message_batch(QueueUrl=request["QueueUrl"], Entries=taken)
        assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []  # dispatch was quicker
        return {"Successful": answer["Successful"], "Failed": [{"Id": last["Id"], "SenderFault": False, "Code": "X"}]}

    refusing_sqs(scan_taken_and_admitted_then_delay_failed)
    first = _post(EASYPOST_PATH, EASYPOST_BODY, SIGNED)

    assert first["statusCode"] == 503, first
    assert refused == [delay_id]
    parked = [i["sk"]["S"] for i in env.items() if i["pk"]["S"].startswith("PARKED#")]
    assert parked == ["edd-1-2024-08-05"]

    refusing_sqs(None)
    retried = _post(EASYPOST_PATH, EASYPOST_BODY, SIGNED)
    assert retried["statusCode"] == 200, retried
    for _ in range(2):  # the scan's copy (a duplicate, which releases the delay), then the delay
        assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    assert [n for n in env.notifications().values() if n.get("event_id") == delay_id] != []
    assert [i for i in env.items() if i["pk"]["S"].startswith("PARKED#")] == []


# --- b. the Shopify-events consumer: AWS's failures are retried, then parked in the DLQ --------------------------


def test_a_shopify_event_the_queue_refuses_is_redelivered_then_lands_in_the_shopify_events_dlq(
    shopify_env: Env, refusing_sqs: Callable[[Refusal | None], None]
) -> None:
    """Given Shopify's published order through EventBridge on the shopify-events queue, and SQS refusing the
    order-events queue's batches
    When the consumer takes the record until SQS gives up on it (receive count conditions, no waiting)
    Then every attempt fails that record (never recorded as rejected), and after maxReceiveCount receives it is in
    the ShopifyEventsDLQ, with nothing on the order-events queue."""
    env = shopify_env
    env.queues["shopify-events-dlq"] = env.sqs.get_queue_url(QueueName="shopify-events-dlq")["QueueUrl"]
    env.publish("shopify-events", [_wrapped("orders/create", json.loads(_fixture("shopify_orders_create.json")))])
    refusing_sqs(_no_such_queue)

    for _ in range(MAX_RECEIVE_COUNT):
        result = env.deliver("shopify-events", intake_events.handler)
        assert (result["records"], len(result["batchItemFailures"])) == (1, 1)
        env.make_visible("shopify-events")
    assert env.deliver("shopify-events", intake_events.handler)["records"] == 0  # SQS moved it instead

    assert env.depth("shopify-events-dlq") == 1
    assert env.depth("order-events") == 0
    assert [i for i in env.items() if i["pk"]["S"].startswith("REJECTED#")] == []


# --- c. the registry index finds a storefront added after it was built, once the interval has passed ----------


class Clock:
    """Monotonic seconds the test moves by hand (the index reads time only through it). Starts at 0.0."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_storefront_registered_after_the_index_was_built_is_served_once_the_rebuild_interval_has_passed(
    intake_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the intake's index built at t=0 from a registry without "bramble-books", whose entry is then added
    When EasyPost posts to /intake/easypost/bramble-books before the minimum rebuild interval has passed
    Then it is refused as an unknown slug (403), however often it is asked, and nothing is recorded;
    And once the interval has passed since the build, the same request is served (200, the scan parked)."""
    env = intake_env
    clock = Clock()
    ssm = boto3.client("ssm", region_name=REGION)

    def graph_with_clock() -> intake.IntakeGraph:
        graph = intake.build_graph()
        index = IntakeIndex(SsmStorefronts(aws.aws_client("ssm"), REGISTRY_PATH), clock=clock)
        return dataclasses.replace(graph, index=index)

    monkeypatch.setattr(intake, "root", Root(graph_with_clock))
    path = "/intake/easypost/bramble-books"
    assert _post(EASYPOST_PATH, EASYPOST_BODY, SIGNED)["statusCode"] == 200  # builds the index at t=0
    bramble = storefront(
        "storefront/bramble-books",
        intake={"slug": "bramble-books", "easypost_secret_id": "herald/acme/easypost"},  # the vector's secret
    )
    seed_registry(ssm, REGISTRY_PATH, bramble)
    before = snapshot(env)

    for clock.now in (1.0, MISSING_MAX_AGE_SECONDS / 2, MISSING_MAX_AGE_SECONDS - 0.5):
        assert _post(path, EASYPOST_BODY, SIGNED)["statusCode"] == 403, clock.now
    assert snapshot(env) == before

    clock.now = float(MISSING_MAX_AGE_SECONDS)
    served = _post(path, EASYPOST_BODY, SIGNED)
    assert served["statusCode"] == 200, served
    assert json.loads(served["body"])["parked"] == ["easypost evt_1: waiting for its tracking 1"]
