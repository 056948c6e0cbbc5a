"""`herald publish`: reads JSON, arrays and JSON Lines, publishes through moto, reports, and exits 0, 1 or 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from herald_tools.cli import app
from herald_tools.events_file import read_events

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
REGION = "us-east-1"


@pytest.fixture
def runner() -> CliRunner:
    # A wide terminal so Rich does not fold the table cells the tests look for.
    return CliRunner(env={"COLUMNS": "250"})


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in (
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "HERALD_ORDER_EVENTS_QUEUE_URL",
        "HERALD_SHIPMENT_EVENTS_QUEUE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    return {name: sqs.create_queue(QueueName=f"herald-{name}-events")["QueueUrl"] for name in ("order", "shipment")}


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def url_args(queues: dict[str, str]) -> list[str]:
    return ["--order-queue-url", queues["order"], "--shipment-queue-url", queues["shipment"], "--region", REGION]


def test_publishing_every_sample_exits_0_and_fills_both_queues(
    runner: CliRunner, sqs: Any, queues: dict[str, str]
) -> None:
    # Given the 16 sample files (one per event type: order and return types on one queue, shipment on the other)
    files = sorted(str(p) for p in EVENTS_DIR.glob("*.json"))
    # When they are published with a JSON report
    result = runner.invoke(app, ["publish", *files, *url_args(queues), "--json"])
    # Then all are accepted, 9 on the order queue and 7 on the shipment queue, and the report names each file
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert len(report["accepted"]) == 16
    assert report["rejected"] == []
    assert {a["origin"] for a in report["accepted"]} == set(files)
    assert (depth(sqs, queues["order"]), depth(sqs, queues["shipment"])) == (9, 7)


def test_the_demo_story_exits_1_and_names_the_two_rejected_lines(
    runner: CliRunner, sqs: Any, queues: dict[str, str]
) -> None:
    # Given the demo's JSON Lines file
    demo = str(EVENTS_DIR / "demo" / "lifecycle.jsonl")
    # When published
    result = runner.invoke(app, ["publish", demo, *url_args(queues), "--json"])
    # Then 29 events are sent, events 7 and 10 (file lines 8 and 11: a STOP directive is line 3) are reported with
    # why, the six stage directives are skipped, and the exit code says something was rejected
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert len(report["accepted"]) == 29
    assert [(r["origin"], r["event_id"], r["reason"]) for r in report["rejected"]] == [
        (f"{demo}:8", "evt_1001_shipped", "unknown event type 'order.shipped'"),
        (
            f"{demo}:11",
            "evt_1002_cancelled_no_customer",
            "invalid order.cancelled event: data.customer: Field required",
        ),
    ]
    assert depth(sqs, queues["order"]) + depth(sqs, queues["shipment"]) == 29


def test_the_table_report_lists_accepted_and_rejected_events_with_why(
    runner: CliRunner, sqs: Any, queues: dict[str, str]
) -> None:
    # Given a valid and an invalid sample
    files = [str(EVENTS_DIR / "order.placed.json"), str(EVENTS_DIR / "invalid" / "unknown-type.json")]
    # When published without --json
    result = runner.invoke(app, ["publish", *files, *url_args(queues)])
    # Then the tables show both, the reason of the rejection, and the counts
    assert result.exit_code == 1
    assert "Published" in result.stdout
    assert "evt_1001_placed" in result.stdout
    assert "Rejected" in result.stdout
    assert "unknown event type 'order.shipped'" in result.stdout
    assert "1 accepted, 1 rejected" in result.stdout


def test_a_json_array_file_is_read_as_many_events(
    runner: CliRunner, sqs: Any, queues: dict[str, str], tmp_path: Path
) -> None:
    # Given a file holding a JSON array of two events and a number
    events = [json.loads((EVENTS_DIR / f"{t}.json").read_text()) for t in ("order.placed", "shipment.created")]
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([*events, 42], indent=2))
    # When it is published
    result = runner.invoke(app, ["publish", str(batch), *url_args(queues), "--json"])
    # Then the two events are sent, and the number is rejected at its position
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [a["origin"] for a in report["accepted"]] == [f"{batch}[0]", f"{batch}[1]"]
    assert [(r["origin"], r["reason"]) for r in report["rejected"]] == [
        (f"{batch}[2]", "body must be a JSON object, not int")
    ]


def test_a_file_that_is_not_json_is_one_rejected_event(runner: CliRunner, sqs: Any, queues: dict[str, str]) -> None:
    # Given the broken-JSON sample (several lines, none of them JSON alone)
    bad = str(EVENTS_DIR / "invalid" / "bad-json.json")
    # When published
    result = runner.invoke(app, ["publish", bad, *url_args(queues), "--json"])
    # Then it is one rejected event with the JSON error, and nothing is sent
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert len(report["rejected"]) == 1
    assert report["rejected"][0]["reason"].startswith("body is not valid JSON")
    assert depth(sqs, queues["order"]) == 0


def test_json_lines_are_detected_without_the_jsonl_suffix(tmp_path: Path) -> None:
    # Given two events one per line, a blank line between, in a .txt file
    events = tmp_path / "events.txt"
    events.write_text('{"id": "a"}\n\n{"id": "b"}\n')
    # When read / Then each line is one event, named by its line number
    assert read_events(events) == [(f"{events}:1", '{"id": "a"}'), (f"{events}:3", '{"id": "b"}')]


def test_the_queues_can_come_from_a_stack(runner: CliRunner, sqs: Any) -> None:
    # Given a stack whose outputs name the two queues
    template = {
        "Resources": {"Order": {"Type": "AWS::SQS::Queue"}, "Shipment": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "OrderEventsQueueUrl": {"Value": {"Ref": "Order"}},
            "ShipmentEventsQueueUrl": {"Value": {"Ref": "Shipment"}},
        },
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="herald-dev", TemplateBody=json.dumps(template))
    # When an event is published with --stack
    result = runner.invoke(
        app, ["publish", str(EVENTS_DIR / "shipment.created.json"), "--stack", "herald-dev", "--region", REGION]
    )
    # Then it lands on the stack's shipment queue
    assert result.exit_code == 0, result.output
    outputs = cloudformation.describe_stacks(StackName="herald-dev")["Stacks"][0]["Outputs"]
    shipment_url = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ShipmentEventsQueueUrl")
    assert depth(sqs, shipment_url) == 1


def test_the_queues_can_come_from_the_environment(
    runner: CliRunner, sqs: Any, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the queue URLs in the environment and no queue option
    monkeypatch.setenv("HERALD_ORDER_EVENTS_QUEUE_URL", queues["order"])
    monkeypatch.setenv("HERALD_SHIPMENT_EVENTS_QUEUE_URL", queues["shipment"])
    # When an event is published / Then it reaches the order queue
    result = runner.invoke(app, ["publish", str(EVENTS_DIR / "order.placed.json"), "--region", REGION])
    assert result.exit_code == 0, result.output
    assert depth(sqs, queues["order"]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "s", "--order-queue-url", "u", "--shipment-queue-url", "v"], "not both"),
        (["--order-queue-url", "u"], "give both --order-queue-url and --shipment-queue-url"),
        ([], "say where to publish"),
    ],
)
def test_contradictory_or_missing_destinations_exit_2_with_a_message(
    runner: CliRunner, sqs: Any, args: list[str], message: str
) -> None:
    # Given a valid file and a bad choice of destination / When run / Then usage error, nothing published
    result = runner.invoke(app, ["publish", str(EVENTS_DIR / "order.placed.json"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_missing_file_exits_2_with_a_message(runner: CliRunner, sqs: Any, queues: dict[str, str]) -> None:
    # Given a file that does not exist / When published / Then exit 2 naming it, and nothing is sent
    result = runner.invoke(
        app, ["publish", "no-such-file.json", str(EVENTS_DIR / "order.placed.json"), *url_args(queues)]
    )
    assert result.exit_code == 2
    assert "cannot read no-such-file.json" in result.stderr
    assert depth(sqs, queues["order"]) == 0


def test_a_stack_without_the_outputs_exits_2(runner: CliRunner, sqs: Any) -> None:
    # Given no such stack / When published with --stack / Then exit 2 with the reason
    result = runner.invoke(
        app, ["publish", str(EVENTS_DIR / "order.placed.json"), "--stack", "missing", "--region", REGION]
    )
    assert result.exit_code == 2
    assert "cannot read stack 'missing'" in result.stderr


def test_help_lists_the_publish_command() -> None:
    # Given the app / When asked for help / Then it lists publish with its purpose
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "publish" in result.stdout
    assert "Validate events against the contract" in result.stdout
