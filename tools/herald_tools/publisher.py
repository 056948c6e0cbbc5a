"""Publishing events to Herald's queues, as a storefront (or the CLI, or the demo) does.

Every event is validated against the contract before it is sent, so an invalid one never reaches
SQS: it comes back in the report with the reason. Valid events go to the order events queue
(`order.*`, `return.*`) or the shipment events queue (`shipment.*`) in SendMessageBatch calls of at
most 10 entries and 256 KiB. Whole-call errors (throttling, 5xx, timeouts) are retried by botocore
itself; entries that SQS fails one by one are re-sent a bounded number of times when the fault is
not the sender's, and reported with SQS's code and message when they still fail.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from herald.adapters.sqs_batches import batches
from herald.contract.models import Envelope, EventType
from herald.contract.parsing import EventRejected, parse_event

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef, SendMessageBatchRequestEntryTypeDef

QueueName = Literal["order", "shipment"]

MAX_ENTRY_ATTEMPTS = 3
"""How many times one entry is offered to SQS when it fails with SenderFault false."""
SQS_RETRY_CONFIG: dict[str, Any] = {"mode": "standard", "total_max_attempts": 5}
"""botocore's retries for whole-call errors of the client the publisher creates itself."""

ORDER_QUEUE_URL_ENV = "HERALD_ORDER_EVENTS_QUEUE_URL"
SHIPMENT_QUEUE_URL_ENV = "HERALD_SHIPMENT_EVENTS_QUEUE_URL"
ORDER_QUEUE_OUTPUT = "OrderEventsQueueUrl"
SHIPMENT_QUEUE_OUTPUT = "ShipmentEventsQueueUrl"

_QUEUE_BY_FAMILY: dict[str, QueueName] = {"order": "order", "return": "order", "shipment": "shipment"}
# Characters SQS refuses in a message body (it accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD and the
# astral planes). One of them in a body fails the whole batch call, so such bodies are re-escaped.
_SQS_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SQS_URL_REGION = (
    re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"),
    re.compile(r"^https://([a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?/"),
)


class PublisherConfigError(ValueError):
    """The queues to publish to could not be found (missing setting, stack or stack output)."""


@dataclass(frozen=True)
class Accepted:
    index: int
    source: str
    event_id: str
    event_type: str
    queue: QueueName
    message_id: str


@dataclass(frozen=True)
class Rejected:
    index: int
    source: str | None
    event_id: str | None
    reason: str


@dataclass
class PublishReport:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every event was accepted by SQS."""
        return not self.rejected


@dataclass(frozen=True)
class _Outgoing:
    index: int
    event: Envelope
    queue: QueueName
    body: str

    @property
    def entry_id(self) -> str:
        # The input position is unique in the whole run, hence within any batch.
        return f"m{self.index}"

    @property
    def attributes(self) -> dict[str, MessageAttributeValueTypeDef]:
        return {
            "type": {"DataType": "String", "StringValue": self.event.type.value},
            "source": {"DataType": "String", "StringValue": self.event.source},
        }

    @property
    def size(self) -> int:
        """What this entry counts towards the batch limit: the body plus each attribute's name, type and value."""
        attributes = sum(
            len(name.encode()) + len(value["DataType"].encode()) + len(value.get("StringValue", "").encode())
            for name, value in self.attributes.items()
        )
        return len(self.body.encode("utf-8")) + attributes

    def entry(self) -> SendMessageBatchRequestEntryTypeDef:
        return {"Id": self.entry_id, "MessageBody": self.body, "MessageAttributes": self.attributes}

    def accepted(self, message_id: str) -> Accepted:
        return Accepted(self.index, self.event.source, self.event.id, self.event.type.value, self.queue, message_id)

    def rejected(self, reason: str) -> Rejected:
        return Rejected(self.index, self.event.source, self.event.id, reason)


def queue_for(event_type: EventType) -> QueueName:
    """The queue an event type is published to: order and return events share the order queue."""
    return _QUEUE_BY_FAMILY[event_type.family]


def region_from_queue_url(url: str) -> str | None:
    """The AWS region named in an SQS queue URL, or None (a local endpoint, for instance)."""
    for pattern in _SQS_URL_REGION:
        match = pattern.match(url)
        if match:
            return match.group(1)
    return None


