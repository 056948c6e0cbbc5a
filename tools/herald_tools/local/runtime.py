"""The local runtime: the emulator, the template deployed into it, and one sandbox process per function.

with LocalRuntime(Path("template.yaml"), log_dir=Path(".herald/logs")) as runtime:
    sqs = runtime.aws.client("sqs")
    sqs.send_message(QueueUrl=runtime.stack.outputs["OrderEventsQueueUrl"], MessageBody=...)
    runtime.wait_until_settled()
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import herald
import herald_tools
from herald_tools.local.emulator import LocalAws
from herald_tools.local.httpapi import LocalHttpApi, start_http_api
from herald_tools.local.scheduler import LocalScheduler
from herald_tools.local.sender_ids import LOCAL_OPERATOR_SENDER_ID
from herald_tools.local.stack import LocalFunction, LocalStack, deploy, load_template
from herald_tools.local.worker import READY

logger = logging.getLogger(__name__)

# What a sandbox inherits from the parent's environment: enough to run Python, nothing of the parent's
# configuration (its AWS profile or keys above all).
_INHERITED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "VIRTUAL_ENV",
    "SYSTEMROOT",
    "COVERAGE_PROCESS_START",
)
# Seconds a worker gets, beyond its function's timeout, to finish its batches in flight on stop.
# The template's parameters a local deployment cannot leave to their defaults: the default storefront (the demo's
# events come from storefront/acme-outdoor) sends from the Twilio stand-in's number and is published by the
# local operator, whom the emulator names as SQS names a principal (herald_tools.local.sender_ids).
LOCAL_PARAMETERS = {
    "DefaultStorefrontSource": "storefront/acme-outdoor",
    "DefaultStoreName": "Acme Outdoor",
    "DefaultStorefrontSmsFrom": "+15005550006",  # Twilio's test "valid sender" (the stand-in's number)
    "DefaultStorefrontPublisherIds": LOCAL_OPERATOR_SENDER_ID,
}
_STOP_GRACE_SECONDS = 5.0
# The variable naming the schedule group a function schedules in (config.DispatchSettings).
_SCHEDULE_GROUP_VARIABLE = "HERALD_LATE_CHECK_SCHEDULE_GROUP"
_SETTLE_POLL_SECONDS = 0.2
# How often the supervisor looks for a worker that died, and how long it waits after a replacement failed.
_SUPERVISE_POLL_SECONDS = 0.2
_RESTART_BACKOFF_SECONDS = 1.0
_DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class WorkerFailed(RuntimeError):
    """A function's sandbox did not come up (its handler failed to import, most often)."""


@dataclass
class Worker:
    function: LocalFunction
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def returncode(self) -> int | None:
        return self.process.poll()


