"""Handler tests: the real handlers over moto (DynamoDB, SQS, Secrets Manager) and the local provider stand-ins."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from herald_tools.local.atomic_writes import make_dynamodb_writes_atomic
from herald_tools.local.poller import sqs_event
from herald_tools.local.ports import install_local_ports
from herald_tools.local.standins.faults import FaultPlan
from herald_tools.local.standins.outbox import Outbox
from herald_tools.local.standins.sendgrid import SendGridStandIn
from herald_tools.local.standins.twilio import TwilioStandIn
from herald_tools.local.tables import create_notifications_table
from herald_tools.local.worker import LambdaContext, lambda_context
from tests.storefronts import REGISTRY_PATH, SAMPLE_SOURCE, seed_registry, storefront

REGION = "us-east-1"
TABLE = "herald-test-notifications"
MAX_RECEIVE_COUNT = 3
SENDGRID_KEY = "SG.test-key"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "test-auth-token"
TWILIO_FROM = "+15005550006"


def FakeContext() -> LambdaContext:
    """A fresh Lambda context for one handler invocation."""
    return lambda_context("herald-test", region=REGION)


@dataclass
class Env:
    sqs: Any
    dynamodb: Any
    queues: dict[str, str]  # name -> url
    outbox: Outbox
    sendgrid: SendGridStandIn
    twilio: TwilioStandIn
    email_faults: FaultPlan
    sms_faults: FaultPlan

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:123456789012:{name}"

    def publish(self, queue: str, bodies: list[str]) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queues[queue], MessageBody=body)

    def receive(self, queue: str, max_messages: int = 10) -> dict[str, Any]:
        """Receive as Lambda's poller does and build the Lambda SQS event."""
        response = self.sqs.receive_message(
            QueueUrl=self.queues[queue],
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        # The same Lambda event shape the local runtime's poller builds.
        return sqs_event(response.get("Messages", []), self.arn(queue))

    def deliver(self, queue: str, handler: Callable[[dict, Any], dict]) -> dict[str, Any]:
        """One poll: receive a batch, invoke the handler, delete what it did not report as failed."""
        event = self.receive(queue)
        if not event["Records"]:
            return {"batchItemFailures": [], "records": 0}
        response = handler(event, FakeContext())
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queues[queue], ReceiptHandle=record["receiptHandle"])
        return {**response, "records": len(event["Records"])}

    def depth(self, queue: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[queue],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def make_visible(self, queue: str) -> None:
        """Skip a retry's back-off: put every in-flight message of the queue back at once."""
        # moto keeps in-flight messages in the queue object; change_message_visibility needs a receipt
        # handle we no longer hold, so reset the visibility of every message directly.
        from moto.sqs.models import sqs_backends

        backend = sqs_backends["123456789012"][REGION]
        for message in backend.queues[queue]._messages:
            message.change_visibility(0)

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]

    def notifications(self) -> dict[str, dict[str, str]]:
        """sk -> the notification's plain attributes."""
        return {
            item["sk"]["S"]: {k: next(iter(v.values())) for k, v in item.items()}
            for item in self.items()
            if item.get("kind", {}).get("S") == "notification"
        }


def _create_queue(sqs: Any, name: str) -> str:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "180",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}),
        },
    )["QueueUrl"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Env]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "HeraldTest",
        "POWERTOOLS_SERVICE_NAME": "herald-test",
        "HERALD_TABLE_NAME": TABLE,
        "HERALD_MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
        "HERALD_RETRY_BASE_SECONDS": "1",
        "HERALD_PROVIDER_TIMEOUT_SECONDS": "5",
        "HERALD_SENDGRID_SECRET_ID": "herald/sendgrid",
        "HERALD_TWILIO_SECRET_ID": "herald/twilio",
        "HERALD_STOREFRONTS_PATH": REGISTRY_PATH,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # A sender's batch writes from ten threads: moto's conditional writes must be as atomic as DynamoDB's.
    make_dynamodb_writes_atomic()
    outbox = Outbox(tmp_path / "outbox")
    email_faults, sms_faults = FaultPlan(hang_seconds=6, seed=1), FaultPlan(hang_seconds=6, seed=2)
    with (
        mock_aws(),
        SendGridStandIn(outbox, SENDGRID_KEY, faults=email_faults) as sendgrid,
        TwilioStandIn(outbox, TWILIO_SID, TWILIO_TOKEN, faults=sms_faults) as twilio,
    ):
        monkeypatch.setenv("HERALD_SENDGRID_API_HOST", sendgrid.url)
        monkeypatch.setenv("HERALD_TWILIO_API_BASE_URL", twilio.url)
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_notifications_table(dynamodb, TABLE)
        names = ("order-events", "shipment-events", "email", "sms", "followup")
        queues = {name: _create_queue(sqs, name) for name in names}
        for name in names:
            queues[f"{name}-dlq"] = sqs.get_queue_url(QueueName=f"{name}-dlq")["QueueUrl"]
        monkeypatch.setenv("HERALD_EMAIL_QUEUE_URL", queues["email"])
        monkeypatch.setenv("HERALD_SMS_QUEUE_URL", queues["sms"])
        monkeypatch.setenv("HERALD_FOLLOWUP_QUEUE_URL", queues["followup"])
        # Deadline checks due at once: a test delivers the follow-up queue when it wants the deadline to pass.
        monkeypatch.setenv("HERALD_DELIVERY_DEADLINE_SECONDS", "0")
        # The secondary providers: SES sends only from a verified identity (SNS needs nothing for SMS).
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="acme.example")
        # The samples' storefront, and the ones the tests publish as besides it.
        seed_registry(
            boto3.client("ssm", region_name=REGION),
            REGISTRY_PATH,
            *(
                storefront(source)
                for source in (
                    SAMPLE_SOURCE,
                    "storefront/acme",
                    "storefront/shop",
                    "storefront/other-shop",
                    "storefront/other",
                    "shop.eu",
                    "acme",
                    "shop",
                    "shop#a",  # tests/handlers/test_key_safety.py: two sources whose keys used to collide
                )
            ),
        )
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name="herald/sendgrid", SecretString=json.dumps({"api_key": SENDGRID_KEY}))
        secrets.create_secret(
            Name="herald/twilio",
            SecretString=json.dumps(
                {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": TWILIO_FROM}
            ),
        )
        _reset_caches()
        # The functions run wired as the local runtime wires them: the stand-in's Twilio test numbers are phones.
        uninstall_local_ports = install_local_ports()
        yield Env(sqs, dynamodb, queues, outbox, sendgrid, twilio, email_faults, sms_faults)
        uninstall_local_ports()
        _reset_caches()


def _reset_caches() -> None:
    """Each test is a new Lambda sandbox: drop the graphs and clients the roots built for the last one."""
    from herald.handlers import wiring

    wiring.reset()


EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def sample(event_type: str, **changes: Any) -> dict[str, Any]:
    """A published sample event (events/<type>.json), deep-copied, with top-level attributes changed."""
    event = copy.deepcopy(json.loads((EVENTS_DIR / f"{event_type}.json").read_text()))
    event.update(changes)
    return event
