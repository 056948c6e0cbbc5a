"""`herald local up`, then the operator commands against it with no flag: timeline and a DLQ redrive.

The runtime runs in its own process, as an operator starts it in a terminal; the commands find it through
the .herald/local.json it writes in its working folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from herald_tools.local.standins.outbox import Outbox

REPO = Path(__file__).resolve().parents[2]
ORDER_PLACED = REPO / "events" / "order.placed.json"
STARTUP_SECONDS = 90.0


def _herald(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, run by the current interpreter
        [sys.executable, "-m", "herald_tools.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def local_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder where `herald local up` is running (stopped with Ctrl-C's signal at the end)."""
    folder = tmp_path_factory.mktemp("local-up")
    log = (folder / "local-up.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own CLI, run by the current interpreter
        [sys.executable, "-m", "herald_tools.cli", "local", "up", "--template", str(REPO / "template.yaml")],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    try:
        state = folder / ".herald" / "local.json"
        _wait_for(lambda: state.exists() or process.poll() is not None, STARTUP_SECONDS, "herald local up")
        assert process.poll() is None, (folder / "local-up.log").read_text()
        yield folder
    finally:
        process.send_signal(signal.SIGINT)
        killed = False
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            killed = True
            process.kill()
            process.wait()
        log.close()
    # Stopping removed the state file: the commands no longer point at a runtime that is gone. (Once, under a
    # load of 12 on 2 cores, it was still there: the message says whether the stop was slow or the file stayed.)
    assert not (folder / ".herald" / "local.json").exists(), (
        f"exit {process.returncode}, killed after 120 s: {killed}\n" + (folder / "local-up.log").read_text()[-3000:]
    )


def _sqs(folder: Path) -> tuple[Any, dict[str, str]]:
    state = json.loads((folder / ".herald" / "local.json").read_text())
    sqs = boto3.client(
        "sqs",
        endpoint_url=state["endpoint_url"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # the emulator accepts any credentials
    )
    return sqs, state["outputs"]


def _timeline(folder: Path, order_id: str) -> dict[str, Any]:
    result = _herald(folder, "timeline", order_id, "--json")
    return json.loads(result.stdout) if result.returncode == 0 else {"entries": []}


def _all_sent(folder: Path, order_id: str) -> bool:
    notifications = [e for e in _timeline(folder, order_id)["entries"] if e["kind"] == "notification"]
    return len(notifications) == 2 and all(n["status"] == "sent" for n in notifications)


def test_timeline_and_redrive_on_the_local_runtime_without_a_duplicate(local_up: Path) -> None:
    # Given an order confirmation published to the local runtime and sent on both channels
    sqs, outputs = _sqs(local_up)
    body = ORDER_PLACED.read_text()
    sqs.send_message(QueueUrl=outputs["OrderEventsQueueUrl"], MessageBody=body)
    _wait_for(lambda: _all_sent(local_up, "ord_1001"), 60, "both notifications sent")
    outbox = Outbox(local_up / "outbox")
    assert (len(outbox.emails()), len(outbox.sms())) == (1, 1)

    # And a copy of the event parked in the order-events DLQ
    sqs.send_message(QueueUrl=outputs["OrderEventsDLQUrl"], MessageBody=body)
    listing = json.loads(_herald(local_up, "dlq", "list", "--json").stdout)
    assert {row["queue"]: row["messages"] for row in listing}["order-events"] == 1

    # When the operator redrives it (no --local: the state file is found) and the pipeline settles
    redrive = _herald(local_up, "dlq", "redrive", "order-events")
    assert redrive.returncode == 0, redrive.stderr
    assert "1 moved" in redrive.stdout

    def settled() -> bool:
        rows = json.loads(_herald(local_up, "dlq", "list", "--json").stdout)
        attributes = sqs.get_queue_attributes(
            QueueUrl=outputs["OrderEventsQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(r["messages"] == 0 for r in rows) and sum(map(int, attributes.values())) == 0

    _wait_for(settled, 60, "the redriven event to be dispatched")

    # Then the DLQ is empty, nothing was sent twice, and the timeline still holds one event and two sends
    assert (len(outbox.emails()), len(outbox.sms())) == (1, 1)
    timeline = _timeline(local_up, "ord_1001")
    assert (timeline["events"], timeline["notifications"]) == (1, 2)


def test_local_json_names_the_local_webhooks_url_which_answers(local_up: Path) -> None:
    # Given `herald local up` running; When a script reads WebhooksApiUrl from .herald/local.json
    url = json.loads((local_up / ".herald" / "local.json").read_text())["outputs"]["WebhooksApiUrl"]
    # Then it is the local HTTP API's loopback base URL, not the template's unresolved placeholder
    assert url.startswith("http://127.0.0.1:"), url
    assert "${" not in url
    # And the webhooks answer there: an unsigned Twilio status callback is refused, as the deployed API refuses it
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the runtime serves
        f"{url}/webhooks/twilio/status", data=b"MessageSid=SM1&MessageStatus=delivered", method="POST"
    )
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - see above
    assert 400 <= refused.value.code < 500
