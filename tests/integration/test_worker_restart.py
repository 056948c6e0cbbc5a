"""The local runtime replaces a sandbox that dies, as Lambda starts a new execution environment.

tests/integration/data/restart.yaml: SlowFunction on SlowQueue (VisibilityTimeout 3 s); its handler reports
each invocation (records and pid) to ResultsQueue, then sleeps through a message's first delivery.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from herald_tools.local.runtime import LocalRuntime

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).parent / "data" / "restart.yaml"


def _reports(runtime: LocalRuntime, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sqs = runtime.aws.client("sqs")
    url = runtime.stack.queue_url("ResultsQueue")
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def _deliveries(reports: list[dict[str, Any]], message_id: str) -> list[tuple[int, int]]:
    """(receive count, worker pid) of every delivery of `message_id`."""
    return [
        (int(record["attributes"]["ApproximateReceiveCount"]), report["pid"])
        for report in reports
        for record in report["records"]
        if record["messageId"] == message_id
    ]


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what}")
        time.sleep(0.2)
    return result


def test_a_killed_worker_is_replaced_and_its_in_flight_messages_come_back_after_the_visibility_timeout(tmp_path):
    # Given a runtime whose function is busy with a message (its first delivery sleeps for 60 s)
    with LocalRuntime(TEMPLATE, log_dir=tmp_path, stack_name=f"herald-restart-{uuid.uuid4().hex[:8]}") as runtime:
        sqs = runtime.aws.client("sqs")
        body = json.dumps({"sleep": 60})
        message_id = sqs.send_message(QueueUrl=runtime.stack.queue_url("SlowQueue"), MessageBody=body)["MessageId"]
        seen: list[dict[str, Any]] = []
        first = _wait(lambda: _deliveries(_reports(runtime, seen), message_id), 20, "the first delivery")
        first_seen = time.monotonic()
        (receive_count, doomed_pid), *_ = first
        assert receive_count == 1
        assert [worker.process.pid for worker in runtime.workers] == [doomed_pid]

        # When its sandbox dies mid-batch (SIGKILL: no handler, no cleanup, nothing deleted)
        os.kill(doomed_pid, signal.SIGKILL)

        # Then the runtime starts a new sandbox for the function
        def replacement() -> int | None:
            pids = [w.process.pid for w in runtime.workers if w.returncode is None]
            return pids[0] if pids and pids[0] != doomed_pid else None

        new_pid = _wait(replacement, 20, "a replacement worker")
        assert runtime.restarts == {"SlowFunction": 1}
        # And the message it held comes back to the new sandbox once its visibility timeout (3 s) has passed
        deliveries = _wait(
            lambda: [d for d in _deliveries(_reports(runtime, seen), message_id) if d[0] >= 2],
            30,
            "the redelivery",
        )
        assert deliveries[0] == (2, new_pid)
        # (the first delivery was seen at most a poll after it was received; 2 s leaves room for that)
        assert time.monotonic() - first_seen >= 2.0
        # And, the redelivery having succeeded, the queue settles
        assert runtime.wait_until_settled(quiet_seconds=0.5, timeout=20) is True
    # And stopping the runtime stops the replacement cleanly
    assert [worker.returncode for worker in runtime.workers] == [0]
