"""Test handlers for the local runtime: they report every invocation to the results queue.

Each message body is JSON `{"test": <marker>, "action": "ok" | "fail" | "raise"}`: "fail" is reported
in batchItemFailures, "raise" makes the whole invocation raise.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

# Imported once per sandbox (the cold start); the client is made on first use, as a real handler would.
_sqs: Any = None


def _report(kind: str, event: dict[str, Any], context: Any, failures: list[str]) -> None:
    global _sqs
    if _sqs is None:
        _sqs = boto3.client("sqs")
    report = {
        "kind": kind,
        "records": event["Records"],
        "failures": failures,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "aws_request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": {name: os.environ.get(name) for name in ("STAGE", "ROLE", "TABLE_NAME", "HERALD_EXTRA")},
        "pid": os.getpid(),
    }
    _sqs.send_message(QueueUrl=os.environ["RESULTS_QUEUE_URL"], MessageBody=json.dumps(report))


def _actions(event: dict[str, Any]) -> dict[str, str]:
    return {record["messageId"]: json.loads(record["body"]).get("action", "ok") for record in event["Records"]}


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    actions = _actions(event)
    failures = [message_id for message_id, action in actions.items() if action == "fail"]
    _report("recorder", event, context, failures)
    if "raise" in actions.values():
        raise RuntimeError("a record asked this invocation to raise")
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def handle_plain(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Without ReportBatchItemFailures on its mapping, the failures it reports must be ignored."""
    actions = _actions(event)
    failures = [message_id for message_id, action in actions.items() if action == "fail"]
    _report("plain", event, context, failures)
    if "raise" in actions.values():
        raise RuntimeError("a record asked this invocation to raise")
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
