"""The reference send functions' own cost (benchmarks/reference/): AWS requests and dollars per notification.

1. AWS requests: the reference send-email and send-sms handle order.placed channel messages in batches of 10
   over moto (mock_aws, in-process); every API call of every botocore session is counted by operation (a
   `before-call` hook, since the idempotency utility builds its own client, as the docs show). Its idempotency
   record is a conditional PutItem when a record starts and an UpdateItem with the result: 2 writes each.
2. CPU: `time.process_time()` around warm invocations, DynamoDB answered in memory at once
   (benchmarks/latency_aws.py) and the provider stand-ins in a process of their own, so that what is counted is
   the function's own work (Powertools, botocore, the SDK's request).
3. Dollars per million notifications at the prices own_cost.py uses, from the same duration model, with the
   reference's records sent one after the other: a batch of 10 waits for ten provider calls and twenty
   DynamoDB calls in turn.

Scope: the reference is a send function only (queue in, provider out): no event record, no dispatch. Herald's
`usd_per_million_notifications` (own_cost.py) covers its whole path from the storefront's event.

    python benchmarks/reference_cost.py [--batches 5] [--provider-ms 200] [--aws-call-ms 8]
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any

from _aws import FakeContext, bench_aws
from _common import emit_json
from _messages import channel_bodies
from latency_aws import LatencyAws
from own_cost import BATCH, CPU_SHARE, MEMORY_GB, PRICES, PRICES_SOURCE, print_usd_lines

CHANNELS = {"email": "reference.send_email", "sms": "reference.send_sms"}


@contextmanager
def counting_calls() -> Iterator[dict[str, int]]:
    """Every AWS API call of every botocore session made inside, by `service.Operation`."""
    import boto3
    from botocore import handlers

    counts: dict[str, int] = {}

    def count(model: Any, **_: Any) -> None:
        key = f"{model.service_model.endpoint_prefix}.{model.name}"
        counts[key] = counts.get(key, 0) + 1

    entry = ("before-call", count)
    handlers.BUILTIN_HANDLERS.append(entry)
    boto3.DEFAULT_SESSION = None
    try:
        yield counts
    finally:
        handlers.BUILTIN_HANDLERS.remove(entry)
        boto3.DEFAULT_SESSION = None


def _fresh_modules() -> dict[str, Any]:
    """The reference modules imported anew (their module-level clients are bound to the AWS of the moment)."""
    from aws_lambda_powertools.utilities.parameters import base

    base.DEFAULT_PROVIDERS.clear()
    for name in CHANNELS.values():
        sys.modules.pop(name, None)
    return {channel: importlib.import_module(name) for channel, name in CHANNELS.items()}


def _run_batches(aws: Any, modules: dict[str, Any], batches: int, prefix: str) -> dict[str, float]:
    """`batches` batches of 10 per channel through the reference handlers; CPU seconds per channel."""
    bodies = channel_bodies(BATCH * batches, prefix)
    cpu: dict[str, float] = {}
    for channel, module in modules.items():
        for start in range(0, len(bodies[channel]), 10):
            chunk = bodies[channel][start : start + 10]
            aws.sqs.send_message_batch(
                QueueUrl=aws.queues[channel], Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
            )
        used = 0.0
        for _ in range(batches):
            event = aws.receive(channel, BATCH)
            started = time.process_time()
            with redirect_stdout(io.StringIO()):
                response = module.handler(event, FakeContext())
            used += time.process_time() - started
            if response["batchItemFailures"]:
                raise RuntimeError(f"the reference failed records: {response}")
        cpu[channel] = used
    return cpu


def requests_per_notification(batches: int) -> dict[str, Any]:
    with bench_aws() as aws, counting_calls() as counts:
        modules = _fresh_modules()
        # Warm-up batch: the secret's first read (then cached by Powertools for 5 s) is counted apart.
        _run_batches(aws, modules, 1, "refcost_warm")
        counts.clear()
        _run_batches(aws, modules, batches, "refcost")
        # Our own SendMessageBatch/ReceiveMessage (standing in for the producer and Lambda's poller) are not the
        # function's calls: they are modelled below, as own_cost.py models Lambda's poller.
        calls = {k: v for k, v in counts.items() if not k.startswith("sqs.")}
        # A redelivered record (same notification, new SQS message): the idempotency record answers it.
        redelivered = _redelivery_sends(aws, modules["email"])
    notifications = batches * BATCH * len(CHANNELS)
    per = {k: v / notifications for k, v in sorted(calls.items())}
    writes = sum(v for k, v in per.items() if k.split(".")[1] in {"PutItem", "UpdateItem", "DeleteItem"})
    return {"calls_per_notification": per, "dynamodb_writes_per_notification": writes, "redelivery_sends": redelivered}


def _redelivery_sends(aws: Any, module: Any) -> int:
    """How many provider sends a copy of an already-sent notification causes (0: the idempotency utility held)."""
    body = channel_bodies(1, "refcost_redelivered")["email"][0]
    before = len(aws.sendgrid.outbox.emails()) if aws.sendgrid is not None else 0
    for _ in range(2):
        aws.sqs.send_message(QueueUrl=aws.queues["email"], MessageBody=body)
        with redirect_stdout(io.StringIO()):
            module.handler(aws.receive("email", 1), FakeContext())
    after = len(aws.sendgrid.outbox.emails()) if aws.sendgrid is not None else 0
    return after - before - 1


def cpu_per_notification(batches: int) -> float:
    """CPU microseconds per notification, DynamoDB in memory at once, the stand-ins in their own process."""
    fakes = LatencyAws(dynamodb_ms=0.0, sqs_ms=0.0)
    with bench_aws(separate_process=True, fakes=fakes) as aws:
        modules = _fresh_modules()
        _run_batches(aws, modules, 1, "refcpu_warm")
        cpu = _run_batches(aws, modules, batches, "refcpu")
    return sum(cpu.values()) / (batches * BATCH * len(CHANNELS)) * 1e6


def cost_per_million(cpu_us: float, requests: dict[str, Any], provider_ms: float, aws_call_ms: float) -> dict[str, Any]:
    per = requests["calls_per_notification"]
    dynamodb_calls = sum(v for k, v in per.items() if k.startswith("dynamodb."))
    # Sequential records: each waits for its own DynamoDB calls and its provider call, one after the other.
    batch_s = BATCH * (cpu_us / 1e6 / CPU_SHARE + dynamodb_calls * aws_call_ms / 1000 + provider_ms / 1000)
    gb_seconds = MEMORY_GB * batch_s / BATCH
    # Lambda's poller: one ReceiveMessage and one DeleteMessageBatch per batch of 10; the producer's
    # SendMessageBatch of 10 that put them there.
    sqs_requests = 3 / BATCH
    secrets_reads = per.get("secretsmanager.GetSecretValue", 0.0)
    parts = {
        "lambda_duration": gb_seconds * PRICES["lambda_arm64_usd_per_gb_second"],
        "lambda_requests": PRICES["lambda_usd_per_request"] / BATCH,
        "sqs_requests": sqs_requests * PRICES["sqs_standard_usd_per_request"],
        "dynamodb_writes": requests["dynamodb_writes_per_notification"] * PRICES["dynamodb_usd_per_write_request_unit"],
        # Secrets Manager is billed per 10,000 API calls ($0.05): a read every 5 s per sandbox, none here.
        "secrets_manager": secrets_reads * 0.05 / 10_000,
    }
    return {
        "usd_per_million": {k: round(v * 1e6, 2) for k, v in parts.items()},
        "usd_per_million_notifications": round(sum(parts.values()) * 1e6, 2),
        "model": {
            "lambda_gb_seconds_per_notification": round(gb_seconds, 6),
            "send_batch_seconds": round(batch_s, 4),
            "provider_ms": provider_ms,
            "aws_call_ms": aws_call_ms,
            "cpu_us_per_notification": round(cpu_us, 1),
            "sqs_requests_per_notification": sqs_requests,
        },
        "prices_source": PRICES_SOURCE,
    }


def report(result: dict[str, Any]) -> None:
    requests = result["requests"]
    print("Reference send functions (Powertools BatchProcessor + idempotency, the same SDKs; order.placed messages)")
    calls = ", ".join(f"{k} {v:g}" for k, v in requests["calls_per_notification"].items())
    print(f"  AWS calls per notification: {calls}")
    print(f"  DynamoDB writes per notification: {requests['dynamodb_writes_per_notification']:g}")
    print(f"  a redelivered notification sent again: {requests['redelivery_sends']} times")
    cost = result["cost"]
    print(f"  CPU: {cost['model']['cpu_us_per_notification']:.0f} us per notification")
    print(f"  AWS cost per million notifications (send function only; {cost['prices_source']}):")
    print_usd_lines(cost, indent="    ")
    model = cost["model"]
    print(
        f"  model: {model['lambda_gb_seconds_per_notification']} GB-s per notification (records in turn:"
        f" {model['send_batch_seconds']} s per batch of 10; {model['aws_call_ms']} ms per AWS call;"
        f" provider {model['provider_ms']} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=5, help="batches of 10 per channel (5)")
    parser.add_argument("--provider-ms", type=float, default=200.0, help="provider call in the duration model (200)")
    parser.add_argument("--aws-call-ms", type=float, default=8.0, help="one DynamoDB call in the model (8)")
    args = parser.parse_args(argv)
    requests = requests_per_notification(args.batches)
    cpu_us = cpu_per_notification(args.batches)
    cost = cost_per_million(cpu_us, requests, args.provider_ms, args.aws_call_ms)
    result = {"requests": requests, "cost": cost}
    report(result)
    emit_json(
        {
            "reference_cost": result,
            "reference_dynamodb_writes_per_notification": requests["dynamodb_writes_per_notification"],
            "reference_usd_per_million_notifications": cost["usd_per_million_notifications"],
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
