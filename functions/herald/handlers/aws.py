"""One boto3 client per service per sandbox, shared by everything the function builds (ledger, circuit, queues).

A client costs tens of milliseconds to build (its service model is loaded and parsed): building each once keeps
the cold start down. boto3 clients are safe to share between threads. `wiring.reset()` forgets them (a new sandbox).
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def aws_client(service: str) -> Any:
    with _lock:
        client = _clients.get(service)
        if client is None:
            import boto3

            client = _clients[service] = boto3.client(service)  # type: ignore[call-overload]
        return client


def forget_clients() -> None:
    with _lock:
        _clients.clear()


def queue_url(sqs: Any, queue_arn: str) -> str:
    """arn:aws:sqs:REGION:ACCOUNT:NAME -> the queue URL, on the endpoint the function's SQS client already uses
    (an SQS record names its queue by ARN; ChangeMessageVisibility wants the URL)."""
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return f"{str(sqs.meta.endpoint_url).rstrip('/')}/{account}/{name}"
