"""An in-process AWS (moto's mock_aws) with Herald's table, queues and provider secrets, as the handler tests
build it, plus the provider stand-ins. For the benchmarks that invoke handlers directly."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import ACCOUNT, REGION, load_event
from latency_aws import LatencyAws

from herald_tools.local.tables import create_notifications_table
from herald_tools.local.worker import LambdaContext, lambda_context

TABLE = "herald-bench"
SENDGRID_KEY = "SG.bench-key"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "bench-auth-token"  # noqa: S105 - the local stand-in's token, not a secret
TWILIO_FROM = "+15005550006"
QUEUES = ("order-events", "shipment-events", "email", "sms", "followup")


def FakeContext() -> LambdaContext:
    """A fresh Lambda context for one handler invocation."""
    return lambda_context("herald-bench", region=REGION)


@dataclass
class BenchAws:
    sqs: Any
    dynamodb: Any
    queues: dict[str, str]
    sendgrid: Any
    twilio: Any

    def arn(self, queue: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"

    def receive(self, queue: str, count: int) -> dict[str, Any]:
        """Up to `count` messages as the Lambda SQS event the poller would build."""
        from herald_tools.local.poller import sqs_event

        messages: list[dict[str, Any]] = []
        while len(messages) < count:
            got = self.sqs.receive_message(
                QueueUrl=self.queues[queue],
                MaxNumberOfMessages=min(10, count - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        return sqs_event(messages, self.arn(queue))


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "HeraldBench",
        "POWERTOOLS_SERVICE_NAME": "herald-bench",
        # One log line per record to stdout would bury the figures; the records are still processed alike.
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "HERALD_TABLE_NAME": TABLE,
        "HERALD_PROVIDER_TIMEOUT_SECONDS": "5",
        "HERALD_EMAIL_FROM": "orders@acme.example",
        **(extra or {}),
    }


@contextmanager
def moto_process() -> Iterator[str]:
    """moto's server in a process of its own; yields its endpoint URL.

    In Lambda, DynamoDB and SQS do their work on AWS's machines, and a function's threads merely wait for
    the answers. moto in-process (or its threaded server in this process) does that work on the function's
    own interpreter, under its GIL, so ten concurrent claims queue behind each other's emulated writes.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def standins_process(outbox: Path, latency: float) -> Iterator[dict[str, str]]:
    """The SendGrid and Twilio stand-ins in a process of their own (`python -m herald_tools.local.standins`)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "herald_tools.local.standins",
            "--outbox",
            str(outbox),
            "--sendgrid-key",
            SENDGRID_KEY,
            "--twilio-sid",
            TWILIO_SID,
            "--twilio-token",
            TWILIO_TOKEN,
            "--latency",
            str(latency),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the stand-ins process did not start")
        yield json.loads(line)
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def latency_fakes(fakes: LatencyAws) -> Iterator[LatencyAws]:
    """`fakes` answer the DynamoDB and SQS calls of every botocore session made inside this context (boto3's
    default one, and those Powertools makes), ahead of moto: botocore calls the most specific handler first."""
    import boto3
    from botocore import handlers

    entries = [("before-send.dynamodb", fakes.answer_dynamodb), ("before-send.sqs", fakes.answer_sqs)]
    handlers.BUILTIN_HANDLERS.extend(entries)
    boto3.DEFAULT_SESSION = None  # the next boto3.client() builds a session, with the handlers above
    try:
        yield fakes
    finally:
        for entry in entries:
            handlers.BUILTIN_HANDLERS.remove(entry)
        boto3.DEFAULT_SESSION = None


@contextmanager
def bench_aws(
    *, provider_latency: float = 0.0, separate_process: bool = False, fakes: LatencyAws | None = None
) -> Iterator[BenchAws]:
    """moto (in-process `mock_aws`, or its server in another process), the table, four queues, the two
    secrets, the storefront's registry entry, the reference functions' idempotency table, and both stand-ins
    answering after `provider_latency` seconds. With `fakes`, DynamoDB and SQS are those in-memory fakes
    (answering after their latency), the rest moto in-process. Sets the process environment the handlers read
    (a benchmark is a process of its own): import the handlers inside this context."""
    import boto3
    from _messages import REFERENCE_TABLE, REGISTRY_PATH, create_reference_table, reference_environment, seed_registry
    from moto import mock_aws

    from herald_tools.local.standins.faults import FaultPlan
    from herald_tools.local.standins.outbox import Outbox
    from herald_tools.local.standins.sendgrid import SendGridStandIn
    from herald_tools.local.standins.twilio import TwilioStandIn

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(environment({"HERALD_STOREFRONTS_PATH": REGISTRY_PATH, **reference_environment()}))
    with ExitStack() as stack:
        outbox = Outbox(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="herald-bench-"))))
        if separate_process:
            os.environ["AWS_ENDPOINT_URL"] = stack.enter_context(moto_process())
        else:
            stack.enter_context(mock_aws())
        if fakes is not None:
            stack.enter_context(latency_fakes(fakes))
        sendgrid: Any = None
        twilio: Any = None
        if separate_process:
            # Providers answer from their own machines; their request parsing must not share the GIL measured here.
            urls = stack.enter_context(standins_process(outbox.root, provider_latency))
            os.environ["HERALD_SENDGRID_API_HOST"] = os.environ["SENDGRID_API_HOST"] = urls["sendgrid"]
            os.environ["HERALD_TWILIO_API_BASE_URL"] = os.environ["TWILIO_API_BASE_URL"] = urls["twilio"]
        else:
            sendgrid = stack.enter_context(
                SendGridStandIn(outbox, SENDGRID_KEY, faults=FaultPlan(latency_seconds=provider_latency))
            )
            twilio = stack.enter_context(
                TwilioStandIn(outbox, TWILIO_SID, TWILIO_TOKEN, faults=FaultPlan(latency_seconds=provider_latency))
            )
            os.environ["HERALD_SENDGRID_API_HOST"] = os.environ["SENDGRID_API_HOST"] = sendgrid.url
            os.environ["HERALD_TWILIO_API_BASE_URL"] = os.environ["TWILIO_API_BASE_URL"] = twilio.url
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        if fakes is None:
            create_table(dynamodb)
            create_reference_table(dynamodb)
        else:
            fakes.dynamodb.create_table(TABLE, "pk", "sk")
            fakes.dynamodb.create_table(REFERENCE_TABLE, "id")
        seed_registry(boto3.client("ssm", region_name=REGION))
        queues = {
            name: sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
            for name in QUEUES
        }
        os.environ["HERALD_EMAIL_QUEUE_URL"] = queues["email"]
        os.environ["HERALD_SMS_QUEUE_URL"] = queues["sms"]
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name="herald/sendgrid", SecretString=json.dumps({"api_key": SENDGRID_KEY}))
        secrets.create_secret(
            Name="herald/twilio",
            SecretString=json.dumps(
                {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": TWILIO_FROM}
            ),
        )
        yield BenchAws(sqs, dynamodb, queues, sendgrid, twilio)


def create_table(dynamodb: Any) -> None:
    create_notifications_table(dynamodb, TABLE)


def order_events(count: int, *, event_type: str = "order.placed", prefix: str = "bench") -> list[dict[str, Any]]:
    """`count` copies of a published sample, each its own event and order."""
    template = load_event(event_type)
    events = []
    for index in range(count):
        event = copy.deepcopy(template)
        event["id"] = f"evt_{prefix}_{index:06d}"
        event["data"]["order"]["id"] = f"ord_{prefix}_{index:06d}"
        event["data"]["order"]["number"] = f"#{prefix}{index}"
        event["subject"] = f"order/ord_{prefix}_{index:06d}"
        events.append(event)
    return events
