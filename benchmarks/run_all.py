"""Run every benchmark, each in a fresh interpreter, and print their figures; the last line is one JSON object.

    python benchmarks/run_all.py [--orders 50] [--cold-runs 7]

Each benchmark prints its own figures and, as its last line, its result as JSON; this script passes the
human-readable part through and gathers the JSON into one summary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import machine

HERE = Path(__file__).resolve().parent


def run_script(name: str, *args: str) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py"), *args], capture_output=True, text=True, check=False, cwd=HERE.parent
    )
    lines = done.stdout.rstrip("\n").splitlines()
    if done.returncode != 0 or not lines:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"benchmarks/{name}.py failed (exit {done.returncode})")
    print("\n".join(lines[:-1]))
    print(f"  [{name}: {time.monotonic() - started:.0f} s]\n", flush=True)
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=50, help="orders for the end-to-end benchmark (50)")
    parser.add_argument("--cold-runs", type=int, default=7, help="fresh interpreters per cold-start variant (7)")
    args = parser.parse_args(argv)
    print(f"Herald benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}\n", flush=True)
    cold = run_script("cold_start", "--runs", str(args.cold_runs))
    batch = run_script("batch_latency")
    own = run_script("own_cost")
    reference = run_script("reference_cost")["reference_cost"]
    e2e = run_script("end_to_end", "--orders", str(args.orders))
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "cold_start_ratio_max": cold["cold_start"]["cold_start_ratio_max"],
        "cold_start_ratio_max_vs_import_plus_client": cold["cold_start"]["cold_start_ratio_max_vs_import_plus_client"],
        "cold_start_median_ms": cold["cold_start"]["median_ms"],
        # Herald against the send function an engineer would write from the Powertools docs (benchmarks/reference)
        "cold_start_over_reference_max": cold["cold_start"]["cold_start_over_reference_max"],
        "reference_cold_start_ms": cold["cold_start"]["reference_cold_start_ms"],
        "herald_cold_start_ms": cold["cold_start"]["herald_cold_start_ms"],
        # A batch of 10 over one provider call: DynamoDB and SQS as in-memory fakes with a fixed latency, and moto
        "batch10_over_single_email": batch["batch_latency"]["batch10_over_single_email"],
        "batch10_over_single_sms": batch["batch_latency"]["batch10_over_single_sms"],
        "batch10_over_single_email_moto": batch["batch_latency"]["batch10_over_single_email_moto"],
        "batch10_over_single_sms_moto": batch["batch_latency"]["batch10_over_single_sms_moto"],
        "cpu_us_per_notification": own["cpu_us_per_notification"],
        "aws_requests_per_order_placed": own["aws_requests_per_order_placed"],
        "usd_per_million_notifications": own["usd_per_million_notifications"],
        "dynamodb_writes_per_notification": own["dynamodb_writes_per_notification"],
        "reference_dynamodb_writes_per_notification": reference["requests"]["dynamodb_writes_per_notification"],
        "reference_usd_per_million_notifications": reference["cost"]["usd_per_million_notifications"],
        "e2e_notifications_per_second": e2e["end_to_end"]["notifications_per_second"],
        "e2e_latency_ms": e2e["end_to_end"]["latency_ms"],
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
