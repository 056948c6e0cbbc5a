"""One function's local sandbox: `python -m herald_tools.local.worker --function-json '<LocalFunction as JSON>'`.

Like a Lambda execution environment it is its own process with its own environment (the parent sets it:
the function's variables, the emulator's endpoint and fake credentials, and any overrides), it imports
the handler once (the cold start) and then serves every batch of every event source of the function
until SIGTERM, when it lets the batches in flight finish and exits 0.

One difference from Lambda: concurrent batches of one function run as threads of this one process, so
they share the handler module's globals (Lambda would give each its own environment).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from herald_tools.local.poller import SqsPoller
from herald_tools.local.stack import LocalFunction

logger = logging.getLogger("herald_tools.local.worker")

READY = b"ready\n"
ACCOUNT_ID = "123456789012"


class InvocationTimedOut(RuntimeError):
    """The handler returned after the function's timeout: Lambda would have ended it and failed the batch."""


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers (and Powertools) read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float  # time.monotonic() at which the invocation times out

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def lambda_context(
    function_name: str,
    *,
    memory_mb: int = 256,
    timeout: float = 30.0,
    region: str = "us-east-1",
    log_stream_name: str = "local/[$LATEST]local",
) -> LambdaContext:
    """A fresh context for one invocation of `function_name`, as Lambda passes it (also for tests and benchmarks)."""
    return LambdaContext(
        function_name=function_name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}",
        memory_limit_in_mb=memory_mb,
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=log_stream_name,
        deadline=time.monotonic() + timeout,
    )


def load_handler(spec: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import "package.module.attr" (Lambda's Handler setting) and return the callable."""
    module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {spec!r} is not of the form module.function")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"handler {spec!r} is not callable")
    return handler


def make_invoke(
    function: LocalFunction, handler: Callable[[dict[str, Any], Any], Any], region: str
) -> Callable[[dict[str, Any]], Any]:
    """Invoke the handler as Lambda would: a fresh context per invocation, the timeout enforced after it."""
    log_stream = f"local/[$LATEST]{uuid.uuid4().hex}"

    def invoke(event: dict[str, Any]) -> Any:
        started = time.monotonic()
        context = lambda_context(
            function.name,
            memory_mb=function.memory_mb,
            timeout=function.timeout,
            region=region,
            log_stream_name=log_stream,
        )
        response = handler(event, context)
        elapsed = time.monotonic() - started
        logger.info(
            "REPORT RequestId: %s Duration: %.1f ms Records: %d",
            context.aws_request_id,
            elapsed * 1000,
            len(event.get("Records", [])),
        )
        if elapsed > function.timeout:
            # Lambda stops the function at its timeout and counts the invocation as failed; a thread
            # cannot be stopped, so the late result is thrown away instead.
            raise InvocationTimedOut(f"Task timed out after {function.timeout:.2f} seconds ({elapsed:.2f}s)")
        return response

    return invoke


def serve(
    function: LocalFunction,
    stop: threading.Event,
    *,
    client_factory: Callable[[str], Any],
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Import the handler, then run one poller per event source until `stop` is set."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    started = time.monotonic()
    handler = load_handler(function.handler)
    logger.info("%s: cold start (import %s) took %.0f ms", function.name, function.handler, _ms_since(started))
    invoke = make_invoke(function, handler, region)
    pollers = [
        SqsPoller(client_factory, source, invoke, function_name=function.name) for source in function.event_sources
    ]
    threads = [threading.Thread(target=p.run, args=(stop,), name=f"source-{i}") for i, p in enumerate(pollers)]
    for thread in threads:
        thread.start()
    on_ready()
    for thread in threads:
        # Joined in slices so that the main thread keeps running the SIGTERM handler.
        while thread.is_alive():
            thread.join(0.5)
    for poller in pollers:
        logger.info("%s: %s: %s", function.name, poller.source.queue_arn, poller.stats)


def _ready_signal(fd: int | None) -> Callable[[], None]:
    """Tells the parent, through the pipe it passed, that the handler imported and polling started."""

    def ready() -> None:
        if fd is not None:
            os.write(fd, READY)
            os.close(fd)

    return ready


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _sqs_client_factory() -> Callable[[str], Any]:
    lock = threading.Lock()
    sessions: list[Any] = []

    def factory(service: str) -> Any:
        # boto3 is imported on first use, after the handler: the cold start measured above is the
        # handler's own imports, as in Lambda (where boto3 is not preloaded either).
        import boto3

        with lock:
            if not sessions:
                # The environment (AWS_ENDPOINT_URL, credentials, region) points boto3 at the emulator.
                sessions.append(boto3.session.Session())
            return sessions[0].client(service)

    return factory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m herald_tools.local.worker", description=__doc__)
    parser.add_argument("--function-json", required=True, help="the LocalFunction to run, as JSON")
    parser.add_argument("--ready-fd", type=int, default=None, help="file descriptor to write 'ready' to")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)

    # Logs (this module's and the handler's) go to stderr, which the parent points at the function's log file.
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s",
    )
    # botocore's request logs would drown the function's own.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    function = LocalFunction.from_json(args.function_json)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("%s: %s received; finishing batches in flight", function.name, signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Lambda puts the task root (the CodeUri folder) first on sys.path.
    if function.code_dir and function.code_dir not in sys.path:
        sys.path.insert(0, function.code_dir)
    try:
        # Imported once the task root is on sys.path: the herald the handler imports is the one decorated.
        from herald_tools.local.ports import install_local_ports

        install_local_ports()
        # Soak runs only (HERALD_FAULT_INJECTION), both no-ops when it is unset: DynamoDB clients the handler builds
        # from boto3's default session answer a share of requests with throttling, and the ports the senders'
        # roots build are wrapped with the crash points.
        from herald_tools.faultinjection import install_crash_points, install_dynamodb_throttling

        if install_dynamodb_throttling():
            logger.warning("%s: fault injection: DynamoDB throttling is on", function.name)
        if install_crash_points():
            logger.warning("%s: fault injection: crash points are on", function.name)
        serve(function, stop, client_factory=_sqs_client_factory(), on_ready=_ready_signal(args.ready_fd))
    except Exception:
        logger.exception("%s: worker failed", function.name)
        return 1
    logger.info("%s: stopped", function.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
