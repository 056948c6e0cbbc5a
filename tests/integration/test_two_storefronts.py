"""Two storefronts on one local deployment: each sends as itself, and neither can publish as the other.

The local runtime's default storefront (Acme Outdoor, the template's single-store parameters) is published by the
local operator; Globex Garden (herald_tools.local.storefronts) by its own IAM user. SQS names the sender of each
message (the emulator as AWS does), and dispatch admits an event only from a publisher its storefront lists.
"""

from __future__ import annotations

import copy
import email
import email.policy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herald_tools.local.demo import DEMO_PARAMETERS, Providers, prepare, providers
from herald_tools.local.runtime import LocalRuntime
from herald_tools.local.storefronts import SECOND_SOURCE, LocalPublisher

ROOT = Path(__file__).resolve().parents[2]
ACME = "storefront/acme-outdoor"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, Providers, LocalPublisher]]:
    outbox = tmp_path_factory.mktemp("two-storefronts-outbox")
    with (
        providers(outbox) as setup,
        LocalRuntime(
            ROOT / "template.yaml",
            extra_env=setup.env,
            log_dir=tmp_path_factory.mktemp("two-storefronts-logs"),
            stack_name="herald-two-storefronts",
            parameters=DEMO_PARAMETERS,  # deadline checks due in seconds, so the queues settle
        ) as runtime,
    ):
        globex = prepare(runtime, setup)
        yield runtime, setup, globex


def _order(source: str, event_id: str, store_name: str) -> str:
    event: dict[str, Any] = json.loads((ROOT / "events" / "order.placed.json").read_text())
    event = copy.deepcopy(event)
    event.update(source=source, id=event_id)
    event["data"]["store"] = {"name": store_name}
    event["data"]["order"]["id"] = f"ord_{event_id}"
    return json.dumps(event)


def _record(runtime: LocalRuntime, source: str, event_id: str) -> dict[str, Any]:
    """The dispatch record (event or rejection) of (source, id), as plain attributes."""
    table = runtime.stack.function("DispatchFunction").environment["HERALD_TABLE_NAME"]
    items = runtime.aws.client("dynamodb").scan(TableName=table)["Items"]
    found = [
        {k: next(iter(v.values())) for k, v in item.items()}
        for item in items
        if item.get("event_id", {}).get("S") == event_id
        and item.get("source", {}).get("S") == source
        and item.get("kind", {}).get("S") in ("event", "rejection")
    ]
    assert found, f"no record of {source} {event_id}"
    return found[0]


def _emails(setup: Providers) -> dict[str, email.message.EmailMessage]:
    """Accepted emails by order number in the subject."""
    messages = {}
    for path in setup.sendgrid.outbox.emails():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        messages[str(message["Subject"])] = message
    return messages


def test_each_storefront_sends_as_itself_and_neither_publishes_as_the_other(
    deployment: tuple[LocalRuntime, Providers, LocalPublisher],
) -> None:
    runtime, setup, globex = deployment
    queue = runtime.stack.queues["OrderEventsQueue"]
    operator = runtime.aws.client("sqs")  # the local operator: Acme Outdoor's publisher
    globex_sqs = globex.client(runtime)
    # Given each storefront's own order, and each publisher trying to publish as the other storefront
    operator.send_message(QueueUrl=queue, MessageBody=_order(ACME, "evt_acme_own", "Acme Outdoor"))
    globex_sqs.send_message(QueueUrl=queue, MessageBody=_order(SECOND_SOURCE, "evt_globex_own", "Globex Garden"))
    globex_sqs.send_message(QueueUrl=queue, MessageBody=_order(ACME, "evt_globex_as_acme", "Acme Outdoor"))
    operator.send_message(QueueUrl=queue, MessageBody=_order(SECOND_SOURCE, "evt_acme_as_globex", "Globex"))
    # When the deployment has handled them
    assert runtime.wait_until_settled(quiet_seconds=2.0, timeout=120)

    # Then each storefront's own order was dispatched, and the email went out from its own address
    assert _record(runtime, ACME, "evt_acme_own")["status"] == "dispatched"
    assert _record(runtime, SECOND_SOURCE, "evt_globex_own")["status"] == "dispatched"
    emails = _emails(setup)
    senders = {str(m["From"]) for m in emails.values()}
    assert any("hello@globex-garden.example" in sender for sender in senders), senders
    assert any("orders@herald.example" in sender for sender in senders), senders
    # And Globex's email wears its branding (its registry colour), and its SMS came from its own number
    (globex_email,) = [m for m in emails.values() if "hello@globex-garden.example" in str(m["From"])]
    html = globex_email.get_body(preferencelist=("html",))
    assert html is not None
    assert "#0a7d34" in html.get_content()
    from_numbers = {record["from"] for record in setup.twilio.outbox.sms()}
    assert {"+15005550010", "+15005550006"} <= from_numbers, from_numbers
    # And each forged one was rejected with the reason naming the publisher, and sent nothing
    forged_acme = _record(runtime, ACME, "evt_globex_as_acme")
    assert forged_acme["kind"] == "rejection"
    assert forged_acme["reason"] == f"publisher {globex.user_id} may not publish as {ACME!r}"
    forged_globex = _record(runtime, SECOND_SOURCE, "evt_acme_as_globex")
    assert forged_globex["reason"] == f"publisher AIDAIT2UOQQY3AUEKVGXU may not publish as {SECOND_SOURCE!r}"
    subjects = " ".join(_emails(setup))
    assert "ord_evt_globex_as_acme" not in subjects


