"""One boto3 client per service per sandbox, shared by everything the function builds (ledger, circuit, queues).

A client costs tens of milliseconds to build (its service model is loaded and parsed): building each once keeps
the cold start down. boto3 clients are safe to share between threads.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]
