"""DynamoDB and SQS in memory, answering after a fixed latency, behind the real boto3 clients.

Why: moto emulates AWS on the benchmark's own interpreter (or its own process on the same 2 cores), so its CPU
cost is counted as if it were Herald's, and grows on a slower machine. Here each DynamoDB or SQS call waits a
fixed time (`time.sleep`, which releases the GIL, as a real network wait does) and is answered from dictionaries.

How: a botocore `before-send` hook on the session's event system. The client still validates and serialises
each request and parses the answer (AWSResponse), so Herald's adapters run unchanged: only the HTTP hop is
replaced. The answers follow DynamoDB's and SQS's JSON protocols for the calls Herald and the reference make:
PutItem, UpdateItem, GetItem, DeleteItem with condition and update expressions (a small evaluator below:
comparisons, IN, AND/OR/NOT, attribute_exists/attribute_not_exists, SET with if_not_exists and +/-, REMOVE),
ConditionalCheckFailedException with the old item when asked for (ReturnValuesOnConditionCheckFailure), and
SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch), ChangeMessageVisibility, GetQueueUrl, CreateQueue.
Other services pass through to whatever the session would reach (moto here).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Item = dict[str, dict[str, Any]]


class _Raw:
    """What AWSResponse reads its body from (urllib3's response has the same `stream`)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _response(url: str, status: int, document: dict[str, Any], content_type: str) -> Any:
    from botocore.awsrequest import AWSResponse

    body = json.dumps(document).encode()
    headers = {"Content-Type": content_type, "x-amzn-RequestId": str(uuid.uuid4()), "Content-Length": str(len(body))}
    return AWSResponse(url, status, headers, _Raw(body))


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra


# --- expressions -----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(<>|<=|>=|[=<>(),+\-]|#\w+|:\w+|[A-Za-z_][\w.]*)")


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise AwsError("ValidationException", f"Invalid expression near: {text[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


@dataclass
class _Expression:
    tokens: list[str]
    names: dict[str, str]
    values: Item
    position: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        word = self.peek()
        if word is None or (expected is not None and word.upper() != expected):
            raise AwsError("ValidationException", f"Invalid expression: expected {expected}, got {word}")
        self.position += 1
        return word

    def path(self, word: str) -> str:
        return self.names[word] if word.startswith("#") else word


def _number(value: dict[str, Any]) -> Decimal | None:
    return Decimal(value["N"]) if "N" in value else None


def _compare(left: dict[str, Any] | None, op: str, right: dict[str, Any] | None) -> bool:
    if left is None or right is None:
        return op == "<>" and left != right
    if op == "=":
        return left == right
    if op == "<>":
        return left != right
    a: Any = _number(left) if "N" in left else left.get("S")
    b: Any = _number(right) if "N" in right else right.get("S")
    if a is None or b is None or type(a) is not type(b):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _condition(expression: _Expression, item: Item) -> bool:
    def operand() -> dict[str, Any] | None:
        word = expression.take()
        if word.startswith(":"):
            return expression.values[word]
        return item.get(expression.path(word))

    def primary() -> bool:
        word = expression.peek()
        if word == "(":
            expression.take("(")
            result = disjunction()
            expression.take(")")
            return result
        if word is not None and word.upper() == "NOT":
            expression.take()
            return not primary()
        if word in ("attribute_exists", "attribute_not_exists"):
            expression.take()
            expression.take("(")
            name = expression.path(expression.take())
            expression.take(")")
            return (name in item) == (word == "attribute_exists")
        left = operand()
        op = expression.take()
        if op.upper() == "IN":
            expression.take("(")
            choices = [operand()]
            while expression.peek() == ",":
                expression.take(",")
                choices.append(operand())
            expression.take(")")
            return left is not None and left in choices
        return _compare(left, op, operand())

    def conjunction() -> bool:
        result = primary()
        while (word := expression.peek()) is not None and word.upper() == "AND":
            expression.take()
            result = primary() and result  # evaluated either way: the tokens must be consumed
        return result

    def disjunction() -> bool:
        result = conjunction()
        while (word := expression.peek()) is not None and word.upper() == "OR":
            expression.take()
            result = conjunction() or result
        return result

    outcome = disjunction()
    if expression.peek() is not None:
        raise AwsError("ValidationException", f"Invalid ConditionExpression: unexpected {expression.peek()}")
    return outcome


def _apply_update(expression: _Expression, item: Item) -> set[str]:
    """Apply an UpdateExpression (SET and REMOVE clauses) to `item` in place; returns the names it set."""
    updated: set[str] = set()

    def value() -> dict[str, Any]:
        word = expression.take()
        if word == "if_not_exists":
            expression.take("(")
            name = expression.path(expression.take())
            expression.take(",")
            fallback = value()
            expression.take(")")
            return item.get(name, fallback)
        if word.startswith(":"):
            return expression.values[word]
        found = item.get(expression.path(word))
        if found is None:
            raise AwsError("ValidationException", "The provided expression refers to an attribute that does not exist")
        return found

    def arithmetic() -> dict[str, Any]:
        left = value()
        if expression.peek() in ("+", "-"):
            op = expression.take()
            right = value()
            a, b = _number(left), _number(right)
            if a is None or b is None:
                raise AwsError("ValidationException", "An operand in the update expression has an incorrect data type")
            return {"N": str(a + b if op == "+" else a - b)}
        return left

    while (clause := expression.peek()) is not None:
        clause = expression.take().upper()
        while True:
            name = expression.path(expression.take())
            if clause == "SET":
                expression.take("=")
                item[name] = arithmetic()
                updated.add(name)
            elif clause == "REMOVE":
                item.pop(name, None)
            else:
                raise AwsError("ValidationException", f"Unsupported update clause {clause}")
            if expression.peek() != ",":
                break
            expression.take(",")
    return updated


# --- DynamoDB --------------------------------------------------------------------------------------------


@dataclass
class FakeDynamoDb:
    """Tables as dictionaries of items keyed by their key attributes; one lock makes each write atomic."""

    key_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tables: dict[str, dict[tuple[str, ...], Item]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create_table(self, name: str, *key: str) -> None:
        self.key_names[name] = key
        self.tables[name] = {}

    def _key(self, table: str, key: Item) -> tuple[str, ...]:
        if table not in self.tables:
            raise AwsError("ResourceNotFoundException", "Requested resource not found")
        names = self.key_names[table]
        if set(key) != set(names):
            raise AwsError("ValidationException", "The provided key element does not match the schema")
        return tuple(json.dumps(key[name], sort_keys=True) for name in names)

    def _check(self, request: dict[str, Any], current: Item | None) -> None:
        condition = request.get("ConditionExpression")
        if condition is None:
            return
        expression = _Expression(
            _tokens(condition),
            request.get("ExpressionAttributeNames", {}),
            request.get("ExpressionAttributeValues", {}),
        )
        if not _condition(expression, current or {}):
            extra = {}
            if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                extra["Item"] = current
            raise AwsError("ConditionalCheckFailedException", "The conditional request failed", **extra)

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        table = request.get("TableName", "")
        with self._lock:
            if operation == "PutItem":
                item = request["Item"]
                names = self.key_names.get(table, ())
                key = self._key(table, {name: item[name] for name in names if name in item})
                current = self.tables[table].get(key)
                self._check(request, current)
                self.tables[table][key] = json.loads(json.dumps(item))
                return {"Attributes": current} if request.get("ReturnValues") == "ALL_OLD" and current else {}
            if operation == "UpdateItem":
                key = self._key(table, request["Key"])
                current = self.tables[table].get(key)
                self._check(request, current)
                old = json.loads(json.dumps(current)) if current else None
                item = json.loads(json.dumps(current)) if current else dict(request["Key"])
                expression = _Expression(
                    _tokens(request.get("UpdateExpression", "")),
                    request.get("ExpressionAttributeNames", {}),
                    request.get("ExpressionAttributeValues", {}),
                )
                updated = _apply_update(expression, item)
                self.tables[table][key] = item
                wanted = request.get("ReturnValues", "NONE")
                if wanted == "ALL_NEW":
                    return {"Attributes": item}
                if wanted == "UPDATED_NEW":
                    return {"Attributes": {name: item[name] for name in updated if name in item}}
                if wanted == "ALL_OLD" and old:
                    return {"Attributes": old}
                return {}
            if operation == "GetItem":
                found = self.tables[table].get(self._key(table, request["Key"]))
                return {"Item": found} if found else {}
            if operation == "DeleteItem":
                key = self._key(table, request["Key"])
                current = self.tables[table].get(key)
                self._check(request, current)
                self.tables[table].pop(key, None)
                return {"Attributes": current} if request.get("ReturnValues") == "ALL_OLD" and current else {}
        raise AwsError("UnknownOperationException", f"{operation} is not answered by the in-memory DynamoDB")


# --- SQS -------------------------------------------------------------------------------------------------


@dataclass
class _Message:
    id: str
    body: str
    attributes: dict[str, Any]
    receipt: str = ""
    receives: int = 0
    visible_at: float = 0.0


@dataclass
class FakeSqs:
    """Standard queues as lists: visibility timeouts and receive counts kept, ordering best-effort FIFO."""

    endpoint: str = "https://sqs.us-east-1.amazonaws.com"
    account: str = "123456789012"
    queues: dict[str, list[_Message]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"{self.endpoint}/{self.account}/{name}"

    def _queue(self, url: str) -> list[_Message]:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        if name not in self.queues:
            raise AwsError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
        return self.queues[name]

    def _send(self, queue: list[_Message], entry: dict[str, Any]) -> dict[str, Any]:
        body = entry["MessageBody"]
        message = _Message(str(uuid.uuid4()), body, entry.get("MessageAttributes", {}))
        message.visible_at = self.clock() + int(entry.get("DelaySeconds", 0))
        queue.append(message)
        return {"MessageId": message.id, "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest()}  # noqa: S324

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        with self._lock:
            if operation == "CreateQueue":
                self.queues.setdefault(request["QueueName"], [])
                return {"QueueUrl": self.url(request["QueueName"])}
            if operation == "GetQueueUrl":
                self._queue(self.url(request["QueueName"]))
                return {"QueueUrl": self.url(request["QueueName"])}
            queue = self._queue(request["QueueUrl"])
            if operation == "SendMessage":
                return self._send(queue, request)
            if operation == "SendMessageBatch":
                sent = [{"Id": entry["Id"], **self._send(queue, entry)} for entry in request["Entries"]]
                return {"Successful": sent, "Failed": []}
            if operation == "ReceiveMessage":
                return {"Messages": self._receive(queue, request)}
            if operation in ("DeleteMessage", "ChangeMessageVisibility"):
                self._by_receipt(queue, request["ReceiptHandle"], request.get("VisibilityTimeout"))
                return {}
            if operation == "DeleteMessageBatch":
                for entry in request["Entries"]:
                    self._by_receipt(queue, entry["ReceiptHandle"], None)
                return {"Successful": [{"Id": entry["Id"]} for entry in request["Entries"]], "Failed": []}
        raise AwsError("UnsupportedOperation", f"{operation} is not answered by the in-memory SQS")

    def _receive(self, queue: list[_Message], request: dict[str, Any]) -> list[dict[str, Any]]:
        now = self.clock()
        timeout = int(request.get("VisibilityTimeout", 30))
        taken = []
        for message in queue:
            if len(taken) >= int(request.get("MaxNumberOfMessages", 1)):
                break
            if message.visible_at <= now:
                message.receives += 1
                message.receipt = str(uuid.uuid4())
                message.visible_at = now + timeout
                taken.append(
                    {
                        "MessageId": message.id,
                        "ReceiptHandle": message.receipt,
                        "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest(),  # noqa: S324
                        "Body": message.body,
                        "Attributes": {
                            "ApproximateReceiveCount": str(message.receives),
                            "SentTimestamp": str(int(time.time() * 1000)),
                            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
                            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                        },
                        **({"MessageAttributes": message.attributes} if message.attributes else {}),
                    }
                )
        return taken

    def _by_receipt(self, queue: list[_Message], receipt: str, visibility: int | None) -> None:
        for message in queue:
            if message.receipt == receipt:
                if visibility is None:
                    queue.remove(message)
                else:
                    message.visible_at = self.clock() + int(visibility)
                return
        raise AwsError("ReceiptHandleIsInvalid", "The input receipt handle is invalid.")


# --- the hook --------------------------------------------------------------------------------------------


@dataclass
class LatencyAws:
    """The two fakes behind a boto3 session's clients, each call answered after `dynamodb_ms` / `sqs_ms`."""

    dynamodb_ms: float = 4.0
    sqs_ms: float = 8.0
    dynamodb: FakeDynamoDb = field(default_factory=FakeDynamoDb)
    sqs: FakeSqs = field(default_factory=FakeSqs)

    def install(self, events: Any) -> Callable[[], None]:
        """Answer the DynamoDB and SQS calls of the clients built from now on with `events` (a session's
        `events`, or one client's `meta.events`); returns the uninstaller. For every session at once, see
        benchmarks/_aws.py's `latency_fakes`."""
        events.register("before-send.dynamodb", self.answer_dynamodb, unique_id="latency-aws-dynamodb")
        events.register("before-send.sqs", self.answer_sqs, unique_id="latency-aws-sqs")

        def uninstall() -> None:
            events.unregister("before-send.dynamodb", unique_id="latency-aws-dynamodb")
            events.unregister("before-send.sqs", unique_id="latency-aws-sqs")

        return uninstall

    def answer_dynamodb(self, request: Any, **_: Any) -> Any:
        return self._answer(request, self.dynamodb.handle, self.dynamodb_ms, "application/x-amz-json-1.0")

    def answer_sqs(self, request: Any, **_: Any) -> Any:
        return self._answer(request, self.sqs.handle, self.sqs_ms, "application/x-amz-json-1.0")

    @staticmethod
    def _answer(request: Any, handle: Callable[[str, dict[str, Any]], Any], latency_ms: float, kind: str) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        operation = target.rsplit(".", 1)[-1]
        if not operation:
            raise RuntimeError("only the JSON protocols are answered (an X-Amz-Target header was expected)")
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "{}")
        # The round trip to AWS: a wait that releases the GIL, as a socket read does.
        time.sleep(latency_ms / 1000)
        try:
            document = handle(operation, json.loads(body or "{}"))
        except AwsError as error:
            return _response(
                request.url, error.status, {"__type": error.code, "message": error.message, **error.extra}, kind
            )
        return _response(request.url, 200, document, kind)
