"""Deploy a SAM template into the embedded emulator and read its topology back from it.

template.yaml is the one description of the topology: this module translates it with samtranslator
(offline), uploads each local CodeUri folder as a zip to S3 in moto, lets moto's CloudFormation create
the resources, and then reads the functions' configuration and event source mappings back *from the
emulator* - so the local pollers run with the batch sizes, windows and environment that CloudFormation
resolved, not with a second copy kept here.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import time
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from herald_tools.local.emulator import LocalAws

logger = logging.getLogger(__name__)

# Where local CodeUri folders are uploaded, as `sam package` would put them in its artifact bucket.
CODE_BUCKET = "herald-local-code"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
# Folders and files that never belong in a function's deployment package.
_EXCLUDED_FROM_ZIP = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".git", ".aws-sam"}
_STACK_POLL_SECONDS = 0.2


SKIPPED_LOCALLY = ("AWS::CloudWatch::Alarm", "AWS::SQS::QueuePolicy")
"""Resource types of template.yaml that moto's CloudFormation does not create (they only matter deployed)."""


class _SkippedResourceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No Moto CloudFormation support")


class DeployError(RuntimeError):
    """The template could not be deployed into the emulator (the message names the resource and why)."""


@dataclass(frozen=True)
class EventSource:
    """One SQS event source mapping, as Lambda's poller would run it."""

    queue_arn: str
    queue_url: str
    batch_size: int
    max_concurrency: int | None
    batching_window_seconds: int
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class LocalFunction:
    """A deployed function: what a local sandbox needs to run its handler against its queues."""

    logical_id: str
    name: str
    handler: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    event_sources: tuple[EventSource, ...]
    # The local folder its CodeUri named (the sandbox's task root), when it was a local path.
    code_dir: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LocalFunction:
        data = json.loads(text)
        sources = tuple(EventSource(**source) for source in data.pop("event_sources"))
        return cls(**data, event_sources=sources)


@dataclass(frozen=True)
class LocalStack:
    """What the deployed stack holds, as read back from the emulator."""

    name: str
    outputs: dict[str, str]
    functions: tuple[LocalFunction, ...]
    queues: dict[str, str]  # logical id -> url
    # Logical ids of the queues that another queue's RedrivePolicy names as its dead-letter target.
    dead_letter_queues: frozenset[str] = field(default_factory=frozenset)
    # The CloudFormation the SAM template was translated to: read by the local HTTP API for its routes,
    # so a runtime translates its template once.
    translated: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def queue_url(self, logical_id: str) -> str:
        try:
            return self.queues[logical_id]
        except KeyError:
            known = ", ".join(sorted(self.queues)) or "none"
            raise KeyError(f"stack {self.name} has no queue {logical_id!r} (queues: {known})") from None

    def function(self, logical_id: str) -> LocalFunction:
        for function in self.functions:
            if function.logical_id == logical_id:
                return function
        known = ", ".join(f.logical_id for f in self.functions) or "none"
        raise KeyError(f"stack {self.name} has no function {logical_id!r} (functions: {known})")


# --- reading the template -------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short-form intrinsic tags (!Ref, !GetAtt, !Sub...)."""


# CloudFormation dates (AWSTemplateFormatVersion: 2010-09-09) are strings, not datetime.date.
_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # The short form "Resource.Attribute" splits at the first dot (attributes may contain dots).
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """Read a CloudFormation/SAM template (YAML or JSON) into plain Python data."""
    with path.open(encoding="utf-8") as stream:
        data = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise DeployError(f"{path} is not a CloudFormation template (no Resources section)")
    return data


def _is_local_code_uri(code_uri: Any) -> bool:
    return isinstance(code_uri, str) and not code_uri.startswith("s3://")


def code_key(code_dir: Path) -> str:
    """The S3 key a local code folder is uploaded under: stable for one folder, distinct across folders."""
    digest = hashlib.sha256(str(code_dir.resolve()).encode()).hexdigest()[:12]
    return f"code/{code_dir.resolve().name or 'root'}-{digest}.zip"


def local_code_dirs(template: Mapping[str, Any], base_dir: Path) -> dict[str, Path]:
    """Each serverless function's local CodeUri folder (its own or the Globals one), by logical id."""
    global_uri = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    dirs: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        properties = resource.get("Properties") or {}
        if "InlineCode" in properties or "ImageUri" in properties:
            continue
        code_uri = properties.get("CodeUri", global_uri)
        if code_uri is None:
            # SAM's default CodeUri is the template's own folder.
            code_uri = "."
        if _is_local_code_uri(code_uri):
            dirs[logical_id] = (base_dir / code_uri).resolve()
    return dirs