class LocalRuntime:
    """Deploys a SAM template into an embedded moto and runs its functions against its queues."""

    def __init__(
        self,
        template: Path,
        *,
        parameters: Mapping[str, str] = {},
        extra_env: Mapping[str, str] = {},
        log_dir: Path,
        pythonpath: list[Path] | None = None,
        stack_name: str = "herald-local",
        region: str = "us-east-1",
        ready_timeout: float = 60.0,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.extra_env = dict(extra_env)
        self.log_dir = log_dir
        self.pythonpath = list(pythonpath or [])
        self.stack_name = stack_name
        self.ready_timeout = ready_timeout
        self.aws = LocalAws(region=region)
        self._stack: LocalStack | None = None
        self.workers: list[Worker] = []
        self.startup_seconds: float | None = None
        # Workers that exited while the runtime ran, by function logical id: each was replaced, as Lambda
        # starts a new sandbox when one dies (a crash, an os._exit from fault injection, a kill).
        self.restarts: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        # The template's HTTP API on a loopback port (None when it has none): the providers' callbacks.
        self.http_api: LocalHttpApi | None = None
        # The IAM user Herald's functions sign with (SenderId, key id, secret): created when the runtime starts.
        self._functions_identity: tuple[str, str, str] | None = None
        # EventBridge Scheduler's part (moto stores schedules, never runs them): None when no function schedules.
        self.scheduler: LocalScheduler | None = None

    @property
    def stack(self) -> LocalStack:
        if self._stack is None:
            raise RuntimeError("LocalRuntime is not started: call start() first")
        return self._stack

    @property
    def webhooks_url(self) -> str:
        """Base URL of the template's HTTP API, served locally (the deployed stack's WebhooksApiUrl)."""
        if self.http_api is None:
            raise RuntimeError("no local HTTP API: the runtime is not started or its template has none")
        return self.http_api.url

    @property
    def outputs(self) -> dict[str, str]:
        """The stack's outputs as a caller can use them here: moto creates no HTTP API, so an output naming one
        (WebhooksApiUrl) holds the template's unresolved `https://${WebhooksApi}.execute-api...`; it is given
        the local API's loopback URL instead, as the functions' environment is."""
        outputs = dict(self.stack.outputs)
        if self.http_api is not None:
            outputs.update(self.http_api.local_environment(outputs))
        return outputs

    def deploy_parameters(self) -> dict[str, str]:
        """The caller's parameters over LOCAL_PARAMETERS, of those the template declares."""
        declared = load_template(self.template).get("Parameters") or {}
        return {**{k: v for k, v in LOCAL_PARAMETERS.items() if k in declared}, **self.parameters}

    def start(self) -> Self:
        started = time.monotonic()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.aws.start()
        try:
            self._stack = deploy(
                self.aws, self.template, parameters=self.deploy_parameters(), stack_name=self.stack_name
            )
            self._functions_identity = _functions_identity(self.aws.client("iam"))
            self.scheduler = self._start_scheduler()
            # Before the workers: their environment points the template's API URLs at it.
            self.http_api = start_http_api(
                self.stack,
                self.aws.client("cloudformation"),
                sandbox_environment=self.worker_environment,
                log_dir=self.log_dir,
                ready_timeout=self.ready_timeout,
            )
            ready_pipes = [self._spawn(function) for function in self.stack.functions]
            self._wait_ready(ready_pipes)
        except BaseException:
            self.stop()
            raise
        self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
        self._supervisor.start()
        self.startup_seconds = time.monotonic() - started
        logger.info(
            "local runtime up in %.2fs: stack %s, %d functions",
            self.startup_seconds,
            self.stack_name,
            len(self.workers),
        )
        return self

    def _start_scheduler(self) -> LocalScheduler | None:
        """Run the one-time schedules of the group the functions schedule in (late-delivery checks)."""
        groups = {
            f.environment[_SCHEDULE_GROUP_VARIABLE]
            for f in self.stack.functions
            if _SCHEDULE_GROUP_VARIABLE in f.environment
        }
        if not groups:
            return None
        (group,) = groups
        scheduler = LocalScheduler(self.aws.client("scheduler"), self.aws.client("sqs"), group)
        scheduler.start()
        return scheduler

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def worker_environment(self, function: LocalFunction) -> dict[str, str]:
        """The sandbox's environment: Lambda's own variables, the function's, the emulator's, the overrides."""
        env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
        # The function's code first (as Lambda's task root), then where this process found both packages: the
        # worker that hosts the handler (herald_tools.local.worker) is a tool, never part of the artifact.
        package_roots = [Path(str(package.__file__)).resolve().parent.parent for package in (herald, herald_tools)]
        paths = [str(path) for path in self.pythonpath]
        if function.code_dir:
            paths.append(function.code_dir)
        paths.extend(str(root) for root in package_roots)
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "_HANDLER": function.handler,
                # What `sam local` sets: Powertools then keeps X-Ray tracing off (no daemon to send to).
                "AWS_SAM_LOCAL": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if function.code_dir:
            env["LAMBDA_TASK_ROOT"] = function.code_dir
        env.update(function.environment)
        env.update(self.aws.environment())
        identity = self._functions_identity
        if identity is not None:
            # Herald's functions sign as their own IAM user, as each signs with its role in AWS: the SQS SenderId
            # of what they publish (the intake's relayed events) is theirs, never the local operator's.
            user_id, access_key, secret_key = identity
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = access_key, secret_key
            if "HERALD_RELAY_PUBLISHER_IDS" in function.environment:
                # The template names the functions' role ids (GetAtt ...Role.RoleId); locally they are this user.
                env["HERALD_RELAY_PUBLISHER_IDS"] = user_id
        if self.http_api is not None:
            env.update(self.http_api.local_environment(function.environment))
        env.update(self.extra_env)
        return env

    def _spawn(self, function: LocalFunction) -> tuple[Worker, int]:
        log_path = self.log_dir / f"{function.logical_id}.log"
        log_file = log_path.open("ab")
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(  # noqa: S603 - our own module, run by the current interpreter
                [
                    sys.executable,
                    "-m",
                    "herald_tools.local.worker",
                    "--function-json",
                    function.to_json(),
                    "--ready-fd",
                    str(write_fd),
                ],
                env=self.worker_environment(function),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                # Its own process group: a Ctrl-C in the terminal reaches the parent, which stops workers in order.
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            log_file.close()
            raise
        finally:
            os.close(write_fd)
        worker = Worker(function=function, process=process, log_path=log_path, log_file=log_file)
        self.workers.append(worker)
        return worker, read_fd

    def _wait_ready(self, pipes: list[tuple[Worker, int]]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        pending = {fd: worker for worker, fd in pipes}
        try:
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = ", ".join(w.function.logical_id for w in pending.values())
                    raise WorkerFailed(f"workers not ready after {self.ready_timeout:.0f}s: {names}")
                readable, _, _ = select.select(list(pending), [], [], remaining)
                for fd in readable:
                    worker = pending.pop(fd)
                    message = os.read(fd, len(READY))
                    os.close(fd)
                    if message != READY:
                        worker.process.wait(timeout=5)
                        raise WorkerFailed(
                            f"{worker.function.logical_id} ({worker.function.handler}) exited with "
                            f"{worker.process.returncode} before it was ready; its log {worker.log_path} ends:\n"
                            f"{_tail(worker.log_path)}"
                        )
        finally:
            for fd in pending:
                os.close(fd)

    def _supervise(self) -> None:
        """Replace every worker that exits while the runtime runs. Its messages in flight were neither
        deleted nor failed: SQS hands them out again once their visibility timeout ends, to the new one."""
        while not self._stopping.wait(_SUPERVISE_POLL_SECONDS):
            for worker in list(self.workers):
                # Exit 0 is a worker with nothing to poll (a function without SQS sources): it is done.
                if worker.process.poll() in (None, 0) or self._stopping.is_set():
                    continue
                logger.warning(
                    "%s exited unexpectedly with %s; starting a new sandbox (log: %s)",
                    worker.function.logical_id,
                    worker.process.returncode,
                    worker.log_path,
                )
                worker.log_file.close()
                self.workers.remove(worker)
                self.restarts[worker.function.logical_id] += 1
                try:
                    self._wait_ready([self._spawn(worker.function)])
                except WorkerFailed:
                    # The replacement died too (it is in self.workers, exited): try again after a pause.
                    logger.exception("%s: its replacement did not come up", worker.function.logical_id)
                    self._stopping.wait(_RESTART_BACKOFF_SECONDS)

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then batches in flight finish), then the emulator."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.process.wait(timeout=worker.function.timeout + _STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", worker.function.logical_id)
                worker.process.kill()
                worker.process.wait()
            worker.log_file.close()
            if worker.process.returncode != 0:
                logger.warning(
                    "%s exited with %s (log: %s)",
                    worker.function.logical_id,
                    worker.process.returncode,
                    worker.log_path,
                )
        if self.http_api is not None:
            self.http_api.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        self.aws.stop()

    def polled_queues(self) -> list[str]:
        """Logical ids of the stack's queues that an enabled event source polls (never a DLQ in practice)."""
        polled = {
            source.queue_url for function in self.stack.functions for source in function.event_sources if source.enabled
        }
        return [
            logical_id
            for logical_id, url in self.stack.queues.items()
            if url in polled and logical_id not in self.stack.dead_letter_queues
        ]

    def queue_depths(self) -> dict[str, int]:
        """Messages in each queue of the stack (visible + in flight + delayed), by logical id."""
        sqs = self.aws.client("sqs")
        depths = {}
        for logical_id, url in self.stack.queues.items():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_DEPTH_ATTRIBUTES))["Attributes"]
            depths[logical_id] = sum(int(attributes.get(name, 0)) for name in _DEPTH_ATTRIBUTES)
        return depths

    def wait_until_settled(
        self, *, quiet_seconds: float = 2.0, timeout: float = 120.0, ignore: Collection[str] = ()
    ) -> bool:
        """True once every queue a function polls has held no message for `quiet_seconds`.

        Dead-letter queues keep what they get, and a queue no function polls (one a test reads, say)
        would never drain: neither is waited for, nor the queues in `ignore` (e.g. deadline checks delayed past a
        run's window). False if the polled queues did not empty within
        `timeout` (a failing message cycles until its DLQ takes it, maxReceiveCount visibility timeouts).
        """
        active = [logical_id for logical_id in self.polled_queues() if logical_id not in ignore]
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while True:
            depths = self.queue_depths()
            now = time.monotonic()
            if all(depths[logical_id] == 0 for logical_id in active):
                quiet_since = quiet_since if quiet_since is not None else now
                if now - quiet_since >= quiet_seconds:
                    return True
            else:
                quiet_since = None
            if now >= deadline:
                busy = {logical_id: depths[logical_id] for logical_id in active if depths[logical_id]}
                logger.warning("not settled after %.0fs: %s", timeout, busy)
                return False
            time.sleep(_SETTLE_POLL_SECONDS)


def _functions_identity(iam: Any) -> tuple[str, str, str]:
    """The emulator's IAM user the functions sign with: (its SenderId, access key id, secret key)."""
    from herald_tools.local.sender_ids import aws_style_user_id

    # One user per runtime: several runtimes may share one emulator (the tests start many in one process).
    name = f"herald-local-functions-{uuid.uuid4().hex[:12]}"
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return aws_style_user_id(user["UserId"]), key["AccessKeyId"], key["SecretAccessKey"]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(cannot read the log: {error})"


def describe(runtime: LocalRuntime) -> dict[str, Any]:
    """A summary of a started runtime (for CLIs and logs): endpoint, outputs, functions and their sources."""
    return {
        "endpoint_url": runtime.aws.endpoint_url,
        "stack": runtime.stack.name,
        "outputs": runtime.stack.outputs,
        "functions": [
            {
                "logical_id": worker.function.logical_id,
                "name": worker.function.name,
                "pid": worker.process.pid,
                "log": str(worker.log_path),
                "event_sources": [source.queue_url for source in worker.function.event_sources],
            }
            for worker in runtime.workers
        ],
    }
