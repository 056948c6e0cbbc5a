"""Server plumbing shared by the SendGrid and Twilio stand-ins (standard library only).

Each stand-in is a `ThreadingHTTPServer` on 127.0.0.1 serving from a daemon thread. Subclasses turn
a parsed `Request` into a `Reply`; this module does the socket work, the per-request latency and
fault draw, the counters, and a clean stop (hung requests are released, kept-alive connections are
closed) so a test suite never waits on a stand-in.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import sys
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from herald_tools.local.standins.faults import FaultPlan

logger = logging.getLogger(__name__)

_DRAIN_CHUNK = 1 << 20


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    # The declared body was over the stand-in's limit: it was read and thrown away, `body` is empty.
    too_large: bool = False
    # Set by a fault that accepts the request but answers late (see FaultPlan.accept_on_timeout).
    answer_delay: float = 0.0


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        merged = {"Content-Type": "application/json", **(headers or {})}
        return cls(status, json.dumps(payload).encode("utf-8"), merged)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: StandInServer) -> None:
        self.standin = standin
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ssl.SSLError):
            # A client that does not trust the stand-in's certificate (a test of exactly that): not a stand-in bug.
            logger.debug("%s: TLS handshake refused by %s: %s", self.standin.name, client_address, error)
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError as exc:  # already closed by the peer: nothing left to release
                logger.debug("closing a stand-in connection: %s", exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    timeout = 60  # an idle kept-alive connection does not hold a thread forever
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self, limit: int) -> tuple[bytes, bool] | None:
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b"", False
        try:
            length = int(raw_length)
        except ValueError:
            return None
        if length < 0:
            return None
        if length <= limit:
            return self.rfile.read(length), False
        # Drain instead of hanging up: a client still sending would see a reset, not the 413.
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(_DRAIN_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
        return b"", True

    def _serve(self) -> None:
        standin = self.server.standin
        parsed = urlsplit(self.path)
        body = self._read_body(standin.max_body_bytes)
        if body is None:
            self.close_connection = True
            self._send(Reply(400, b"bad Content-Length", {"Content-Type": "text/plain"}))
            return
        request = Request(
            method=self.command,
            path=parsed.path,
            query=parse_qs(parsed.query, keep_blank_values=True),
            headers=self.headers,
            body=body[0],
            too_large=body[1],
        )
        reply = standin._dispatch(request)
        if request.answer_delay > 0:
            standin.hang(request.answer_delay)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.body and self.command != "HEAD":
                self.wfile.write(reply.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The client gave up first (its timeout fired during a hang fault): expected, not an error.
            self.close_connection = True
            logger.debug("%s: client went away before the answer: %s", self.server.standin.name, exc)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: " + format, self.server.standin.name, *args)


class StandInServer(ABC):
    """Base of a provider stand-in: start/stop, URL, counters, fault plumbing."""

    name = "stand-in"
    max_body_bytes = 10 * 1024 * 1024
    # Set by a stand-in that serves HTTPS (before start()); None: plain HTTP.
    tls_context: ssl.SSLContext | None = None

    def __init__(self, *, faults: FaultPlan | None = None, port: int = 0) -> None:
        self.faults = faults if faults is not None else FaultPlan()
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._request_count = 0
        self._accepted: list[dict[str, Any]] = []

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{self.name} is already running at {self.url}")
        self._stopping.clear()
        # A restart binds the port it had before, so clients configured with `url` keep working
        # (a provider outage and its recovery, in one test).
        server = _Server(("127.0.0.1", self._port), self)
        if self.tls_context is not None:
            # HTTPS (the storefront receiver: Herald posts to https:// only). Each handshake runs on its request's
            # own thread, on the first read, so one slow client holds up no other.
            server.socket = self.tls_context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        logger.info("%s listening on %s", self.name, self.url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # releases requests hung by a timeout fault
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError(f"{self.name} has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- counters ---------------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """Every request received, whatever the answer."""
        with self._lock:
            return self._request_count

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """A snapshot of the summaries of accepted messages, oldest first."""
        with self._lock:
            return list(self._accepted)

    def _record_accepted(self, summary: dict[str, Any]) -> None:
        with self._lock:
            self._accepted.append(summary)

    # -- request handling -------------------------------------------------------------------------

    def hang(self, seconds: float) -> None:
        """Sleep, but wake up at once when the stand-in stops."""
        self._stopping.wait(seconds)

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self._request_count += 1
        latency, _, _ = self.faults.snapshot()
        if latency > 0:
            self.hang(latency)
        try:
            return self.handle(request)
        except Exception:
            # A full disk or a stand-in bug: answer as a failing provider would, so the client sees a
            # 5xx (and does not think the message went) instead of a dropped connection.
            logger.exception("%s failed on %s %s", self.name, request.method, request.path)
            return self.server_error_reply()

    def inject_fault(self, request: Request) -> Reply | None:
        """Draw this request's fault. A reply means "answer with this"; None means "carry on"."""
        decision = self.faults.decide()
        if decision == "ok":
            return None
        if decision == "throttle":
            return self.throttle_reply()
        if decision == "server_error":
            return self.server_error_reply()
        _, hang_seconds, accept = self.faults.snapshot()
        if accept:
            request.answer_delay = hang_seconds
            return None
        self.hang(hang_seconds)
        return self.server_error_reply()

    @abstractmethod
    def handle(self, request: Request) -> Reply:
        """Answer a request that passed the fault plan, as the real service would."""

    @abstractmethod
    def throttle_reply(self) -> Reply:
        """The service's own 429 answer."""

    @abstractmethod
    def server_error_reply(self) -> Reply:
        """The service's own 5xx answer."""
