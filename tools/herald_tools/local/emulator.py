"""The embedded AWS emulator: moto's server on a free loopback port, with fake credentials.

moto keeps its state in module-level backends, so every `LocalAws` started in one process serves the
same queues, tables and stacks (each through its own port). That is why the state is reset only when
the first instance of a process starts and when the last one stops, and why two runtimes sharing a
process must use different stack names.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from types import TracebackType
from typing import Any, ClassVar, Self

logger = logging.getLogger(__name__)

# moto accepts any credentials; these fixed ones make sure no real profile or key is ever picked up.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class LocalAws:
    """moto's ThreadedMotoServer on 127.0.0.1, and boto3 clients bound to it."""

    _running: ClassVar[int] = 0
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, port: int = 0, region: str = "us-east-1") -> None:
        self.region = region
        self._requested_port = port
        self._server: Any = None
        self._endpoint_url: str | None = None
        self._session: Any = None
        # boto3 sessions are not safe to create clients from concurrently; pollers ask from threads.
        self._client_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("LocalAws is not started: call start() first")
        return self._endpoint_url

    def start(self) -> Self:
        if self._server is not None:
            return self
        # Imported here: moto's server pulls in Flask and every backend, which only the local runtime needs.
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        from herald_tools.local.atomic_writes import make_dynamodb_writes_atomic
        from herald_tools.local.sender_ids import name_senders_by_access_key

        make_dynamodb_writes_atomic()  # conditional writes hold under concurrent requests, as in DynamoDB
        name_senders_by_access_key()  # SenderId names the publisher's IAM user, as SQS does
        # werkzeug logs every request at INFO: thousands of lines a minute once pollers run.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._requested_port, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{host}:{port}"
        with LocalAws._running_lock:
            first = LocalAws._running == 0
            LocalAws._running += 1
        if first:
            self._reset()
        logger.info("moto server listening on %s", self._endpoint_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        with LocalAws._running_lock:
            LocalAws._running -= 1
            last = LocalAws._running == 0
        if last:
            self._reset()
        self._server.stop()
        self._server = None
        self._endpoint_url = None
        self._session = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _reset(self) -> None:
        # moto's own reset endpoint drops every backend's state (queues, stacks, functions...).
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback emulator
            response.read()

    def environment(self) -> dict[str, str]:
        """Environment variables that point any boto3 (in any process) at this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # No instance metadata to ask: keeps botocore from probing 169.254.169.254 for anything.
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        """A boto3 client for `service` bound to this emulator (safe to call from several threads)."""
        import boto3
        from botocore.config import Config

        endpoint = self.endpoint_url
        with self._client_lock:
            if self._session is None:
                self._session = boto3.session.Session(
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                    region_name=self.region,
                )
            return self._session.client(
                service,
                endpoint_url=endpoint,
                # Pollers run several long polls at once; the default pool of 10 is enough, but a
                # short connect timeout makes a stopped emulator fail fast instead of hanging.
                config=Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard"}),
            )
