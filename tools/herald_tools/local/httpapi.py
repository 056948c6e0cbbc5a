"""The template's HTTP API (`AWS::Serverless::HttpApi`) on 127.0.0.1, for the local runtime.

moto creates no HTTP API that can be called, so the providers' callbacks (and anything else posting to
the webhooks API) would have nowhere to go. This module serves the API's routes, read from the
translated template's OpenAPI body, on a loopback port, turning each request into the API Gateway HTTP
API payload 2.0 event Lambda would receive and the handler's answer back into an HTTP response.

Where the handler runs: in a sandbox process of its own, like the SQS workers, and not in the
runtime's process. The handler reads its configuration (table name, secret ids, Powertools settings,
the emulator's endpoint and fake credentials) from os.environ and caches clients and secrets in module
globals; in the parent it would either see the parent's environment (a test's, a developer's AWS
profile) or have to overwrite it for everything else in that process, and a second runtime in the same
process would get the first one's cached clients. So the parent binds the listening socket (its URL is
then known before any worker starts, and no other process can take the port in between) and hands it
to `python -m herald_tools.local.httpapi`, started with the function's sandbox environment
(`LocalRuntime.worker_environment`).

Every function whose routes need no authorisation is served, each in a sandbox of its own: the one with the most
such routes (the webhooks) on the API's port, each other one (the intake) on a port of its own, to which the
first forwards its routes' requests, so that the API has one URL as API Gateway gives it. Routes that API Gateway
would authorise with IAM (SigV4) answer 403 as API Gateway does without a signature: nothing here can check one.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from herald_tools.local.stack import LocalFunction, LocalStack, _stack_resources
from herald_tools.local.worker import ACCOUNT_ID, READY, load_handler, make_invoke

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOCAL_API_ID = "local"
_ARN_REFERENCE = re.compile(r"\$\{(?P<logical_id>[A-Za-z0-9]+)\.Arn\}")
# Content types API Gateway passes as text; any other body reaches the function base64-encoded.
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]+\+(json|xml)))$", re.IGNORECASE
)
_STOP_TIMEOUT_SECONDS = 10.0


class HttpApiFailed(RuntimeError):
    """The HTTP API's sandbox did not come up (its handler failed to import, most often)."""


@dataclass(frozen=True)
class Route:
    """One route of an HTTP API: method and path template (`/orders/{source}/{order_id}/timeline`)."""

    api: str  # the API's logical id
    method: str  # upper case, or "ANY"
    path: str
    function: str  # logical id of the integrated function
    iam: bool = False  # authorised with AWS_IAM (SigV4)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when `method path` is this route, else None."""
        if self.method not in ("ANY", method.upper()):
            return None
        template, actual = self.path.strip("/").split("/"), path.strip("/").split("/")
        parameters: dict[str, str] = {}
        for index, part in enumerate(template):
            if part.startswith("{") and part.endswith("+}"):  # greedy {proxy+}: the rest of the path
                if index >= len(actual):
                    return None
                parameters[part[1:-2]] = unquote("/".join(actual[index:]))
                return parameters
            if index >= len(actual):
                return None
            if part.startswith("{") and part.endswith("}"):
                if not actual[index]:
                    return None
                parameters[part[1:-1]] = unquote(actual[index])
            elif part != actual[index]:
                return None
        return parameters if len(actual) == len(template) else None


def http_api_routes(translated: Mapping[str, Any]) -> list[Route]:
    """Every route of every `AWS::ApiGatewayV2::Api` with an OpenAPI body (what SAM makes of an HttpApi)."""
    routes = []
    for logical_id, resource in translated.get("Resources", {}).items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        body = resource.get("Properties", {}).get("Body") or {}
        for path, operations in (body.get("paths") or {}).items():
            for method, operation in operations.items():
                integration = operation.get("x-amazon-apigateway-integration") or {}
                function = _integrated_function(integration.get("uri"))
                if function is None:
                    continue
                security = operation.get("security") or []
                iam = any("AWS_IAM" in requirement for requirement in security)
                name = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                routes.append(Route(logical_id, name, path, function, iam))
    # Specific paths before parameterised ones, as API Gateway prefers the most specific route.
    return sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path), r.method == "ANY"))