class Publisher:
    """Validates events and puts them on the order and shipment events queues."""

    def __init__(self, *, order_queue_url: str, shipment_queue_url: str, sqs_client: SQSClient | None = None) -> None:
        self.queue_urls: dict[QueueName, str] = {"order": order_queue_url, "shipment": shipment_queue_url}
        self._sqs = sqs_client

    @classmethod
    def from_stack(
        cls, stack_name: str, *, cloudformation_client: Any = None, sqs_client: SQSClient | None = None
    ) -> Publisher:
        """The queues of a deployed Herald stack, read from its outputs."""
        if cloudformation_client is None:
            import boto3

            cloudformation_client = boto3.client("cloudformation")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            stacks = cloudformation_client.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as exc:
            raise PublisherConfigError(f"cannot read stack {stack_name!r}: {exc}") from None
        except BotoCoreError as exc:
            raise PublisherConfigError(f"cannot reach CloudFormation for stack {stack_name!r}: {exc}") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for stack in stacks[:1] for o in stack.get("Outputs", [])}
        missing = [key for key in (ORDER_QUEUE_OUTPUT, SHIPMENT_QUEUE_OUTPUT) if key not in outputs]
        if missing:
            raise PublisherConfigError(
                f"stack {stack_name!r} has no output {' or '.join(missing)} (outputs: {sorted(outputs) or 'none'})"
            )
        return cls(
            order_queue_url=outputs[ORDER_QUEUE_OUTPUT],
            shipment_queue_url=outputs[SHIPMENT_QUEUE_OUTPUT],
            sqs_client=sqs_client,
        )

    @classmethod
    def from_env(cls) -> Publisher:
        """The queues named by HERALD_ORDER_EVENTS_QUEUE_URL and HERALD_SHIPMENT_EVENTS_QUEUE_URL."""
        urls = {name: os.environ.get(name, "").strip() for name in (ORDER_QUEUE_URL_ENV, SHIPMENT_QUEUE_URL_ENV)}
        missing = [name for name, url in urls.items() if not url]
        if missing:
            raise PublisherConfigError(f"set {' and '.join(missing)} to the queue URLs")
        return cls(order_queue_url=urls[ORDER_QUEUE_URL_ENV], shipment_queue_url=urls[SHIPMENT_QUEUE_URL_ENV])

    @property
    def sqs(self) -> SQSClient:
        if self._sqs is None:
            import boto3
            from botocore.config import Config

            region = region_from_queue_url(self.queue_urls["order"])
            config = Config(retries=SQS_RETRY_CONFIG, connect_timeout=5, read_timeout=20)  # type: ignore[arg-type]
            self._sqs = boto3.client("sqs", region_name=region, config=config)
        return self._sqs

    def publish(self, events: Iterable[Mapping[str, Any] | str | bytes | Envelope]) -> PublishReport:
        """Validate, route and send every event; the report lists each one as accepted or rejected."""
        report = PublishReport()
        outgoing: dict[QueueName, list[_Outgoing]] = {"order": [], "shipment": []}
        for index, event in enumerate(events):
            prepared = _prepare(index, event)
            if isinstance(prepared, Rejected):
                report.rejected.append(prepared)
            else:
                outgoing[prepared.queue].append(prepared)
        for queue, items in outgoing.items():
            for batch in batches(items, lambda item: item.size):
                self._send(self.queue_urls[queue], batch, report)
        report.accepted.sort(key=lambda a: a.index)
        report.rejected.sort(key=lambda r: r.index)
        return report

    def _send(self, queue_url: str, batch: list[_Outgoing], report: PublishReport) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        pending = {item.entry_id: item for item in batch}
        for attempt in range(1, MAX_ENTRY_ATTEMPTS + 1):
            try:
                response = self.sqs.send_message_batch(
                    QueueUrl=queue_url, Entries=[item.entry() for item in pending.values()]
                )
            except (ClientError, BotoCoreError) as exc:
                # botocore has already retried what it considers transient; this batch did not go out.
                report.rejected += [item.rejected(f"SQS call failed: {exc}") for item in pending.values()]
                return
            for success in response.get("Successful", []):
                report.accepted.append(pending.pop(success["Id"]).accepted(success["MessageId"]))
            for failure in response.get("Failed", []):
                if failure["SenderFault"] or attempt == MAX_ENTRY_ATTEMPTS:
                    item = pending.pop(failure["Id"])
                    report.rejected.append(item.rejected(f"SQS {failure['Code']}: {failure.get('Message', '')}"))
            if not pending:
                return
        # Only reachable if SQS answered without mentioning some entries: never drop them silently.
        report.rejected += [item.rejected("SQS did not report this entry") for item in pending.values()]


def _prepare(index: int, event: Mapping[str, Any] | str | bytes | Envelope) -> _Outgoing | Rejected:
    body: str
    if isinstance(event, Envelope):
        body = event.model_dump_json(by_alias=True, exclude_none=True)
    elif isinstance(event, Mapping):
        try:
            body = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return Rejected(index, _text(event.get("source")), _text(event.get("id")), f"event is not JSON: {exc}")
    elif isinstance(event, bytes):
        try:
            body = event.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejected(index, None, None, f"body is not UTF-8: {exc}")
    elif isinstance(event, str):
        body = event
    else:
        return Rejected(index, None, None, f"cannot publish a {type(event).__name__}; expected a JSON object")
    try:
        parsed = parse_event(body)
    except EventRejected as exc:
        return Rejected(index, exc.source, exc.event_id, exc.reason)
    if _SQS_FORBIDDEN.search(body):
        # Same JSON, with every non-ASCII character escaped, so SQS accepts it.
        body = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=True)
    return _Outgoing(index, parsed, queue_for(parsed.type), body)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
