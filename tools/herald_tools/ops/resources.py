"""Where a Herald stack's table and queues are: a deployed stack's outputs, or the local runtime's state file.

`herald local up` writes `.herald/local.json` (the emulator's endpoint, region and the stack's outputs); the
operator commands read it, or a deployed stack's CloudFormation outputs with `--stack NAME`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL_STATE_FILE = Path(".herald") / "local.json"
TABLE_OUTPUT = "NotificationsTableName"
_DLQ_OUTPUT = re.compile(r"^(?P<name>\w+)DLQUrl$")


class ResourcesError(Exception):
    """The stack or the local runtime cannot be found, or lacks an output the command needs."""


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str  # the outputs' prefix: OrderEvents, ShipmentEvents, Email, Sms
    url: str
    source_url: str | None  # the working queue it takes messages from (redrive target)


@dataclass(frozen=True)
class StackResources:
    """The outputs of one Herald stack, and how to reach the AWS (or emulator) endpoint that holds it."""

    outputs: dict[str, str]
    region: str | None = None
    endpoint_url: str | None = None
    stack: str | None = None
    local: bool = False  # the local runtime's emulator: fake credentials, never the operator's AWS profile
    clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def table_name(self) -> str:
        try:
            return self.outputs[TABLE_OUTPUT]
        except KeyError:
            raise ResourcesError(f"the stack has no {TABLE_OUTPUT} output") from None

    def dead_letter_queues(self) -> list[DeadLetterQueue]:
        """Every `<Name>DLQUrl` output, with its `<Name>QueueUrl` when the stack has one."""
        queues = []
        for output, url in sorted(self.outputs.items()):
            match = _DLQ_OUTPUT.match(output)
            if match:
                name = match["name"]
                queues.append(DeadLetterQueue(name, url, self.outputs.get(f"{name}QueueUrl")))
        return queues

    def dead_letter_queue(self, name: str) -> DeadLetterQueue:
        """One DLQ by name, spelt as an operator would: `email`, `Email`, `email-dlq`, `order-events`, `SmsDLQ`."""
        wanted = _normalised(name)
        if wanted.endswith("dlq"):
            wanted = wanted[: -len("dlq")]
        queues = self.dead_letter_queues()
        for queue in queues:
            if _normalised(queue.name) == wanted:
                return queue
        known = ", ".join(kebab_name(q.name) for q in queues) or "none"
        raise ResourcesError(f"no dead-letter queue {name!r} (known: {known})")

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's region and endpoint (one per service)."""
        if service not in self.clients:
            import boto3

            credentials: dict[str, Any] = {}
            if self.local:
                from herald_tools.local.emulator import FAKE_CREDENTIALS

                credentials = {
                    "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                }
            # Any: the service is chosen at run time, which boto3's per-service typed overloads cannot express.
            session: Any = boto3.session.Session(region_name=self.region, **credentials)
            self.clients[service] = session.client(service, endpoint_url=self.endpoint_url)
        return self.clients[service]

    # --- finding them -----------------------------------------------------------------------

    @classmethod
    def from_stack(
        cls, stack: str, *, region: str | None = None, endpoint_url: str | None = None, cloudformation: Any = None
    ) -> StackResources:
        """The outputs of a deployed stack (one DescribeStacks call)."""
        from botocore.exceptions import BotoCoreError, ClientError

        resources = cls(outputs={}, region=region, endpoint_url=endpoint_url, stack=stack)
        client = cloudformation or resources.client("cloudformation")
        try:
            (description,) = client.describe_stacks(StackName=stack)["Stacks"]
        except (ClientError, BotoCoreError) as error:
            raise ResourcesError(f"cannot read stack {stack}: {error}") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
        return cls(outputs=outputs, region=region, endpoint_url=endpoint_url, stack=stack, clients=resources.clients)

    @classmethod
    def from_local(cls, path: Path = LOCAL_STATE_FILE) -> StackResources:
        """The local runtime that `herald local up` started (its state file)."""
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResourcesError(f"{path} not found: start the local runtime with `herald local up`") from None
        except (OSError, ValueError) as error:
            raise ResourcesError(f"cannot read {path}: {error}") from None
        return cls(
            outputs=dict(state["outputs"]),
            region=state.get("region"),
            endpoint_url=state["endpoint_url"],
            stack=state.get("stack"),
            local=True,
        )


def resolve(stack: str | None, local: bool | None, *, region: str | None = None) -> StackResources:
    """`--stack NAME` or `--local`; with neither, the local runtime when its state file exists."""
    if stack and local:
        raise ResourcesError("give either --stack or --local, not both")
    if stack:
        return StackResources.from_stack(stack, region=region)
    if local or LOCAL_STATE_FILE.exists():
        return StackResources.from_local()
    raise ResourcesError(
        "say which Herald: --stack NAME (a deployed stack) or --local (after `herald local up` in this folder)"
    )


def write_local_state(path: Path, *, endpoint_url: str, region: str, stack: str, outputs: dict[str, str]) -> None:
    """The file `--local` reads: the emulator's endpoint, region and the stack's outputs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"endpoint_url": endpoint_url, "region": region, "stack": stack, "outputs": outputs}
    # Written whole, then renamed: a script that waits for the file to exist never reads half of it.
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def kebab_name(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
