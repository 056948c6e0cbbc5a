"""Cold start: Herald's send functions beside the reference ones (benchmarks/reference/), in fresh interpreters.

Each sample is a new `python -c` process, as a new Lambda sandbox is. The clock runs inside the child, from the
first line of its program on (the event is already parsed, as Lambda hands it over):

- first batch (the goal): import the handler module, then invoke it with a batch of 10 channel messages of
  order.placed, which builds its clients (boto3, the provider secret from Secrets Manager, the SDK client; for
  Herald also the storefront's registry entry from SSM) and sends all ten to a provider stand-in answering at
  once. Herald's send-email and send-sms, and the reference functions an engineer would write from the Powertools
  docs (BatchProcessor, the idempotency utility over DynamoDB, the same SDKs), get the same batch each round
  (their tables are apart, so each sees ten new notifications). The goal: Herald at most 1.0x the reference on
  its worst function.
- import + composition root (as before): each handler module imported and its root built, beside `import boto3`
  and `import boto3` + `boto3.client("sqs")`.

Variants run round-robin, the order of Herald and reference swapped every round, so a slow spell of the shared
machine hits both alike; medians of the rounds. Interpreter start-up itself is the same for every variant and is
printed apart.

AWS is moto's server on loopback (herald_tools.local.emulator.LocalAws) with Herald's table, the reference's
idempotency table, the two provider secrets and the storefront's registry entry; the SendGrid and Twilio stand-ins
run in a process of their own, answering at once.

    python benchmarks/cold_start.py [--runs 11]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _aws import SENDGRID_KEY, TABLE, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, standins_process
from _common import REGION, emit_json, machine, median
from _messages import REGISTRY_PATH, channel_bodies, create_reference_table, reference_environment, seed_registry

HERE = Path(__file__).resolve().parent
BATCH = 10

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

# The first batch: (function, contender) -> handler module; the channel each function takes.
CONTENDERS: dict[tuple[str, str], str] = {
    ("send_email", "herald"): "herald.handlers.send_email",
    ("send_email", "reference"): "reference.send_email",
    ("send_sms", "herald"): "herald.handlers.send_sms",
    ("send_sms", "reference"): "reference.send_sms",
}
CHANNELS = {"send_email": "email", "send_sms": "sms"}
_FIRST_BATCH = """\
import {module} as m
_response = m.handler(_event, _Context())
if _response.get("batchItemFailures"):
    raise SystemExit(f"records failed: {{_response}}")
"""

_CHILD = """\
import json, os
class _Context:
    function_name = "herald-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:herald-bench"
    aws_request_id = "cold-start"
    log_group_name = "/aws/lambda/herald-bench"
    log_stream_name = "cold-start"
    def get_remaining_time_in_millis(self):
        return 60000
_path = os.environ.get("BENCH_EVENT_FILE")
_event = json.loads(open(_path).read()) if _path else None
import time
_t0, _c0 = time.perf_counter(), time.process_time()
{body}
_t1, _c1 = time.perf_counter(), time.process_time()
import sys
print(json.dumps({{"seconds": _t1 - _t0, "cpu_seconds": _c1 - _c0, "modules": len(sys.modules)}}))
"""


def child_environment(aws: Any, providers: dict[str, str]) -> dict[str, str]:
    """Only what a Lambda sandbox of these functions would have: no AWS profile or keys of this machine."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}}
    return {
        **keep,
        **aws.environment(),
        "PYTHONDONTWRITEBYTECODE": "1",  # never let one sample leave .pyc files the next would profit from
        "PYTHONPATH": str(HERE),  # the reference functions' package (benchmarks/reference); Herald is installed
        "POWERTOOLS_SERVICE_NAME": "herald-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "HeraldBench",
        # Both log at the same level; a record line per message to a pipe is not what a sandbox start costs.
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "HERALD_TABLE_NAME": TABLE,
        "HERALD_STOREFRONTS_PATH": REGISTRY_PATH,
        "HERALD_EMAIL_QUEUE_URL": f"{aws.endpoint_url}/123456789012/email",
        "HERALD_SMS_QUEUE_URL": f"{aws.endpoint_url}/123456789012/sms",
        "HERALD_FOLLOWUP_QUEUE_URL": f"{aws.endpoint_url}/123456789012/followup",
        "HERALD_SENDGRID_SECRET_ID": "herald/sendgrid",
        "HERALD_TWILIO_SECRET_ID": "herald/twilio",
        "HERALD_SENDGRID_API_HOST": providers["sendgrid"],
        "HERALD_TWILIO_API_BASE_URL": providers["twilio"],
        **reference_environment(),
        "SENDGRID_API_HOST": providers["sendgrid"],
        "TWILIO_API_BASE_URL": providers["twilio"],
    }


