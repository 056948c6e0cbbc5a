"""The local runtime against a small SAM template of its own (tests/integration/data/template.yaml).

The template has RecorderFunction on WorkQueue (BatchSize 5, 1 s batching window, ReportBatchItemFailures,
MaximumConcurrency 2; VisibilityTimeout 2 s, maxReceiveCount 2 into WorkDLQ) and PlainFunction on
PlainQueue (BatchSize 2, no ReportBatchItemFailures; maxReceiveCount 3 into PlainDLQ). Its handlers
report each invocation to ResultsQueue; a record's body says whether it succeeds, fails or raises.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from herald_tools.local.runtime import LOCAL_PARAMETERS, LocalRuntime, WorkerFailed
from herald_tools.local.stack import DeployError, deploy

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data"
PROJECT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
LAMBDA_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "md5OfMessageAttributes",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


def send(runtime: LocalRuntime, queue: str, marker: str, *actions: str, **attributes: Any) -> list[str]:
    """Send one message per action in a single SendMessageBatch; returns their message ids in order."""
    sqs = runtime.aws.client("sqs")
    entries = [
        {"Id": str(index), "MessageBody": json.dumps({"test": marker, "action": action}), **attributes}
        for index, action in enumerate(actions)
    ]
    result = sqs.send_message_batch(QueueUrl=runtime.stack.queue_url(queue), Entries=entries)
    assert not result.get("Failed")
    by_index = {entry["Id"]: entry["MessageId"] for entry in result["Successful"]}
    return [by_index[str(index)] for index in range(len(actions))]


def queue_arn(runtime: LocalRuntime, queue: str) -> str:
    attributes = runtime.aws.client("sqs").get_queue_attributes(
        QueueUrl=runtime.stack.queue_url(queue), AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])


def test_event_sources_are_read_back_from_the_emulator_with_their_template_settings(local_runtime):
    # Given the test template deployed into the emulator
    stack = local_runtime.stack
    # When its functions are read back
    recorder = stack.function("RecorderFunction")
    plain = stack.function("PlainFunction")
    # Then each carries its own mapping's settings, handler, timeout, memory and resolved environment
    (work,) = recorder.event_sources
    assert (work.queue_url, work.batch_size, work.batching_window_seconds) == (stack.queue_url("WorkQueue"), 5, 1)
    assert (work.max_concurrency, work.report_batch_item_failures, work.enabled) == (2, True, True)
    (plain_source,) = plain.event_sources
    assert (plain_source.batch_size, plain_source.batching_window_seconds) == (2, 0)
    assert (plain_source.max_concurrency, plain_source.report_batch_item_failures) == (None, False)
    assert (recorder.handler, recorder.timeout, recorder.memory_mb) == ("recorder.handle", 5, 256)
    assert (plain.handler, plain.timeout, plain.memory_mb) == ("recorder.handle_plain", 3, 128)
    assert recorder.environment == {
        "STAGE": "it",
        "RESULTS_QUEUE_URL": stack.queue_url("ResultsQueue"),
        "TABLE_NAME": stack.outputs["RecorderTableName"],
        "ROLE": "recorder",
    }
    # And the outputs and dead-letter queues are the stack's
    assert stack.outputs["WorkQueueUrl"] == stack.queue_url("WorkQueue")
    assert stack.dead_letter_queues == {"WorkDLQ", "PlainDLQ"}


def test_published_messages_reach_the_handler_as_a_lambda_sqs_event_in_batches_of_the_mapping_size(
    local_runtime, reports, marker
):
    # Given seven messages with a string and a binary attribute on the work queue (batch size 5)
    attributes = {
        "MessageAttributes": {
            "source": {"DataType": "String", "StringValue": "storefront"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},
        }
    }
    ids = send(local_runtime, "WorkQueue", marker, *["ok"] * 7, **attributes)
    # When the recorder function has seen all of them
    seen = reports.wait_for(marker, lambda rs: set(ids) <= set(reports.deliveries(rs)))
    # Then no invocation held more than 5 records and the batching window gathered more than one
    sizes = [len(report["records"]) for report in seen]
    assert max(sizes) <= 5 < sum(sizes)
    assert max(sizes) > 1
    # And every record has Lambda's shape
    arn = queue_arn(local_runtime, "WorkQueue")
    for report in seen:
        for record in report["records"]:
            assert set(record) == LAMBDA_RECORD_KEYS
            assert record["eventSource"] == "aws:sqs"
            assert (record["eventSourceARN"], record["awsRegion"]) == (arn, "us-east-1")
            assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
            assert set(record["attributes"]) >= {
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
            }
            assert record["messageAttributes"] == {
                "source": {
                    "stringValue": "storefront",
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": "String",
                },
                "blob": {"binaryValue": "AAEC", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
            }
    # And the handler ran with a Lambda-like context and the function's environment plus the overrides
    recorder = local_runtime.stack.function("RecorderFunction")
    context = seen[0]["context"]
    assert context["function_name"] == recorder.name
    assert context["invoked_function_arn"].endswith(f":function:{recorder.name}")
    assert context["memory_limit_in_mb"] == 256
    assert 0 < context["remaining_ms"] <= 5000
    assert seen[0]["env"] == {
        "STAGE": "it",
        "ROLE": "recorder",
        "TABLE_NAME": local_runtime.stack.outputs["RecorderTableName"],
        "HERALD_EXTRA": "from-the-parent",
    }
    # And all invocations ran in the function's one sandbox process
    assert len({report["pid"] for report in seen}) == 1


def test_a_partial_batch_failure_deletes_only_the_good_records_and_the_bad_one_reaches_the_dlq(
    local_runtime, reports, marker, drain_queue
):
    # Given a batch of good, bad, good on the work queue (maxReceiveCount 2)
    good_1, bad, good_2 = send(local_runtime, "WorkQueue", marker, "ok", "fail", "ok")
    # When the bad one has been delivered twice and SQS moved it on its third receive
    seen = reports.wait_for(marker, lambda rs: len(reports.deliveries(rs).get(bad, [])) >= 2)
    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while not dead and time.monotonic() < deadline:
        dead = [m for m in drain_queue("WorkDLQ") if json.loads(m["Body"])["test"] == marker]
        time.sleep(0.2)
    # Then the bad message is in the DLQ, unchanged, after exactly maxReceiveCount deliveries
    assert [m["MessageId"] for m in dead] == [bad]
    assert json.loads(dead[0]["Body"]) == {"test": marker, "action": "fail"}
    counts = reports.deliveries(reports.for_marker(marker))
    assert counts[bad] == [1, 2]
    # And its good neighbours were delivered once: the failure did not bring them back
    assert counts[good_1] == [1]
    assert counts[good_2] == [1]
    assert seen


def test_a_handler_that_raises_gets_its_whole_batch_back(local_runtime, reports, drain_queue):
    # Given one record that makes the handler raise, sent together with four good ones (batch size 5,
    # 1 s window: they are normally gathered into one invocation; two concurrent pollers can split them,
    # in which case the send is repeated, as a raise alone cannot show what happens to its neighbours)
    for _attempt in range(3):
        marker = uuid.uuid4().hex
        ids = send(local_runtime, "WorkQueue", marker, "raise", "ok", "ok", "ok", "ok")
        raiser = ids[0]
        # When the raising record has been delivered twice
        seen = reports.wait_for(marker, lambda rs, raiser=raiser: len(reports.deliveries(rs).get(raiser, [])) >= 2)
        first_raise = next(r for r in seen if raiser in {record["messageId"] for record in r["records"]})
        batch = [record["messageId"] for record in first_raise["records"]]
        if len(batch) > 1:
            break
    assert len(batch) > 1, "the good records were never batched with the raising one"
    # Then every record of the first invocation that raised came back (nothing was deleted)
    counts = reports.deliveries(seen)
    for message_id in batch:
        assert counts[message_id][:2] == [1, 2], message_id
    # And the raising record ends in the DLQ after maxReceiveCount attempts
    assert local_runtime.wait_until_settled(quiet_seconds=0.5, timeout=30)
    dead = {m["MessageId"] for m in drain_queue("WorkDLQ") if json.loads(m["Body"])["test"] == marker}
    assert raiser in dead


def test_without_report_batch_item_failures_a_reported_failure_is_ignored_and_the_batch_deleted(
    local_runtime, reports, marker, drain_queue
):
    # Given a record the plain handler reports as failed (its mapping has no ReportBatchItemFailures)
    (failing,) = send(local_runtime, "PlainQueue", marker, "fail")
    # When the runtime has settled
    reports.wait_for(marker, lambda rs: failing in reports.deliveries(rs))
    assert local_runtime.wait_until_settled(quiet_seconds=2.5, timeout=30)
    # Then it was delivered once and deleted, as Lambda ignores the response of such a mapping
    assert reports.deliveries(reports.for_marker(marker))[failing] == [1]
    assert not [m for m in drain_queue("PlainDLQ") if json.loads(m["Body"])["test"] == marker]


def test_wait_until_settled_waits_for_the_polled_queues_to_empty(local_runtime, reports, marker):
    # Given a record that keeps failing until its DLQ takes it (about two visibility timeouts away)
    send(local_runtime, "WorkQueue", marker, "fail", "ok", "ok")
    # When we ask for a settled runtime right away, with too little patience
    # Then it is not settled
    assert local_runtime.wait_until_settled(quiet_seconds=0.5, timeout=0.5) is False
    # When we wait long enough
    # Then it settles, and every polled queue is empty
    assert local_runtime.wait_until_settled(quiet_seconds=1.0, timeout=30) is True
    depths = local_runtime.queue_depths()
    assert {queue: depths[queue] for queue in local_runtime.polled_queues()} == {"WorkQueue": 0, "PlainQueue": 0}


def test_workers_start_as_separate_processes_and_stop_cleanly(tmp_path, local_runtime):
    # Given a second runtime of the same template under another stack name (sharing moto's process state)
    runtime = LocalRuntime(
        DATA / "template.yaml", parameters={"Stage": "lifecycle"}, log_dir=tmp_path, stack_name="herald-lifecycle"
    )
    # When it starts
    with runtime:
        pids = [worker.process.pid for worker in runtime.workers]
        assert len(pids) == 2
        assert all(worker.returncode is None for worker in runtime.workers)
        assert runtime.startup_seconds is not None
        print(f"LocalRuntime.start() took {runtime.startup_seconds:.2f}s")
    # Then stopping it ends every worker with exit code 0, after it logged its stop
    assert [worker.returncode for worker in runtime.workers] == [0, 0]
    for worker in runtime.workers:
        log = worker.log_path.read_text()
        assert "SIGTERM received" in log
        assert f"{worker.function.name}: stopped" in log
    # And the shared emulator still serves the session's stack
    assert local_runtime.queue_depths()["WorkQueue"] >= 0


def test_a_handler_that_cannot_be_imported_fails_start_with_its_log(tmp_path, local_runtime):
    # Given a template whose handler module does not exist
    runtime = LocalRuntime(DATA / "broken_handler.yaml", log_dir=tmp_path, stack_name="herald-broken")
    # When the runtime starts
    # Then start fails, naming the function and quoting the import error from its log
    with pytest.raises(WorkerFailed, match=r"(?s)BrokenFunction.*No module named 'no_such_module'"):
        runtime.start()
    # And nothing is left running
    assert all(worker.returncode is not None for worker in runtime.workers)


def test_a_resource_the_emulator_rejects_fails_deploy_naming_it(tmp_path, local_runtime):
    # Given a template whose event source is a queue that does not exist
    template = tmp_path / "template.yaml"
    template.write_text(
        (DATA / "broken_handler.yaml")
        .read_text()
        .replace("!GetAtt InboxQueue.Arn", "arn:aws:sqs:us-east-1:123456789012:no-such-queue")
        .replace("CodeUri: handlers/", f"CodeUri: {DATA / 'handlers'}")
    )
    # When it is deployed
    # Then the error names the mapping and the emulator's reason
    with pytest.raises(DeployError, match=r"AWS::Lambda::EventSourceMapping\): .*Invalid EventSourceArn"):
        deploy(local_runtime.aws, template, stack_name="herald-rejected")


@pytest.mark.skipif(not PROJECT_TEMPLATE.exists(), reason="template.yaml is not written yet")
def test_the_project_template_deploys_with_every_sqs_mapping_read_back(local_runtime):
    # Given Herald's own template.yaml
    # When it is deployed into the emulator (no workers: only the topology is checked)
    # The local parameters a deployment cannot leave to their defaults (the default storefront's number, ...)
    stack = deploy(local_runtime.aws, PROJECT_TEMPLATE, parameters=LOCAL_PARAMETERS, stack_name="herald-project")
    # Then every function is read back, each SQS mapping points at one of the stack's queues
    assert stack.functions
    urls = set(stack.queues.values())
    for function in stack.functions:
        assert function.handler
        for source in function.event_sources:
            assert source.queue_url in urls
            assert 1 <= source.batch_size <= 10_000
    # And no function polls a dead-letter queue
    dlq_urls = {stack.queue_url(logical_id) for logical_id in stack.dead_letter_queues}
    assert not {s.queue_url for f in stack.functions for s in f.event_sources} & dlq_urls