def _integrated_function(uri: Any) -> str | None:
    text = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
    if isinstance(text, list):
        text = text[0]
    match = _ARN_REFERENCE.search(text) if isinstance(text, str) else None
    return match["logical_id"] if match else None


def served_function(routes: list[Route]) -> str | None:
    """The function whose routes the local API serves: the one with the most routes open to callers."""
    counts: dict[str, int] = {}
    for route in routes:
        if not route.iam:
            counts[route.function] = counts.get(route.function, 0) + 1
    return max(counts, key=lambda name: counts[name]) if counts else None


# --- the event and the response -------------------------------------------------------------------


def build_event(
    route: Route,
    path_parameters: Mapping[str, str],
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    domain_name: str,
    source_ip: str,
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway would pass for this request."""
    split = urlsplit(target)
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # Repeated headers are joined with commas, as API Gateway does.
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    # API Gateway sets these itself; here the caller reached us over plain HTTP on the loopback.
    lowered["host"] = domain_name
    lowered["x-forwarded-proto"] = "http"
    lowered["x-forwarded-port"] = domain_name.rpartition(":")[2]
    lowered["x-forwarded-for"] = source_ip
    query: dict[str, str] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = lowered.get("content-type", "").split(";")[0].strip()
    text: str | None = None
    if _TEXT_TYPES.match(content_type) or not content_type:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": split.path,
        "rawQueryString": split.query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": LOCAL_API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "http": {
                "method": method.upper(),
                "path": split.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
    return event


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def to_response(result: Any) -> HttpResponse:
    """The handler's return value as API Gateway (payload 2.0) turns it into a response."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 infers a response from anything else: 200, the value as JSON.
        inferred = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], inferred.encode("utf-8"))
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, body)


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


# --- the sandbox: python -m herald_tools.local.httpapi ----------------------------------------------------


def _one_at_a_time(invoke: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """One invocation at a time, as one Lambda sandbox takes one request at a time.

    The server reads requests on threads, but a handler is written for one request per sandbox: Powertools'
    resolver keeps the request it is resolving on the module's `app`, so two concurrent requests read each other's
    headers (a signed callback refused as unsigned, seen under load). Lambda would run a second sandbox instead.
    """
    lock = threading.Lock()

    def invoke_alone(event: dict[str, Any]) -> Any:
        with lock:
            return invoke(event)

    return invoke_alone


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sock: socket.socket, dispatch: Callable[[_Handler], HttpResponse]) -> None:
        super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()[:2]
        self.dispatch = dispatch


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        response = self.server.dispatch(self)
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names and response.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s " + format, self.address_string(), *args)


def _forward(request: _Handler, upstream: str) -> HttpResponse:
    """The request, as it came, to the sandbox serving its route's function (API Gateway's routing, locally)."""
    import http.client

    target = urlsplit(upstream)
    connection = http.client.HTTPConnection(target.hostname or HOST, target.port, timeout=60)
    try:
        headers = {name: value for name, value in request.headers.items() if name.lower() != "host"}
        headers["Host"] = request.headers.get("Host") or f"{HOST}:{request.server.server_address[1]}"
        connection.request(request.command, request.path, body=request.body or None, headers=headers)
        answer = connection.getresponse()
        return HttpResponse(answer.status, list(answer.getheaders()), answer.read())
    finally:
        connection.close()


