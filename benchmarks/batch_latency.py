"""Batch latency: one invocation of send-email and of send-sms with a batch of 10 messages, against provider
stand-ins that take 200 ms to answer each call.

The messages are real channel messages: order.placed samples dispatched by the dispatch handler onto the email
and SMS queues of an in-process moto (DynamoDB, SQS, Secrets Manager), then received as Lambda's poller would.
The sender handlers run warm (a first invocation builds the clients and fetches the secret beforehand).

Figures: the batch of 10 in one invocation (concurrent), the same handler with ten batches of one (sequential:
what a batch costs when its records are sent one after the other), one batch of one, and the ratios of the
batch of 10 to one 200 ms provider call (the goal: at most 1.5x) and to the measured batch of one.

    python benchmarks/batch_latency.py [--latency 0.2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from contextlib import redirect_stdout
from typing import Any

from _aws import FakeContext, bench_aws, order_events
from _common import emit_json, median

BATCH = 10


def _dispatch(aws: Any, events: list[dict[str, Any]]) -> None:
    from herald.handlers import dispatch

    for event in events:
        aws.sqs.send_message(QueueUrl=aws.queues["order-events"], MessageBody=json.dumps(event))
    while True:
        batch = aws.receive("order-events", 10)
        if not batch["Records"]:
            return
        with redirect_stdout(io.StringIO()):
            response = dispatch.handler(batch, FakeContext())
        if response["batchItemFailures"]:
            raise RuntimeError(f"dispatch failed: {response}")


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
    from herald.handlers import wiring

    wiring.reset()


def measure(latency: float, repeat: int, *, separate_process: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with bench_aws(provider_latency=latency, separate_process=separate_process) as aws:
        from herald.handlers import send_email, send_sms

        new_sandbox()
        # Per round: one batch of 10, ten batches of one, one batch of one; plus one warm-up per channel.
        per_round = BATCH + BATCH + 1
        _dispatch(aws, order_events(per_round * repeat + 1))
        for channel, module in (("email", send_email), ("sms", send_sms)):
            handler = module.handler
            _invoke(handler, aws.receive(channel, 1))  # warm: clients built, secret fetched
            concurrent, sequential, single = [], [], []
            for _ in range(repeat):
                batch = aws.receive(channel, BATCH)
                if len(batch["Records"]) != BATCH:
                    raise RuntimeError(f"expected {BATCH} {channel} messages, got {len(batch['Records'])}")
                concurrent.append(_invoke(handler, batch))
                sequential.append(sum(_invoke(handler, aws.receive(channel, 1)) for _ in range(BATCH)))
                single.append(_invoke(handler, aws.receive(channel, 1)))
            results[channel] = {
                "batch10_concurrent_ms": round(median(concurrent) * 1000, 1),
                "batch1_x10_sequential_ms": round(median(sequential) * 1000, 1),
                "batch1_ms": round(median(single) * 1000, 1),
                "batch10_over_single_call": round(median(concurrent) / latency, 2),
                "batch10_over_batch1": round(median(concurrent) / median(single), 2),
            }
    return results


MODES = {
    "aws_out_of_process": "moto server in its own process (AWS's work off the function's CPU, as in Lambda)",
    "aws_in_process": "moto mock_aws in this process (emulated AWS work shares the function's GIL)",
}


def run(latency: float, repeat: int) -> dict[str, Any]:
    result: dict[str, Any] = {"provider_latency_ms": round(latency * 1000), "repeat": repeat}
    for mode in MODES:
        result[mode] = measure(latency, repeat, separate_process=mode == "aws_out_of_process")
    # The goal is judged where AWS's side does not run on the function's interpreter, as in Lambda.
    result["batch10_over_single_email"] = result["aws_out_of_process"]["email"]["batch10_over_single_call"]
    result["batch10_over_single_sms"] = result["aws_out_of_process"]["sms"]["batch10_over_single_call"]
    return result


def report(result: dict[str, Any]) -> None:
    latency = result["provider_latency_ms"]
    print(f"Batch latency (stand-ins answer after {latency} ms; warm handlers; medians of {result['repeat']} rounds)")
    for mode, description in MODES.items():
        print(f"  {description}:")
        print(
            f"    {'channel':<8} {'batch of 10':>12} {'10 x batch of 1':>16} {'batch of 1':>11} {'10 / one call':>14}"
        )
        for channel in ("email", "sms"):
            f = result[mode][channel]
            print(
                f"    {channel:<8} {f['batch10_concurrent_ms']:>9} ms {f['batch1_x10_sequential_ms']:>13} ms"
                f" {f['batch1_ms']:>8} ms {f['batch10_over_single_call']:>13}x"
            )
    for channel in ("email", "sms"):
        ratio = result[f"batch10_over_single_{channel}"]
        verdict = "meets" if ratio <= 1.5 else "MISSES"
        print(f"  {channel}: a batch of 10 takes {ratio:.2f}x one {latency} ms call ({verdict} the 1.5x goal)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each stand-in takes per call (0.2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are printed (3)")
    args = parser.parse_args(argv)
    from herald_tools.local.ports import install_local_ports

    # The functions wired as the local runtime wires them: the events' phones are Twilio test numbers.
    install_local_ports()
    result = run(args.latency, args.repeat)
    report(result)
    emit_json({"batch_latency": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
