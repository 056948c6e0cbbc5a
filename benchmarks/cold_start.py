"""Cold start: import each function's handler module and build its clients in a fresh interpreter.

Each sample is a new `python -c` process, as a new Lambda sandbox is. The clock runs inside the child, from
the first line of its program to the moment the function could handle its first record: handler module
imported, the composition root built (boto3 clients built; for the senders the provider secret fetched from
Secrets Manager and the provider SDK client built). Interpreter start-up itself is the same for every
variant and is printed apart.

Two baselines run in the same rounds: `import boto3` alone (the issue's yardstick), and `import boto3` plus
`boto3.client("sqs")` (what any function that talks to AWS at least pays). The ratio the goal is judged on
is against the bare import; the ratio to the fairer baseline is printed beside it.

The AWS side is moto's server on loopback (herald_tools.local.emulator.LocalAws), with the two provider
secrets created in it; the children reach it through AWS_ENDPOINT_URL.

    python benchmarks/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from _common import REGION, emit_json, machine, median

# Each variant: the statements a fresh sandbox runs before it can take its first event.
VARIANTS: dict[str, str] = {
    "boto3": "import boto3",
    "boto3+sqs client": "import boto3\nboto3.client('sqs')",
    "dispatch": "import herald.handlers.dispatch as m\nm.root()",
    "send_email": "import herald.handlers.send_email as m\nm.root()",
    "send_sms": "import herald.handlers.send_sms as m\nm.root()",
}
FUNCTIONS = ("dispatch", "send_email", "send_sms")
BARE = "boto3"
FAIR = "boto3+sqs client"

_CHILD = """\
import time
_t0 = time.perf_counter()
{body}
_t1 = time.perf_counter()
import json, sys
print(json.dumps({{"seconds": _t1 - _t0, "modules": len(sys.modules)}}))
"""


def child_environment(aws: Any) -> dict[str, str]:
    """Only what a Lambda sandbox of these functions would have: no AWS profile or keys of this machine."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}}
    return {
        **keep,
        **aws.environment(),
        "PYTHONDONTWRITEBYTECODE": "1",  # never let one sample leave .pyc files the next would profit from
        "POWERTOOLS_SERVICE_NAME": "herald-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "HeraldBench",
        "HERALD_TABLE_NAME": "herald-bench",
        "HERALD_EMAIL_QUEUE_URL": f"{aws.endpoint_url}/123456789012/herald-bench-email",
        "HERALD_SMS_QUEUE_URL": f"{aws.endpoint_url}/123456789012/herald-bench-sms",
        "HERALD_SENDGRID_SECRET_ID": "herald/sendgrid",
        "HERALD_TWILIO_SECRET_ID": "herald/twilio",
        # The SDK clients are built but never called here; these keep them off the real services anyway.
        "HERALD_SENDGRID_API_HOST": "http://127.0.0.1:9",
        "HERALD_TWILIO_API_BASE_URL": "http://127.0.0.1:9",
    }


def sample(body: str, env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds inside the child, seconds of the whole process, modules loaded) for one fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(body=body)], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start sample failed:\n{body}\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["seconds"]), wall, int(figures["modules"])


def measure(runs: int) -> dict[str, Any]:
    from herald_tools.local.emulator import LocalAws

    with LocalAws(region=REGION) as aws:
        secrets = aws.client("secretsmanager")
        secrets.create_secret(Name="herald/sendgrid", SecretString=json.dumps({"api_key": "SG.bench"}))
        secrets.create_secret(
            Name="herald/twilio",
            SecretString=json.dumps(
                {"account_sid": "AC" + "0" * 32, "auth_token": "bench-token", "from_number": "+15005550006"}
            ),
        )
        env = child_environment(aws)
        inside: dict[str, list[float]] = {name: [] for name in VARIANTS}
        wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
        modules: dict[str, int] = {}
        startup: list[float] = []
        sample("pass", env)  # warms the OS file cache, so the first measured variant is not the slow one
        # Round-robin: each round runs every variant once, so a slow spell of the machine hits them all alike.
        for _ in range(runs):
            startup.append(sample("pass", env)[1])
            for name, body in VARIANTS.items():
                seconds, whole, loaded = sample(body, env)
                inside[name].append(seconds)
                wall[name].append(whole)
                modules[name] = loaded
    medians = {name: median(values) for name, values in inside.items()}
    ratios = {name: medians[name] / medians[BARE] for name in FUNCTIONS}
    fair = {name: medians[name] / medians[FAIR] for name in FUNCTIONS}
    return {
        "runs": runs,
        "median_ms": {name: round(value * 1000, 1) for name, value in medians.items()},
        "min_ms": {name: round(min(values) * 1000, 1) for name, values in inside.items()},
        "process_median_ms": {name: round(median(values) * 1000, 1) for name, values in wall.items()},
        "interpreter_startup_ms": round(median(startup) * 1000, 1),
        "modules_loaded": modules,
        "ratio_to_boto3_import": {name: round(value, 2) for name, value in ratios.items()},
        "ratio_to_boto3_import_plus_client": {name: round(value, 2) for name, value in fair.items()},
        "cold_start_ratio_max": round(max(ratios.values()), 2),
        "cold_start_ratio_max_vs_import_plus_client": round(max(fair.values()), 2),
    }


def report(result: dict[str, Any]) -> None:
    print(f"Cold start ({result['runs']} fresh interpreters per variant, medians; {machine()})")
    print(f"  interpreter start-up alone: {result['interpreter_startup_ms']} ms (not included below)")
    print(
        f"  {'variant':<18} {'median ms':>10} {'min ms':>8} {'process ms':>11} {'modules':>8}"
        f" {'x boto3':>8} {'x b3+client':>12}"
    )
    for name in VARIANTS:
        ratio = result["ratio_to_boto3_import"].get(name)
        fair = result["ratio_to_boto3_import_plus_client"].get(name)
        print(
            f"  {name:<18} {result['median_ms'][name]:>10} {result['min_ms'][name]:>8}"
            f" {result['process_median_ms'][name]:>11} {result['modules_loaded'][name]:>8}"
            f" {'' if ratio is None else f'{ratio:.2f}':>8} {'' if fair is None else f'{fair:.2f}':>12}"
        )
    verdict = "meets" if result["cold_start_ratio_max"] <= 1.5 else "MISSES"
    print(f"  worst function / bare `import boto3`: {result['cold_start_ratio_max']:.2f}x ({verdict} the 1.5x goal)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per variant (default 7)")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    report(result)
    emit_json({"cold_start": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
