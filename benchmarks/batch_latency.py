"""Batch latency: one warm invocation of send-email and of send-sms with a batch of 10 messages, against provider
stand-ins that take 200 ms to answer each call; beside it, the reference functions (benchmarks/reference/) with
the same batch.

The messages are real channel messages: order.placed samples rendered by Herald's Dispatcher, put on the email
and SMS queues, then received as Lambda's poller would. The handlers run warm (a first invocation builds the
clients and fetches the secret beforehand).

Figures: the batch of 10 in one invocation (Herald: concurrent), the same handler with ten batches of one
(sequential: what a batch costs when its records are sent one after the other), one batch of one, the
reference's batch of 10 (sequential, as BatchProcessor runs it), and the ratios of Herald's batch of 10 to one
200 ms provider call (the goal: at most 1.2x). Three ways to stand in for DynamoDB and SQS:

- aws_fakes_latency (the goal is judged here): in-memory DynamoDB and SQS behind the real boto3 clients
  (benchmarks/latency_aws.py), each call answered after a fixed wait that releases the GIL (4 ms DynamoDB,
  8 ms SQS), as a network round trip to AWS does; the only CPU spent is Herald's (and botocore's).
- aws_out_of_process: moto's server in its own process (AWS's work off the function's interpreter, but on the
  same two cores: its CPU cost is in the figure, and grows on a slower machine).
- aws_in_process: moto mock_aws in this process (emulated AWS work shares the function's GIL, as in tests).

    python benchmarks/batch_latency.py [--latency 0.2] [--repeat 3] [--dynamodb-ms 4] [--sqs-ms 8]
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
import time
from contextlib import redirect_stdout
from typing import Any

from _aws import FakeContext, bench_aws
from _common import emit_json, median
from _messages import channel_bodies
from latency_aws import LatencyAws

BATCH = 10
CHANNELS = ("email", "sms")
GOAL = 1.2


def _enqueue(aws: Any, channel: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        aws.sqs.send_message_batch(
            QueueUrl=aws.queues[channel], Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
        )


def _invoke(handler: Any, event: dict[str, Any]) -> float:
    started = time.perf_counter()
    # The metrics are printed as EMF lines on stdout (CloudWatch reads them in Lambda): kept, not shown.
    with redirect_stdout(io.StringIO()):
        response = handler(event, FakeContext())
    elapsed = time.perf_counter() - started
    if response["batchItemFailures"]:
        raise RuntimeError(f"send failed for {response['batchItemFailures']}")
    return elapsed


def new_sandbox() -> None:
    """Forget clients, settings and cached secrets, as a new Lambda sandbox would (the AWS endpoint changed)."""
    from aws_lambda_powertools.utilities.parameters import base

    from herald.handlers import wiring

    wiring.reset()
    base.DEFAULT_PROVIDERS.clear()  # the reference's get_secret() keeps its provider (and client) here
    for name in ("reference.send_email", "reference.send_sms"):
        sys.modules.pop(name, None)  # its module-level persistence layer holds a client of the last endpoint


def measure(latency: float, repeat: int, *, mode: str, dynamodb_ms: float, sqs_ms: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    fakes = LatencyAws(dynamodb_ms=dynamodb_ms, sqs_ms=sqs_ms) if mode == "aws_fakes_latency" else None
    with bench_aws(provider_latency=latency, separate_process=mode != "aws_in_process", fakes=fakes) as aws:
        new_sandbox()

        from herald.handlers import send_email, send_sms

        # Imported afresh (new_sandbox() forgot them): their module-level clients are built for this endpoint.
        reference_email = importlib.import_module("reference.send_email")
        reference_sms = importlib.import_module("reference.send_sms")
        handlers = {
            "email": (send_email.handler, reference_email.handler),
            "sms": (send_sms.handler, reference_sms.handler),
        }
        # Per round: one batch of 10 (Herald, then the reference), ten batches of one, one batch of one.
        per_round = BATCH + BATCH + 1
        bodies = channel_bodies(per_round * repeat + 2, f"latency_{mode}")
        for channel in CHANNELS:
            herald, reference = handlers[channel]
            _enqueue(aws, channel, bodies[channel])
            warm = aws.receive(channel, 2)  # warm: clients built, secret fetched; one record each
            _invoke(herald, {"Records": warm["Records"][:1]})
            _invoke(reference, {"Records": warm["Records"][1:]})
            concurrent, sequential, single, referenced = [], [], [], []
            for _ in range(repeat):
                batch = aws.receive(channel, BATCH)
                if len(batch["Records"]) != BATCH:
                    raise RuntimeError(f"expected {BATCH} {channel} messages, got {len(batch['Records'])}")
                concurrent.append(_invoke(herald, batch))
                # The same ten notifications: the reference keeps its own idempotency table, so all are new to it.
                referenced.append(_invoke(reference, batch))
                sequential.append(sum(_invoke(herald, aws.receive(channel, 1)) for _ in range(BATCH)))
                single.append(_invoke(herald, aws.receive(channel, 1)))
            results[channel] = {
                "batch10_concurrent_ms": round(median(concurrent) * 1000, 1),
                "batch1_x10_sequential_ms": round(median(sequential) * 1000, 1),
                "batch1_ms": round(median(single) * 1000, 1),
                "reference_batch10_ms": round(median(referenced) * 1000, 1),
                "batch10_over_single_call": round(median(concurrent) / latency, 2),
                "batch10_over_batch1": round(median(concurrent) / median(single), 2),
                "reference_over_herald": round(median(referenced) / median(concurrent), 2),
            }
        if fakes is not None:
            results["aws_calls"] = {"dynamodb": dict(fakes.dynamodb.calls), "sqs": dict(fakes.sqs.calls)}
    return results


MODES = {
    "aws_fakes_latency": "in-memory DynamoDB and SQS answering after a fixed latency (the goal is judged here)",
    "aws_out_of_process": "moto server in its own process (its CPU shares the machine's two cores)",
    "aws_in_process": "moto mock_aws in this process (emulated AWS work shares the function's GIL)",
}


def run(latency: float, repeat: int, dynamodb_ms: float = 4.0, sqs_ms: float = 8.0) -> dict[str, Any]:
    result: dict[str, Any] = {
        "provider_latency_ms": round(latency * 1000),
        "repeat": repeat,
        "fake_latency_ms": {"dynamodb": dynamodb_ms, "sqs": sqs_ms},
    }
    for mode in MODES:
        result[mode] = measure(latency, repeat, mode=mode, dynamodb_ms=dynamodb_ms, sqs_ms=sqs_ms)
    result["batch10_over_single_email"] = result["aws_fakes_latency"]["email"]["batch10_over_single_call"]
    result["batch10_over_single_sms"] = result["aws_fakes_latency"]["sms"]["batch10_over_single_call"]
    result["batch10_over_single_email_moto"] = result["aws_out_of_process"]["email"]["batch10_over_single_call"]
    result["batch10_over_single_sms_moto"] = result["aws_out_of_process"]["sms"]["batch10_over_single_call"]
    return result


def report(result: dict[str, Any]) -> None:
    latency = result["provider_latency_ms"]
    fake = result["fake_latency_ms"]
    print(f"Batch latency (stand-ins answer after {latency} ms; warm handlers; medians of {result['repeat']} rounds)")
    for mode, description in MODES.items():
        extra = f" ({fake['dynamodb']:g} ms DynamoDB, {fake['sqs']:g} ms SQS)" if mode == "aws_fakes_latency" else ""
        print(f"  {description}{extra}:")
        print(
            f"    {'channel':<8} {'batch of 10':>12} {'10 x batch of 1':>16} {'batch of 1':>11} {'10 / one call':>14}"
            f" {'reference 10':>13}"
        )
        for channel in CHANNELS:
            f = result[mode][channel]
            print(
                f"    {channel:<8} {f['batch10_concurrent_ms']:>9} ms {f['batch1_x10_sequential_ms']:>13} ms"
                f" {f['batch1_ms']:>8} ms {f['batch10_over_single_call']:>13}x {f['reference_batch10_ms']:>10} ms"
            )
    for channel in CHANNELS:
        ratio = result[f"batch10_over_single_{channel}"]
        moto = result[f"batch10_over_single_{channel}_moto"]
        verdict = "meets" if ratio <= GOAL else "MISSES"
        print(
            f"  {channel}: a batch of 10 takes {ratio:.2f}x one {latency} ms call with the latency fakes"
            f" ({verdict} the {GOAL}x goal); {moto:.2f}x over moto in its own process"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each stand-in takes per call (0.2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are printed (3)")
    parser.add_argument("--dynamodb-ms", type=float, default=4.0, help="the fake DynamoDB's latency per call (4)")
    parser.add_argument("--sqs-ms", type=float, default=8.0, help="the fake SQS's latency per call (8)")
    args = parser.parse_args(argv)
    from herald_tools.local.ports import install_local_ports

    # The functions wired as the local runtime wires them: the events' phones are Twilio test numbers.
    install_local_ports()
    result = run(args.latency, args.repeat, args.dynamodb_ms, args.sqs_ms)
    report(result)
    emit_json({"batch_latency": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
