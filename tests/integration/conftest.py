"""Fixtures for the local runtime's integration tests: one runtime for the module, over tests/integration/data.

Starting a runtime costs a few seconds (moto's CloudFormation, one sandbox per function), so the tests
share one, and each tags its messages with a marker of its own and reads back only what carries it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from herald_tools.local.runtime import LocalRuntime

DATA = Path(__file__).parent / "data"
TEST_TEMPLATE = DATA / "template.yaml"
PARAMETERS = {"Stage": "it"}
EXTRA_ENV = {"HERALD_EXTRA": "from-the-parent"}


# Module scope: torn down as soon as its tests are done, before any later test starts moto's in-process
# mock (which shares, and resets, the state this runtime's emulator serves).
@pytest.fixture(scope="module")
def local_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        TEST_TEMPLATE,
        parameters=PARAMETERS,
        extra_env=EXTRA_ENV,
        log_dir=tmp_path_factory.mktemp("runtime-logs"),
        stack_name="herald-it",
    )
    with runtime:
        yield runtime


class Reports:
    """What the test handlers reported (one entry per invocation), read from the stack's results queue.

    Every test shares the queue, so everything read is kept here and each test filters by its marker.
    """

    def __init__(self, runtime: LocalRuntime) -> None:
        self._sqs = runtime.aws.client("sqs")
        self._url = runtime.stack.queue_url("ResultsQueue")
        self.seen: list[dict[str, Any]] = []

    def _drain(self) -> None:
        while True:
            messages = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])

    def for_marker(self, marker: str) -> list[dict[str, Any]]:
        """Invocations that carried at least one record of `marker`."""
        self._drain()
        return [
            report
            for report in self.seen
            if any(json.loads(record["body"]).get("test") == marker for record in report["records"])
        ]

    @staticmethod
    def deliveries(reports: list[dict[str, Any]]) -> dict[str, list[int]]:
        """ApproximateReceiveCount of every delivery, by message id."""
        counts: dict[str, list[int]] = {}
        for report in reports:
            for record in report["records"]:
                counts.setdefault(record["messageId"], []).append(int(record["attributes"]["ApproximateReceiveCount"]))
        return counts

    def wait_for(
        self, marker: str, done: Callable[[list[dict[str, Any]]], bool], *, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            reports = self.for_marker(marker)
            if done(reports):
                return reports
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {timeout}s; reports for {marker}: {reports}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def reports(local_runtime: LocalRuntime) -> Reports:
    return Reports(local_runtime)


@pytest.fixture
def marker() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def drain_queue(local_runtime: LocalRuntime) -> Callable[[str], list[dict[str, Any]]]:
    """Reads (and deletes) every message now visible in one of the stack's queues, e.g. a DLQ."""
    sqs = local_runtime.aws.client("sqs")

    def drain(logical_id: str) -> list[dict[str, Any]]:
        url = local_runtime.stack.queue_url(logical_id)
        drained = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return drained
            for message in messages:
                drained.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return drain