def make_dispatch(
    function: LocalFunction,
    routes: list[Route],
    invoke: Callable[[dict[str, Any]], Any],
    upstreams: Mapping[str, str] | None = None,
) -> Callable[[_Handler], HttpResponse]:
    upstreams = upstreams or {}

    def dispatch(request: _Handler) -> HttpResponse:
        path = urlsplit(request.path).path
        for route in routes:
            parameters = route.match(request.command, path)
            if parameters is None:
                continue
            if route.iam:
                return _error(403, "Forbidden")
            if route.function != function.logical_id:
                if route.function in upstreams:
                    return _forward(request, upstreams[route.function])
                return _error(501, f"{route.function} is not served by the local HTTP API")
            port = request.server.server_address[1]
            event = build_event(
                route,
                parameters,
                method=request.command,
                target=request.path,
                headers=list(request.headers.items()),
                body=request.body,
                domain_name=f"{HOST}:{port}",
                source_ip=request.client_address[0],
            )
            try:
                return to_response(invoke(event))
            except Exception:
                # API Gateway answers a function error with a bare 500; the trace goes to the function's log.
                logger.exception("%s failed on %s", function.logical_id, route.route_key)
                return _error(500, "Internal Server Error")
        return _error(404, "Not Found")

    return dispatch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m herald_tools.local.httpapi", description=__doc__)
    parser.add_argument("--function-json", required=True, help="the LocalFunction to run, as JSON")
    parser.add_argument("--routes-json", required=True, help="the API's routes, as a JSON list")
    parser.add_argument("--listen-fd", type=int, required=True, help="a bound, listening TCP socket")
    parser.add_argument("--ready-fd", type=int, default=None, help="file descriptor to write 'ready' to")
    parser.add_argument("--upstreams-json", default="{}", help="other functions' local URLs, by logical id")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level="INFO", stream=sys.stderr, format="%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    function = LocalFunction.from_json(args.function_json)
    routes = [Route(**item) for item in json.loads(args.routes_json)]
    if function.code_dir and function.code_dir not in sys.path:
        sys.path.insert(0, function.code_dir)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    # The functions served over HTTP get the local ports too (the order page's photo fetcher reaches the
    # carrier-photos stand-in), as the queue workers do (local/worker.py).
    from herald_tools.local.ports import install_local_ports

    install_local_ports()
    try:
        invoke = _one_at_a_time(make_invoke(function, load_handler(function.handler), region))
    except Exception:
        logger.exception("%s: handler failed to import", function.logical_id)
        return 1
    sock = socket.socket(fileno=args.listen_fd)
    server = _Server(sock, make_dispatch(function, routes, invoke, json.loads(args.upstreams_json)))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return: call it off the main thread that runs it.
        threading.Thread(target=server.shutdown, name="shutdown").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.ready_fd is not None:
        os.write(args.ready_fd, READY)
        os.close(args.ready_fd)
    logger.info("%s: serving %d routes on http://%s:%s", function.logical_id, len(routes), *server.server_address)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


# --- the parent's side ------------------------------------------------------------------------------