def _with_s3_code_uris(template: dict[str, Any], code_dirs: Mapping[str, Path]) -> dict[str, Any]:
    """The template with each local CodeUri replaced by its S3 location (what `sam package` does)."""
    packaged = copy.deepcopy(template)
    function_globals = packaged.get("Globals", {}).get("Function", {})
    if _is_local_code_uri(function_globals.get("CodeUri")):
        # Every function gets its own S3 CodeUri below; a local path left in Globals would not translate.
        del function_globals["CodeUri"]
    for logical_id, code_dir in code_dirs.items():
        packaged["Resources"][logical_id].setdefault("Properties", {})["CodeUri"] = (
            f"s3://{CODE_BUCKET}/{code_key(code_dir)}"
        )
    return packaged


class _OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which would ask IAM for every managed policy.

    samtranslator resolves policy names from the map it bundles first; names it does not know are left
    as they are, which the emulator accepts.
    """

    def load(self) -> dict[str, str]:
        return {}


def translate_template(path: Path, parameters: Mapping[str, str] = {}, *, region: str = "us-east-1") -> dict[str, Any]:
    """Translate a SAM template into plain CloudFormation, offline.

    Local CodeUri folders become `s3://CODE_BUCKET/code_key(folder)`; `deploy` uploads them there.
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    template = load_template(path)
    packaged = _with_s3_code_uris(template, local_code_dirs(template, path.parent))
    values = dict(parameters)
    # samtranslator asks boto3 for the region (pseudo parameters, partition) unless told: tell it, so
    # that translating needs no AWS configuration. A Session with a region makes no request.
    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    session = boto3.session.Session(region_name=region)
    loader = _OfflinePolicyLoader()
    # What samtranslator.translator.transform.transform does, with our session instead of a default one.
    to_py27_compatible_template(packaged, values)
    try:
        translated = Translator(None, Parser(), boto_session=session).translate(
            packaged, parameter_values=values, get_managed_policy_map=loader.load
        )
    except Exception as error:
        # samtranslator's InvalidDocumentException carries one cause per problem, each naming its resource.
        causes = getattr(error, "causes", None) or [error]
        reasons = "; ".join(str(getattr(cause, "message", cause)) for cause in causes)
        raise DeployError(f"cannot translate {path}: {reasons}") from error
    translated = undo_mark_unicode_str_in_template(translated)
    return translated


# --- deploying ------------------------------------------------------------------------------------