def sample(body: str, env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds inside the child, seconds of the whole process, modules loaded) for one fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(body=body)], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start sample failed:\n{body}\n{done.stderr[-2000:]}{done.stdout[-500:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["seconds"]), wall, int(figures["modules"])


def _prepare(aws: Any) -> None:
    """Herald's table, the reference's, the queues, the secrets and the storefront's entry, in the emulator."""
    from herald_tools.local.tables import create_notifications_table

    create_notifications_table(aws.client("dynamodb"), TABLE)
    create_reference_table(aws.client("dynamodb"))
    sqs = aws.client("sqs")
    for name in ("email", "sms", "followup"):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "180"})
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="herald/sendgrid", SecretString=json.dumps({"api_key": SENDGRID_KEY}))
    secrets.create_secret(
        Name="herald/twilio",
        SecretString=json.dumps({"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": TWILIO_FROM}),
    )
    seed_registry(aws.client("ssm"))


def _batch_event(aws: Any, channel: str, bodies: list[str]) -> dict[str, Any]:
    """The ten bodies through the emulator's queue, received as Lambda's poller hands them to a function."""
    from herald_tools.local.poller import sqs_event

    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=channel)["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)])
    messages: list[dict[str, Any]] = []
    while len(messages) < len(bodies):
        messages += sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
    return sqs_event(messages, f"arn:aws:sqs:{REGION}:123456789012:{channel}")


def compile_bytecode() -> None:
    """Bytecode for Herald's package and the reference functions, as the SDKs in site-packages have (pip
    compiles what it installs). Without it, a child under PYTHONDONTWRITEBYTECODE (set here, and on this
    workplace's shells) compiles every module of the editable checkout from source, each sample again."""
    import compileall

    import herald

    for folder in (Path(herald.__file__).parent, HERE / "reference"):
        if not compileall.compile_dir(folder, quiet=1, force=False):
            raise RuntimeError(f"could not compile {folder}")


def measure(runs: int) -> dict[str, Any]:
    from herald_tools.local.emulator import LocalAws

    compile_bytecode()

    with ExitStack() as stack:
        aws = stack.enter_context(LocalAws(region=REGION))
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="herald-cold-")))
        providers = stack.enter_context(standins_process(scratch / "outbox", 0.0))
        _prepare(aws)
        env = child_environment(aws, providers)
        inside: dict[str, list[float]] = {name: [] for name in VARIANTS}
        wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
        batch: dict[tuple[str, str], list[float]] = {key: [] for key in CONTENDERS}
        modules: dict[str, int] = {}
        startup: list[float] = []
        sample("pass", env)  # warms the OS file cache, so the first measured variant is not the slow one
        # Round-robin: each round runs every variant once, so a slow spell of the machine hits them all alike.
        for round_ in range(runs):
            startup.append(sample("pass", env)[1])
            for name, body in VARIANTS.items():
                seconds, whole, loaded = sample(body, env)
                inside[name].append(seconds)
                wall[name].append(whole)
                modules[name] = loaded
            bodies = channel_bodies(BATCH, f"cold{round_}")
            for function, channel in CHANNELS.items():
                path = scratch / f"{function}-{round_}.json"
                path.write_text(json.dumps(_batch_event(aws, channel, bodies[channel])))
                contenders = ("herald", "reference") if round_ % 2 == 0 else ("reference", "herald")
                for contender in contenders:
                    module = CONTENDERS[(function, contender)]
                    seconds, _, loaded = sample(
                        _FIRST_BATCH.format(module=module), {**env, "BENCH_EVENT_FILE": str(path)}
                    )
                    batch[(function, contender)].append(seconds)
                    modules[f"{contender} {function} first batch"] = loaded
        sent = _count_sent(scratch / "outbox")
    expected = {channel: 2 * BATCH * runs for channel in CHANNELS.values()}
    if sent != expected:
        raise RuntimeError(f"the stand-ins accepted {sent}, expected {expected} (each batch sent by both)")
    medians = {name: median(values) for name, values in inside.items()}
    ratios = {name: medians[name] / medians[BARE] for name in FUNCTIONS}
    fair = {name: medians[name] / medians[FAIR] for name in FUNCTIONS}
    first = {f"{contender} {function}": median(values) for (function, contender), values in batch.items()}
    over_reference = {function: first[f"herald {function}"] / first[f"reference {function}"] for function in CHANNELS}
    return {
        "runs": runs,
        "first_batch_median_ms": {name: round(value * 1000, 1) for name, value in first.items()},
        "first_batch_min_ms": {
            f"{contender} {function}": round(min(values) * 1000, 1) for (function, contender), values in batch.items()
        },
        "herald_over_reference": {name: round(value, 2) for name, value in over_reference.items()},
        "cold_start_over_reference_max": round(max(over_reference.values()), 2),
        "reference_cold_start_ms": {function: round(first[f"reference {function}"] * 1000, 1) for function in CHANNELS},
        "herald_cold_start_ms": {function: round(first[f"herald {function}"] * 1000, 1) for function in CHANNELS},
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


def _count_sent(outbox: Path) -> dict[str, int]:
    """Messages the stand-ins accepted, per channel (their outbox: one file per message)."""
    from herald_tools.local.standins.outbox import Outbox

    box = Outbox(outbox)
    return {"email": len(box.emails()), "sms": len(box.sms())}


def report(result: dict[str, Any]) -> None:
    print(f"Cold start ({result['runs']} fresh interpreters per variant, medians; {machine()})")
    print(f"  interpreter start-up alone: {result['interpreter_startup_ms']} ms (not included below)")
    print("  first batch of 10 (import, clients, secret, ten sends to a stand-in answering at once):")
    print(f"    {'function':<12} {'Herald ms':>10} {'reference ms':>13} {'ratio':>6}   (min: Herald, reference)")
    for function in CHANNELS:
        herald = result["first_batch_median_ms"][f"herald {function}"]
        reference = result["first_batch_median_ms"][f"reference {function}"]
        print(
            f"    {function:<12} {herald:>10} {reference:>13} {result['herald_over_reference'][function]:>6.2f}"
            f"   ({result['first_batch_min_ms'][f'herald {function}']},"
            f" {result['first_batch_min_ms'][f'reference {function}']})"
        )
    print("  import + composition root:")
    print(
        f"    {'variant':<18} {'median ms':>10} {'min ms':>8} {'process ms':>11} {'modules':>8}"
        f" {'x boto3':>8} {'x b3+client':>12}"
    )
    for name in VARIANTS:
        ratio = result["ratio_to_boto3_import"].get(name)
        fair = result["ratio_to_boto3_import_plus_client"].get(name)
        print(
            f"    {name:<18} {result['median_ms'][name]:>10} {result['min_ms'][name]:>8}"
            f" {result['process_median_ms'][name]:>11} {result['modules_loaded'][name]:>8}"
            f" {'' if ratio is None else f'{ratio:.2f}':>8} {'' if fair is None else f'{fair:.2f}':>12}"
        )
    worst = result["cold_start_over_reference_max"]
    verdict = "meets" if worst <= 1.0 else "MISSES"
    print(f"  worst send function / the reference's: {worst:.2f}x ({verdict} the 1.0x goal)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters per variant (default 11)")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    report(result)
    emit_json({"cold_start": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