def test_a_carrier_scan_posted_to_the_local_api_reaches_globexs_customer(
    deployment: tuple[LocalRuntime, Providers, LocalPublisher],
) -> None:
    """Through the local HTTP API's forwarding to the intake's sandbox, and the intake's relay to dispatch."""
    import urllib.request

    from herald_tools.local.storefronts import intake_secret_id, second_storefront

    runtime, _, globex = deployment
    fixtures = ROOT / "tests" / "fixtures"
    vector = json.loads((fixtures / "easypost_webhook_hmac_test_vector.json").read_text())
    body = (fixtures / "easypost_tracker_updated_event.json").read_bytes().removesuffix(b"\n")
    # Given Globex's entry takes EasyPost's webhooks (herald_tools.local.storefronts), its secret now EasyPost's
    # published test vector's
    assert second_storefront(globex.user_id).intake is not None
    runtime.aws.client("secretsmanager").put_secret_value(
        SecretId=intake_secret_id("easypost"), SecretString=vector["webhook_secret"]
    )
    # And Globex told Herald about the shipment EasyPost's published event tracks
    shipment: dict[str, Any] = json.loads((ROOT / "events" / "shipment.created.json").read_text())
    shipment.update(source=SECOND_SOURCE, id="evt_globex_shipment")
    shipment["data"]["order"]["id"] = "ord_globex_easypost"
    shipment["data"]["shipment"].update(id="shp_globex_easypost", carrier="FedEx", tracking_number="1")
    globex.client(runtime).send_message(
        QueueUrl=runtime.stack.queues["ShipmentEventsQueue"], MessageBody=json.dumps(shipment)
    )
    assert runtime.wait_until_settled(quiet_seconds=2.0, timeout=120)
    # When EasyPost posts the signed scan to the API's intake route
    request = urllib.request.Request(  # noqa: S310 - the local API on loopback
        f"{runtime.webhooks_url}/intake/easypost/globex-garden",
        data=body,
        headers={"Content-Type": "application/json", "X-Hmac-Signature": vector["expected_header_value"]},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        answer = json.loads(response.read())
    # Then it was published, and dispatch admitted the relayed event for Globex's order
    assert answer["published"] == ["easypost-evt_1"], answer
    assert runtime.wait_until_settled(quiet_seconds=2.0, timeout=120)
    record = _record(runtime, SECOND_SOURCE, "easypost-evt_1")
    assert record["kind"] == "event", record
    assert record["status"] == "dispatched", record


def test_a_passed_promise_is_told_once_through_the_local_scheduler(
    deployment: tuple[LocalRuntime, Providers, LocalPublisher],
) -> None:
    """Dispatch schedules the check on (moto's) Scheduler, the runtime runs it when its time comes, the
    late-delivery function publishes the notice, dispatch and the senders tell the customer."""
    from datetime import UTC, datetime, timedelta

    runtime, setup, _ = deployment
    assert runtime.scheduler is not None
    operator = runtime.aws.client("sqs")
    queue = runtime.stack.queues["ShipmentEventsQueue"]
    promised = (datetime.now(UTC) + timedelta(days=2)).date()
    # Given Acme's scan promising delivery in two days, to a customer with their own phone
    scan: dict[str, Any] = json.loads((ROOT / "events" / "shipment.in_transit.json").read_text())
    scan.update(id="evt_promise_scan", time=datetime.now(UTC).isoformat())
    scan["data"]["order"].update(id="ord_promise", number="#7001")
    scan["data"]["shipment"].update(id="shp_promise", estimated_delivery=promised.isoformat())
    operator.send_message(QueueUrl=queue, MessageBody=json.dumps(scan))
    assert runtime.wait_until_settled(quiet_seconds=2.0, timeout=120)
    # Then its check is scheduled, and nothing more is said yet
    pending = [p for p in runtime.scheduler.pending() if json.loads(p["input"])["shipment_id"] == "shp_promise"]
    assert len(pending) == 1, runtime.scheduler.pending()
    assert json.loads(pending[0]["input"])["promised"] == promised.isoformat()
    # When the morning after the promised day comes with no other scan
    ran = runtime.scheduler.run_due(now=datetime.now(UTC) + timedelta(days=4))
    assert pending[0]["name"] in ran
    assert runtime.wait_until_settled(quiet_seconds=2.0, timeout=120)
    # Then the customer was told, once, that order #7001 runs late
    late_id = f"late-shp_promise-{promised.isoformat()}"
    assert _record(runtime, ACME, late_id)["status"] == "dispatched"
    texts = [s["body"] for s in setup.twilio.outbox.sms() if "#7001" in s["body"]]
    assert len(texts) == 1, texts
    assert "delayed" in texts[0]
    assert [p for p in runtime.scheduler.pending() if "shp_promise" in p["input"]] == []