def zip_folder(folder: Path) -> bytes:
    """A deployment package of `folder`: every file, paths relative to it, caches left out."""
    if not folder.is_dir():
        raise DeployError(f"CodeUri folder {folder} does not exist")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_FROM_ZIP and not d.endswith(".egg-info"))
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                file_path = Path(root) / name
                archive.write(file_path, file_path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _upload_code(aws: LocalAws, code_dirs: Iterable[Path]) -> None:
    s3 = aws.client("s3")
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if CODE_BUCKET not in existing:
        s3.create_bucket(Bucket=CODE_BUCKET)
    for code_dir in sorted(set(code_dirs)):
        s3.put_object(Bucket=CODE_BUCKET, Key=code_key(code_dir), Body=zip_folder(code_dir))


# (logical id, type, error) of every resource moto's CloudFormation failed to create, in order.
_resource_failures: list[tuple[str, str, str]] = []


def _record_resource_failures() -> None:
    """Make moto's CloudFormation remember which resource failed and why.

    moto creates a stack's resources inside the CreateStack request and, when one fails, answers with
    the error alone: no stack event, no resource name. The server runs in this process, so wrapping its
    resource factory (once) recovers the name for the error message.
    """
    from moto.cloudformation import parsing

    original = parsing.parse_and_create_resource
    if getattr(original, "_herald_records_failures", False):
        return

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original(logical_id, resource_json, *args, **kwargs)
        except Exception as error:
            # Nested resources (a Ref to one not yet created) fail inside their referrer: keep the innermost.
            if not getattr(error, "_herald_recorded", False):
                _resource_failures.append((logical_id, str(resource_json.get("Type")), _describe(error)))
                error._herald_recorded = True  # type: ignore[attr-defined]
            raise

    parse_and_create_resource._herald_records_failures = True  # type: ignore[attr-defined]
    parsing.parse_and_create_resource = parse_and_create_resource


def _describe(error: Exception) -> str:
    # moto's RESTError keeps the AWS error code and message in attributes; str() is only "400: Bad Request".
    code = getattr(error, "error_type", None)
    message = getattr(error, "message", None) or getattr(error, "description", None) or str(error)
    return f"{code}: {message}" if code else f"{type(error).__name__}: {message}"


def _wait_for_stack(cloudformation: Any, stack_name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            if status != "CREATE_COMPLETE":
                raise DeployError(f"stack {stack_name} ended {status}: {_failure_reasons(cloudformation, stack_name)}")
            return stack
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack_name} still {status} after {timeout:.0f}s")
        time.sleep(_STACK_POLL_SECONDS)


def _failure_reasons(cloudformation: Any, stack_name: str) -> str:
    events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = [
        f"{event['LogicalResourceId']} ({event.get('ResourceType')}): {event.get('ResourceStatusReason')}"
        for event in events
        if event.get("ResourceStatus", "").endswith("FAILED") and event["LogicalResourceId"] != stack_name
    ]
    return "; ".join(failed) or "no resource reported a failure"


def deploy(
    aws: LocalAws,
    template: Path,
    *,
    parameters: Mapping[str, str] = {},
    stack_name: str = "herald-local",
    timeout: float = 60.0,
) -> LocalStack:
    """Create `template`'s resources in the emulator and return the stack as the emulator sees it."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    template = template.resolve()
    translated = translate_template(template, parameters, region=aws.region)
    code_dirs = local_code_dirs(load_template(template), template.parent)
    _upload_code(aws, code_dirs.values())

    cloudformation = aws.client("cloudformation")
    # moto warns, from its server threads and besides logging it, about each resource type it skips
    # (alarms, queue policies): its log line is enough, the warning's traceback line is noise.
    warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto", category=UserWarning)
    # ...and logs one line per skipped resource; the types it skips are listed once in SKIPPED_LOCALLY instead.
    moto_logger = logging.getLogger("moto")
    if not any(isinstance(f, _SkippedResourceFilter) for f in moto_logger.filters):
        moto_logger.addFilter(_SkippedResourceFilter())
    _record_resource_failures()
    failures_before = len(_resource_failures)
    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(translated),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        # moto creates the resources inside the CreateStack call: a resource it rejects fails the call
        # (with a JSON error body botocore cannot parse as CloudFormation's XML, hence ResponseParserError).
        failed = _resource_failures[failures_before:]
        where = f"{failed[0][0]} ({failed[0][1]}): {failed[0][2]}" if failed else str(error)
        raise DeployError(f"stack {stack_name}: CREATE_FAILED at {where}") from error
    stack = _wait_for_stack(cloudformation, stack_name, timeout)
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    resources = _stack_resources(cloudformation, stack_name)
    queues, queue_arns, dead_letter_queues = _read_queues(aws, resources)
    functions = _read_functions(aws, resources, translated, queue_arns, code_dirs)
    return LocalStack(
        name=stack_name,
        outputs=outputs,
        functions=functions,
        queues=queues,
        dead_letter_queues=dead_letter_queues,
        translated=translated,
    )


def _stack_resources(cloudformation: Any, stack_name: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        resources.extend(page["StackResourceSummaries"])
    return resources


def _read_queues(
    aws: LocalAws, resources: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, tuple[str, str]], frozenset[str]]:
    """Queue urls by logical id, (logical id, url) by queue ARN, and which queues are dead-letter targets."""
    sqs = aws.client("sqs")
    queues: dict[str, str] = {}
    by_arn: dict[str, tuple[str, str]] = {}
    redrive_targets: set[str] = set()
    for resource in resources:
        if resource["ResourceType"] != "AWS::SQS::Queue":
            continue
        physical = resource["PhysicalResourceId"]
        url = physical if physical.startswith("http") else sqs.get_queue_url(QueueName=physical)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])
        attributes = attributes["Attributes"]
        queues[resource["LogicalResourceId"]] = url
        by_arn[attributes["QueueArn"]] = (resource["LogicalResourceId"], url)
        if "RedrivePolicy" in attributes:
            redrive_targets.add(json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"])
    dead_letter_queues = frozenset(by_arn[arn][0] for arn in redrive_targets if arn in by_arn)
    return queues, by_arn, dead_letter_queues


def _read_functions(
    aws: LocalAws,
    resources: list[dict[str, Any]],
    translated: Mapping[str, Any],
    queue_arns: Mapping[str, tuple[str, str]],
    code_dirs: Mapping[str, Path],
) -> tuple[LocalFunction, ...]:
    lambda_client = aws.client("lambda")
    functions = []
    for resource in sorted(resources, key=lambda r: r["LogicalResourceId"]):
        if resource["ResourceType"] != "AWS::Lambda::Function":
            continue
        logical_id = resource["LogicalResourceId"]
        config = lambda_client.get_function_configuration(FunctionName=resource["PhysicalResourceId"])
        mappings = []
        for page in lambda_client.get_paginator("list_event_source_mappings").paginate(
            FunctionName=config["FunctionName"]
        ):
            mappings.extend(page["EventSourceMappings"])
        sources = []
        for mapping in mappings:
            source = event_source_from_mapping(mapping, logical_id, translated, queue_arns)
            if source is not None:
                sources.append(source)
            # moto's SQS would otherwise "invoke" the function itself on every SendMessage (through
            # Docker, or a canned reply that deletes the messages). Our pollers are the only consumers.
            lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        code_dir = code_dirs.get(logical_id)
        functions.append(
            LocalFunction(
                logical_id=logical_id,
                name=config["FunctionName"],
                handler=config["Handler"],
                timeout=int(config.get("Timeout", 3)),
                memory_mb=int(config.get("MemorySize", 128)),
                environment={
                    name: _env_value(value)
                    for name, value in config.get("Environment", {}).get("Variables", {}).items()
                },
                event_sources=tuple(sources),
                code_dir=str(code_dir) if code_dir else None,
            )
        )
    return tuple(functions)


def _env_value(value: Any) -> str:
    # Lambda's variables are strings; moto hands back a Number parameter as a number (and true as True).
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def event_source_from_mapping(
    mapping: Mapping[str, Any],
    function_logical_id: str,
    translated: Mapping[str, Any],
    queue_arns: Mapping[str, tuple[str, str]],
) -> EventSource | None:
    """The EventSource of one ListEventSourceMappings entry (None for a source the runtime cannot poll)."""
    arn = mapping["EventSourceArn"]
    if arn.split(":")[2] != "sqs":
        logger.warning("%s: event source %s is not SQS; the local runtime does not poll it", function_logical_id, arn)
        return None
    if arn not in queue_arns:
        logger.warning("%s: queue %s is not part of the stack; not polled", function_logical_id, arn)
        return None
    queue_logical_id, url = queue_arns[arn]
    # moto (5.x) keeps every property CloudFormation gave the mapping, but older or future versions may
    # drop some (ScalingConfig and FunctionResponseTypes were added late): what the emulator does not
    # return is taken from the translated template's AWS::Lambda::EventSourceMapping instead.
    declared = translated_mapping_properties(translated, function_logical_id, queue_logical_id)

    def setting(name: str, default: Any) -> Any:
        if mapping.get(name) is not None:
            return mapping[name]
        if declared.get(name) is not None:
            logger.info("%s: %s not returned by the emulator; using the template's", function_logical_id, name)
            return declared[name]
        return default

    scaling = setting("ScalingConfig", {}) or {}
    enabled = mapping["State"] in ("Enabled", "Enabling") if "State" in mapping else bool(declared.get("Enabled", True))
    return EventSource(
        queue_arn=arn,
        queue_url=url,
        batch_size=int(setting("BatchSize", 10)),
        max_concurrency=int(scaling["MaximumConcurrency"]) if scaling.get("MaximumConcurrency") else None,
        batching_window_seconds=int(setting("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in (setting("FunctionResponseTypes", []) or []),
        enabled=enabled,
    )


def translated_mapping_properties(
    translated: Mapping[str, Any], function_logical_id: str, queue_logical_id: str
) -> dict[str, Any]:
    """The properties of the template's event source mapping from `queue_logical_id` to the function."""
    for resource in translated.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource.get("Properties", {})
        if _refers_to(properties.get("FunctionName"), function_logical_id) and _refers_to(
            properties.get("EventSourceArn"), queue_logical_id
        ):
            return dict(properties)
    return {}


def _refers_to(value: Any, logical_id: str) -> bool:
    """True when an intrinsic (Ref or GetAtt) points at `logical_id`."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and get_att[0] == logical_id:
            return True
        if isinstance(get_att, str) and get_att.split(".", 1)[0] == logical_id:
            return True
    return False