class LocalHttpApi:
    """The sandbox process serving an HTTP API's routes, and the socket it listens on."""

    def __init__(self, function: LocalFunction, routes: list[Route], *, log_path: Path, port: int = 0) -> None:
        # The other functions' sandboxes this one forwards their routes to (started and stopped with it).
        self.upstreams: list[LocalHttpApi] = []
        self.function = function
        self.routes = routes
        self.log_path = log_path
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((HOST, port))
        self._socket.listen(64)
        self.port: int = self._socket.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        # What the template's `https://${Api}.execute-api...` URLs hold for the API's host: the id the
        # emulator gave it, or (moto creates no HTTP API, so leaves the Sub unresolved) `${Api}` itself.
        self.api_ids: set[str] = set()

    def local_environment(self, environment: Mapping[str, str]) -> dict[str, str]:
        """The variables of `environment` that name this API's deployed URL, pointed at the local one instead."""
        if not self.api_ids:
            return {}
        hosts = "|".join(re.escape(api_id) for api_id in sorted(self.api_ids))
        deployed = re.compile(rf"^https://(?:{hosts})\.execute-api\.[^/]+(?P<rest>/.*)?$")
        local = {}
        for name, value in environment.items():
            match = deployed.match(value)
            if match:
                local[name] = self.url + (match["rest"] or "")
        return local

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, env: Mapping[str, str], *, ready_timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        read_fd, write_fd = os.pipe()
        listen_fd = self._socket.fileno()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own module, run by the current interpreter
                [
                    sys.executable,
                    "-m",
                    "herald_tools.local.httpapi",
                    "--function-json",
                    self.function.to_json(),
                    "--routes-json",
                    json.dumps([asdict(route) for route in self.routes]),
                    "--listen-fd",
                    str(listen_fd),
                    "--ready-fd",
                    str(write_fd),
                    "--upstreams-json",
                    json.dumps({api.function.logical_id: api.url for api in self.upstreams}),
                ],
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd, listen_fd),
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        try:
            readable, _, _ = select.select([read_fd], [], [], ready_timeout)
            message = os.read(read_fd, len(READY)) if readable else b""
        finally:
            os.close(read_fd)
        if message != READY:
            self.stop()
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
            raise HttpApiFailed(f"the local HTTP API ({self.function.handler}) did not start; its log ends:\n{tail}")
        logger.info("HTTP API (%s) listening on %s", self.function.logical_id, self.url)

    def stop(self) -> None:
        # Every sandbox is told first, then each is waited for: they stop together, so the API's stop takes the
        # slowest one's time, not the sum of them all (one sandbox per function with routes).
        sandboxes = [*self.upstreams, self]
        for sandbox in sandboxes:
            sandbox._signal_stop()
        for sandbox in sandboxes:
            sandbox._wait_stopped()

    def _signal_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def _wait_stopped(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("the local HTTP API did not stop in time; killing it")
                self.process.kill()
                self.process.wait()
        self._socket.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def start_http_api(
    stack: LocalStack,
    cloudformation: Any,
    *,
    sandbox_environment: Callable[[LocalFunction], dict[str, str]],
    log_dir: Path,
    ready_timeout: float = 60.0,
    port: int = 0,
) -> LocalHttpApi | None:
    """Serve the stack's HTTP API routes, or None when it has none that need no authorisation.

    `sandbox_environment` gives the served function's sandbox its environment (the runtime's
    `worker_environment`): passed in, so that this module needs nothing of the runtime that starts it.
    """
    started = time.monotonic()
    routes = http_api_routes(stack.translated)
    served = served_function(routes)
    if served is None:
        return None
    function = stack.function(served)
    # One API on one port: the one the served function's routes belong to.
    api_logical_id = next(route.api for route in routes if route.function == served)
    routes = [route for route in routes if route.api == api_logical_id]
    api = LocalHttpApi(function, routes, log_path=log_dir / "HttpApi.log", port=port)
    # Every other function with open routes on this API gets its own sandbox, reached through this one.
    others = sorted({route.function for route in routes if not route.iam and route.function != served})
    api.upstreams = [
        LocalHttpApi(stack.function(name), routes, log_path=log_dir / f"HttpApi-{name}.log") for name in others
    ]
    # list, not describe_stack_resource: moto's describe trips over the resources it skipped (None).
    api.api_ids = {"${" + api_logical_id + "}"} | {
        resource["PhysicalResourceId"]
        for resource in _stack_resources(cloudformation, stack.name)
        if resource["LogicalResourceId"] == api_logical_id and resource.get("PhysicalResourceId")
    }
    try:
        for upstream in api.upstreams:
            upstream.api_ids = api.api_ids
            upstream.start(sandbox_environment(upstream.function), ready_timeout=ready_timeout)
        api.start(sandbox_environment(function), ready_timeout=ready_timeout)
    except BaseException:
        api.stop()
        raise
    logger.info("local HTTP API up in %.2fs at %s", time.monotonic() - started, api.url)
    return api


if __name__ == "__main__":
    sys.exit(main())
