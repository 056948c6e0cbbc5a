"""Outbound webhooks through the local runtime: template.yaml deployed into moto, the outbound-webhooks function in its
own sandbox, the storefront's receiver stand-in over HTTPS verifying each request as docs/outbound-webhooks.md says.

The demo's setup connects the default storefront (Acme Outdoor) to the receiver (herald_tools.local.demo.prepare), as
an operator would with `herald stores add`; the test then publishes as the order page will, through the port.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herald.adapters.dynamodb_ledger import DynamoDbLedger
from herald.adapters.sqs_outbound import SqsOutboundEvents
from herald.domain.outbound import OutboundType, outbound_event, outbound_event_id
from herald.usecases.timeline import build_timeline
from herald_tools.local.conditions import wait_for
from herald_tools.local.demo import DEMO_PARAMETERS, Providers, prepare, providers
from herald_tools.local.runtime import LocalRuntime

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ACME = "storefront/acme-outdoor"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, Providers]]:
    with (
        providers(tmp_path_factory.mktemp("outbound-outbox")) as setup,
        LocalRuntime(
            ROOT / "template.yaml",
            # Back-offs of a second, so a retried webhook comes back within the test
            extra_env={**setup.env, "HERALD_RETRY_BASE_SECONDS": "1", "HERALD_RETRY_MAX_SECONDS": "2"},
            log_dir=tmp_path_factory.mktemp("outbound-logs"),
            stack_name="herald-outbound",
            parameters=DEMO_PARAMETERS,
        ) as runtime,
    ):
        prepare(runtime, setup)
        yield runtime, setup


def _publish(runtime: LocalRuntime, order_id: str, cause: str) -> dict[str, Any]:
    event = outbound_event(
        ACME,
        OutboundType.DELIVERY_DISPUTED,
        order_id,
        {"shipment_id": f"shp_{order_id}", "answer": "not_received", "what_happened": "nothing_arrived"},
        outbound_event_id(OutboundType.DELIVERY_DISPUTED, order_id, cause),
    )
    SqsOutboundEvents(runtime.aws.client("sqs"), runtime.outputs["OutboundWebhooksQueueUrl"]).publish(event)
    return event


def _webhook_entry(runtime: LocalRuntime, order_id: str) -> dict[str, Any] | None:
    table = runtime.stack.function("OutboundWebhooksFunction").environment["HERALD_TABLE_NAME"]
    items = DynamoDbLedger(runtime.aws.client("dynamodb"), table).order_items(ACME, order_id)
    entries = [e for e in build_timeline(ACME, order_id, items)["entries"] if e["kind"].startswith("webhook_")]
    return entries[0] if entries else None


def test_a_dispute_reaches_the_storefronts_receiver_signed_and_is_on_the_timeline(
    deployment: tuple[LocalRuntime, Providers],
) -> None:
    runtime, setup = deployment
    receiver = setup.storefront_receiver
    # Given the default storefront connected to its receiver, When the order page publishes a dispute
    event = _publish(runtime, "it-1001", "submission-1")
    # Then the receiver verifies and records it
    received = wait_for(
        "the receiver to record the dispute",
        lambda: [r for r in receiver.received if r["webhook_id"] == event["id"]],
        bool,
    )
    assert received[0]["event"] == event
    # And the order's timeline says delivered
    entry = wait_for(
        "the timeline's webhook entry", lambda: _webhook_entry(runtime, "it-1001"), lambda e: e is not None
    )
    assert entry is not None
    assert (entry["kind"], entry["status_code"]) == ("webhook_delivered", 204)


def test_a_receiver_failing_once_gets_the_event_on_the_retry(deployment: tuple[LocalRuntime, Providers]) -> None:
    runtime, setup = deployment
    receiver = setup.storefront_receiver
    # Given the receiver told to answer its next request with a 500
    receiver.fail_next(1)
    # When a dispute is published
    event = _publish(runtime, "it-1002", "submission-2")
    # Then it arrives on the retry, once, and the timeline counts both attempts
    wait_for(
        "the retried dispute",
        lambda: [r for r in receiver.received if r["webhook_id"] == event["id"]],
        bool,
        timeout=60,
    )
    entry = wait_for(
        "the delivered entry",
        lambda: _webhook_entry(runtime, "it-1002"),
        lambda e: e is not None and e["kind"] == "webhook_delivered",
    )
    assert entry is not None
    assert entry["attempts"] == 2
    assert [h["kind"] for h in entry["history"]] == ["webhook_retrying", "webhook_delivered"]
