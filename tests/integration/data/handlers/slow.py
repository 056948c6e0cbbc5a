"""A test handler for worker restarts: it reports each invocation to the results queue, then sleeps for the
first delivery's `sleep` seconds (so that a test can kill its sandbox while the batch is in flight)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3

_sqs: Any = None


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _sqs
    if _sqs is None:
        _sqs = boto3.client("sqs")
    _sqs.send_message(
        QueueUrl=os.environ["RESULTS_QUEUE_URL"],
        MessageBody=json.dumps({"records": event["Records"], "pid": os.getpid()}),
    )
    first_delivery = all(record["attributes"]["ApproximateReceiveCount"] == "1" for record in event["Records"])
    if first_delivery:
        time.sleep(max(json.loads(record["body"]).get("sleep", 0) for record in event["Records"]))
    return {"batchItemFailures": []}
