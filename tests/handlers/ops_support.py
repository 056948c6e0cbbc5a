"""What the operator-tool tests share: a CloudFormation stack in moto whose outputs name the test queues."""

from __future__ import annotations

import json
import re
from typing import Any

from typer.testing import CliRunner

from herald_tools.cli import app

from .conftest import REGION, TABLE, Env

STACK = "herald-ops-test"
_PREFIXES = {"order-events": "OrderEvents", "shipment-events": "ShipmentEvents", "email": "Email", "sms": "Sms"}


def deploy_outputs_stack(env: Env) -> None:
    """A stack with Herald's output names pointing at the fixture's table and queues (`--stack` reads them)."""
    import boto3

    outputs: dict[str, Any] = {"NotificationsTableName": {"Value": TABLE}}
    for queue, prefix in _PREFIXES.items():
        outputs[f"{prefix}QueueUrl"] = {"Value": env.queues[queue]}
        outputs[f"{prefix}DLQUrl"] = {"Value": env.queues[f"{queue}-dlq"]}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        # CloudFormation needs one resource; the outputs are what the commands read.
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "ops-placeholder"}}},
        "Outputs": outputs,
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def herald(*args: str) -> Any:
    """Run `herald ARGS --stack herald-ops-test` in-process; the result has exit_code, stdout and stderr."""
    return CliRunner().invoke(app, [*args, "--stack", STACK, "--region", REGION], catch_exceptions=False)


def plain_text(output: str) -> str:
    """The output with Rich's table borders and wrapping flattened, for substring checks."""
    return re.sub(r"[\s│┃║|─━┏┓┗┛┡┩└┘┌┐╇╈┼┬┴├┤]+", " ", output)
