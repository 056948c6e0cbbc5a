"""The template's IAM policies, alarms and dashboard, evaluated as AWS would read them.

The local runtime deploys template.yaml into moto, which does not enforce IAM: these tests are what keeps the
policies honest. They resolve the template's intrinsics (Ref, Sub, Join, Split, Select, If) for a given set of
parameters and ask a small IAM evaluator whether a request would be allowed.

The evaluator is written here on purpose: moto's (moto.iam.access_control) treats a failed condition of an
Allow statement as a Deny and knows only StringEquals, so it cannot judge dynamodb:LeadingKeys. This one does
what the IAM policy evaluation logic documents for identity policies: an explicit Deny wins, else some Allow
must match action, resource and every condition.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from tests.template import REPO, load_template

FUNCTIONS_SRC = REPO / "functions" / "herald"

PARTITION, REGION, ACCOUNT, STACK = "aws", "eu-west-1", "111122223333", "herald-prod"
STACK_UUID = "0f1e2d3c-4b5a-6978-8899-aabbccddeeff"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/{STACK_UUID}"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/NotificationsTable"
SES = f"arn:aws:ses:{REGION}:{ACCOUNT}"
SSM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret"
FUNCTIONS = (
    "DispatchFunction",
    "SendEmailFunction",
    "SendSmsFunction",
    "WebhooksFunction",
    "TimelineFunction",
    "FollowupFunction",
    "IntakeFunction",
    "ShopifyEventsFunction",
    "LateDeliveryFunction",
    "OrderPageFunction",
    "OutboundWebhooksFunction",
)
_NO_VALUE = object()


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template()


# --- resolving intrinsics ----------------------------------------------------------------------------


class Resolver:
    """Evaluates the template's intrinsic functions for one set of parameter values."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str] = {}) -> None:
        self.template = template
        self.values: dict[str, Any] = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::StackId": STACK_ID,
            "AWS::URLSuffix": "amazonaws.com",
        }
        for name, declared in template["Parameters"].items():
            value = parameters.get(name, declared.get("Default", ""))
            if declared["Type"] == "CommaDelimitedList":
                value = [] if value == "" else (value if isinstance(value, list) else str(value).split(","))
            self.values[name] = value

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        assert name in self.template["Resources"], name
        return f"{name}-id"  # a resource's physical id

    def get_att(self, resource: str, attribute: str) -> str:
        assert resource in self.template["Resources"], resource
        kind = self.template["Resources"][resource]["Type"]
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return TABLE_ARN
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{resource}" if attribute == "Arn" else resource
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{resource}-name"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{resource}"
        raise AssertionError(f"no stand-in for {resource}.{attribute}")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self.sub(text, variables)
            if key == "Fn::Join":
                return self.resolve(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::Split":
                return self.resolve(arg[1]).split(self.resolve(arg[0]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}


def statements(template: Mapping[str, Any], function: str, **parameters: str) -> list[dict[str, Any]]:
    resolver = Resolver(template, parameters)
    found: list[dict[str, Any]] = []
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        found.extend(resolver.resolve(policy)["Statement"])
    return found


# --- evaluating ----------------------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, list[str]]) -> bool:
    for operator, keys in conditions.items():
        for key, patterns in keys.items():
            values = context.get(key, [])
            patterns = _listed(patterns)
            if operator == "ForAllValues:StringLike":
                ok = all(any(_like(p, v) for p in patterns) for v in values)
            elif operator == "StringLike":
                ok = bool(values) and all(any(_like(p, v) for p in patterns) for v in values)
            elif operator == "StringEquals":
                ok = bool(values) and all(v in patterns for v in values)
            else:
                raise AssertionError(f"the evaluator does not know {operator}: teach it before using it")
            if not ok:
                return False
    return True


def _matches(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, list[str]]) -> bool:
    return (
        any(_like(a, action, case_sensitive=False) for a in _listed(statement["Action"]))
        and any(_like(r, resource) for r in _listed(statement["Resource"]))
        and _conditions_hold(statement.get("Condition", {}), context)
    )


def allowed(
    policy: list[dict[str, Any]], action: str, resource: str, context: Mapping[str, list[str]] | None = None
) -> bool:
    context = context or {}
    if any(s["Effect"] == "Deny" and _matches(s, action, resource, context) for s in policy):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, action, resource, context) for s in policy)


def keyed(policy: list[dict[str, Any]], action: str, pk: str) -> bool:
    """Whether `action` on the notifications table is allowed for an item whose partition key is `pk`."""
    return allowed(policy, f"dynamodb:{action}", TABLE_ARN, {"dynamodb:LeadingKeys": [pk]})


def test_evaluator_denies_what_no_statement_allows_and_lets_a_deny_win() -> None:
    # Given a policy that allows s3:GetObject on a bucket's objects but denies one prefix
    policy = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/secret/*"},
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": "t",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["A#*"]}},
        },
    ]
    # Then the evaluator follows IAM: allowed, implicitly denied, explicitly denied, conditions applied
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::b/x")
    assert not allowed(policy, "s3:PutObject", "arn:aws:s3:::b/x")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::b/secret/x")
    assert allowed(policy, "dynamodb:GetItem", "t", {"dynamodb:LeadingKeys": ["A#1"]})
    assert not allowed(policy, "dynamodb:GetItem", "t", {"dynamodb:LeadingKeys": ["B#1"]})


# --- SNS ------------------------------------------------------------------------------------------------


def test_send_sms_may_text_a_phone_number_but_publish_to_no_topic_or_endpoint(template: dict[str, Any]) -> None:
    # Given send-sms's policy
    policy = statements(template, "SendSmsFunction")
    # When SNS authorises a Publish straight to a phone number (no resource ARN: IAM evaluates "*")
    # Then it is allowed
    assert allowed(policy, "sns:Publish", "*")
    # And a Publish to any topic or platform endpoint, of this account or another, is refused
    for arn in (
        f"arn:aws:sns:{REGION}:{ACCOUNT}:orders-topic",
        "arn:aws:sns:us-east-1:999999999999:someone-elses-topic",
        f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/APNS/app/0f1e2d3c",
    ):
        assert not allowed(policy, "sns:Publish", arn), arn
    # And no other function may publish at all
    for function in set(FUNCTIONS) - {"SendSmsFunction"}:
        assert not allowed(statements(template, function), "sns:Publish", "*"), function


# --- SES ------------------------------------------------------------------------------------------------


def test_send_email_sends_through_ses_only_as_email_from_its_domain_and_the_listed_identities(
    template: dict[str, Any],
) -> None:
    # Given two storefronts' SES identities listed by the operator (a domain and an address)
    policy = statements(
        template,
        "SendEmailFunction",
        EmailFrom="orders@herald.example",
        SesIdentities="shop-a.example,orders@shop-b.example",
    )
    # Then SES may send as each of them, and as EmailFrom and its domain
    for identity in ("shop-a.example", "orders@shop-b.example", "herald.example", "orders@herald.example"):
        assert allowed(policy, "ses:SendEmail", f"{SES}:identity/{identity}"), identity
    # And as no other identity of the account
    for identity in ("shop-c.example", "ceo@shop-a.example.evil", "orders@shop-b.example.evil"):
        assert not allowed(policy, "ses:SendEmail", f"{SES}:identity/{identity}"), identity
    # And raw v1 sends are not granted at all (the adapter uses SES v2 SendEmail)
    assert not allowed(policy, "ses:SendRawEmail", f"{SES}:identity/shop-a.example")


def test_every_join_and_split_delimiter_is_a_literal(template: dict[str, Any]) -> None:
    # CloudFormation accepts no function in a Fn::Join or Fn::Split delimiter (and moto's stack fails on one)
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("Fn::Join", "Fn::Split"):
                    assert isinstance(value[0], str), {key: value}
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(template["Resources"])


def test_without_listed_identities_ses_sends_only_as_email_from_and_through_the_configuration_set(
    template: dict[str, Any],
) -> None:
    # Given no SesIdentities (the default) and a configuration set
    policy = statements(template, "SendEmailFunction", EmailFrom="orders@acme.example", SesConfigurationSet="herald")
    # Then only EmailFrom's address and domain are sendable identities
    assert allowed(policy, "ses:SendEmail", f"{SES}:identity/acme.example")
    assert not allowed(policy, "ses:SendEmail", f"{SES}:identity/other.example")
    assert not allowed(policy, "ses:SendEmail", f"{SES}:identity/")
    # And the send may name that configuration set, and no other
    assert allowed(policy, "ses:SendEmail", f"{SES}:configuration-set/herald")
    assert not allowed(policy, "ses:SendEmail", f"{SES}:configuration-set/other")


# --- DynamoDB ---------------------------------------------------------------------------------------------

# What each function's adapters read and write on the table, by partition-key prefix: read from the code by
# test_each_functions_code_makes_exactly_the_table_calls_listed_here, and granted exactly by the template.
KEY_ACCESS: dict[str, dict[str, set[str]]] = {
    # ledger: events, notifications, rejections, shipment states; suppressions read in one BatchGetItem
    # and the intake's links, with the reports parked for them released
    "DispatchFunction": {
        "PutItem": {"ORDER", "REJECTED", "LINK", "PAGE"},
        "UpdateItem": {"ORDER", "SHIPMENT"},
        "BatchGetItem": {"SUPPRESS"},
        "Query": {"PARKED"},
        "DeleteItem": {"PARKED"},
    },
    # claim and mark notifications; the provider circuit; send-sms records Twilio's 21610 as a suppression
    "SendEmailFunction": {"UpdateItem": {"ORDER", "CIRCUIT"}, "GetItem": {"CIRCUIT"}},
    "SendSmsFunction": {
        "UpdateItem": {"ORDER", "CIRCUIT", "OPTOUT_NOTICE"},
        "GetItem": {"CIRCUIT"},
        "PutItem": {"SUPPRESS"},
    },
    # delivery status, replay guard, inbound messages, suppressions (STOP writes, START deletes)
    "WebhooksFunction": {
        "GetItem": {"ORDER", "WEBHOOK"},
        "UpdateItem": {"ORDER", "INBOUND", "SUPPRESS"},
        "PutItem": {"WEBHOOK", "INBOUND", "SUPPRESS"},
        "DeleteItem": {"SUPPRESS"},
    },
    "FollowupFunction": {
        "Query": {"ORDER"},
        "UpdateItem": {"ORDER"},
        "PutItem": {"ORDER"},
        "BatchGetItem": {"SUPPRESS"},
    },
    # an order's items and the platform reports ignored for it
    "TimelineFunction": {"Query": {"ORDER", "IGNORED"}},
    # the intake: links read, early reports parked, unreadable payloads recorded as rejected, ignored ones as ignored
    "IntakeFunction": {"GetItem": {"LINK"}, "PutItem": {"PARKED", "REJECTED", "IGNORED"}},
    "ShopifyEventsFunction": {"GetItem": {"LINK"}, "PutItem": {"PARKED", "REJECTED", "IGNORED"}},
    # the late-delivery checks: a shipment's last notice and the blocks its last event carried
    "LateDeliveryFunction": {"GetItem": {"SHIPMENT", "LINK"}},
    # the order page: the order a token opens, the order's steps, the customer's answers beside them
    # and, for a return it starts, the intake's record of the order (whom to confirm it to)
    "OrderPageFunction": {"GetItem": {"PAGE", "LINK"}, "Query": {"ORDER"}, "PutItem": {"ORDER"}},
    # the outbound webhooks: each attempt on the order's timeline (OUTBOUND#<event id> under the order's pk)
    "OutboundWebhooksFunction": {"GetItem": {"ORDER"}, "UpdateItem": {"ORDER"}},
}
ALL_PREFIXES = {
    "ORDER",
    "SHIPMENT",
    "REJECTED",
    "SUPPRESS",
    "CIRCUIT",
    "WEBHOOK",
    "INBOUND",
    "OPTOUT_NOTICE",
    "LINK",
    "PAGE",
    "PARKED",
    "IGNORED",
}
TABLE_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem", "Scan")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_reaches_only_its_own_key_prefixes_with_only_its_own_actions(
    template: dict[str, Any], function: str
) -> None:
    # Given the function's policy
    policy = statements(template, function)
    for action in TABLE_ACTIONS:
        for prefix in ALL_PREFIXES:
            # When it asks for an item under each prefix with each table action
            expected = prefix in KEY_ACCESS[function].get(action, set())
            # Then only the prefixes its adapters use are allowed, each with the actions they use
            assert keyed(policy, action, f"{prefix}#storefront/acme#1") == expected, (function, action, prefix)
    # And every table statement is bounded by key prefix (no statement grants the whole table)
    for statement in policy:
        if statement["Effect"] == "Allow" and TABLE_ARN in _listed(statement["Resource"]):
            assert "dynamodb:LeadingKeys" in json.dumps(statement.get("Condition", {})), statement


def test_only_webhooks_queries_the_provider_message_index_and_nobody_batch_writes(template: dict[str, Any]) -> None:
    index = f"{TABLE_ARN}/index/by_provider_message_id"
    for function in FUNCTIONS:
        policy = statements(template, function)
        # Then the index (keyed by the provider's message id: no prefix to bound) is the webhooks' alone
        assert allowed(policy, "dynamodb:Query", index) == (function == "WebhooksFunction"), function
        # And no function may write to it, nor BatchWriteItem anywhere (no code does: dispatch's grant was unused)
        assert not allowed(policy, "dynamodb:PutItem", index)
        assert not keyed(policy, "BatchWriteItem", "ORDER#storefront/acme#1"), function


_BOTO3_OPERATIONS = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_get_item": "dynamodb:BatchGetItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "transact_write_items": "dynamodb:TransactWriteItems",
    "send_message": "sqs:SendMessage",
    # SQS authorises SendMessageBatch with sqs:SendMessage
    "send_message_batch": "sqs:SendMessage",
    "change_message_visibility": "sqs:ChangeMessageVisibility",
    "send_email": "ses:SendEmail",
    "publish": "sns:Publish",
    "create_schedule": "scheduler:CreateSchedule",
    "put_events": "events:PutEvents",
    "get_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    # Powertools parameters' providers make these calls for the code (secrets, the storefront registry)
    "SecretsProvider": "secretsmanager:GetSecretValue",
}


def _code_operations() -> set[str]:
    """The IAM actions of every boto3 call (attribute access by operation name) in the Lambda code."""
    found: set[str] = set()
    for path in FUNCTIONS_SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in _BOTO3_OPERATIONS:
                found.add(_BOTO3_OPERATIONS[name])
    return found


def test_every_granted_aws_action_is_one_the_lambda_code_makes(template: dict[str, Any]) -> None:
    # Given every action the functions' policies allow, and the operations the code in functions/herald calls
    granted = {
        action
        for function in FUNCTIONS
        for statement in statements(template, function)
        if statement["Effect"] == "Allow"
        for action in _listed(statement["Action"])
    }
    # Creating a schedule passes Scheduler the role it acts as: IAM checks iam:PassRole on that call.
    made = _code_operations() | ({"iam:PassRole"} if "scheduler:CreateSchedule" in _code_operations() else set())
    # The storefront registry (SSM through Powertools parameters) is read by every function: its adapter
    # lands with the registry; until then its grant is the one action the code does not make yet.
    registry = {"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}
    # Then no grant is left over (a removed call must take its permission with it)
    assert granted - registry <= made, sorted(granted - registry - made)


def _code_key_prefixes() -> set[str]:
    """Partition-key prefixes the DynamoDB adapters write: `*_pk()` helpers and "pk": f"PREFIX#..." entries."""
    prefixes: set[str] = set()
    for path in (FUNCTIONS_SRC / "adapters").glob("dynamodb_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        candidates: list[ast.AST] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_pk"):
                candidates.extend(n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value)
            if isinstance(node, ast.Dict):
                candidates.extend(
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value in ("pk", ":pk")
                )
        for candidate in candidates:
            prefixes |= _string_prefixes(candidate)
    return prefixes


def test_leading_key_prefixes_in_the_template_are_exactly_those_the_adapters_write(template: dict[str, Any]) -> None:
    # Given the prefixes the adapters build partition keys with
    in_code = _code_key_prefixes()
    # And every LeadingKeys pattern of every function
    in_template = {
        pattern.removesuffix("#*")
        for function in FUNCTIONS
        for statement in statements(template, function)
        for pattern in _listed(
            statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", [])
        )
    }
    # Then they agree: a new item family needs its grant (IAM would refuse it deployed, moto never does)
    assert in_code == in_template == ALL_PREFIXES


# --- storefront registry and secrets ----------------------------------------------------------------------


# The late-delivery function reads what dispatch recorded of the shipment: never a storefront's entry.
REGISTRY_READERS = tuple(f for f in FUNCTIONS if f != "LateDeliveryFunction")


def test_the_late_delivery_function_reads_no_registry_entry(template: dict[str, Any]) -> None:
    policy = statements(template, "LateDeliveryFunction")
    assert not allowed(policy, "ssm:GetParametersByPath", f"{SSM}/herald/{STACK}/storefronts")
    assert not allowed(policy, "ssm:GetParameter", f"{SSM}/herald/{STACK}/storefronts/storefront/acme")


@pytest.mark.parametrize("function", REGISTRY_READERS)
def test_every_function_reads_the_storefront_registry_of_its_own_stack_only(
    template: dict[str, Any], function: str
) -> None:
    policy = statements(template, function)
    path = f"{SSM}/herald/{STACK}/storefronts"
    # Then it may list the registry's path and read each entry under it
    assert allowed(policy, "ssm:GetParametersByPath", path)
    assert allowed(policy, "ssm:GetParameter", f"{path}/storefront/acme")
    assert allowed(policy, "ssm:GetParameters", f"{path}/storefront/acme")
    # And no parameter of another stack or outside the registry, and never write one
    assert not allowed(policy, "ssm:GetParameter", f"{SSM}/herald/other-stack/storefronts/storefront/acme")
    assert not allowed(policy, "ssm:GetParameter", f"{SSM}/herald/{STACK}/database-password")
    assert not allowed(policy, "ssm:PutParameter", f"{path}/storefront/acme")


def test_only_the_senders_webhooks_and_intake_read_secrets_and_only_under_the_registry_prefix(
    template: dict[str, Any],
) -> None:
    readers = {
        "SendEmailFunction",
        "SendSmsFunction",
        "WebhooksFunction",
        "IntakeFunction",
        "ShopifyEventsFunction",
        "OutboundWebhooksFunction",
    }
    for function in FUNCTIONS:
        policy = statements(template, function, StorefrontSecretsPrefix="herald/")
        # Then a storefront's provider secret under the prefix is readable by the senders and webhooks alone
        assert allowed(policy, "secretsmanager:GetSecretValue", f"{SECRET}:herald/acme/sendgrid-AbCdEf") == (
            function in readers
        ), function
        # And no secret outside it (another application's)
        assert not allowed(policy, "secretsmanager:GetSecretValue", f"{SECRET}:prod/db-password-AbCdEf"), function


# --- alarms -----------------------------------------------------------------------------------------------

NOTIFY = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def _alarms(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_function_has_an_errors_and_a_throttles_alarm(template: dict[str, Any]) -> None:
    # Given every function of the template (a new one is included without editing this test)
    functions = [n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    assert set(functions) == set(FUNCTIONS)
    watched = {
        (alarm["Dimensions"][0]["Value"]["Ref"], alarm["MetricName"])
        for alarm in _alarms(template).values()
        if alarm.get("Namespace") == "AWS/Lambda" and alarm["Dimensions"][0]["Name"] == "FunctionName"
    }
    # Then each has both alarms, on any error or throttle
    for function in functions:
        for metric in ("Errors", "Throttles"):
            assert (function, metric) in watched, f"{function} has no {metric} alarm"


def test_http_api_has_5xx_and_4xx_rate_alarms_from_parameters(template: dict[str, Any]) -> None:
    alarms = _alarms(template)
    for metric, parameter in (("5xx", "HttpApi5xxRateAlarmPercent"), ("4xx", "HttpApi4xxRateAlarmPercent")):
        (alarm,) = [a for a in alarms.values() if f'"MetricName": "{metric}"' in json.dumps(a)]
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        # Then it alarms on the share of the API's requests that got that status class
        assert queries["errors"]["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "ApiId", "Value": {"Ref": "WebhooksApi"}}
        ]
        assert queries["requests"]["MetricStat"]["Metric"]["MetricName"] == "Count"
        assert "errors / requests" in queries["rate"]["Expression"]
        assert alarm["Threshold"] == {"Ref": parameter}


def test_herald_metrics_alarm_by_name_and_namespace_whatever_their_dimensions(template: dict[str, Any]) -> None:
    # Given the namespace the functions emit to
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    expressions = {
        query["Expression"]
        for alarm in _alarms(template).values()
        for query in alarm.get("Metrics", [])
        if "Expression" in query
    }
    # Then each of these metrics has an alarm summing it over every dimension set
    for metric in ("WebhooksRefused", "ProviderAuthFailures", "ProviderFailovers", "OutboundWebhooksFailed"):
        # A CloudWatch Metrics Insights query expected in the template, not SQL run anywhere.
        assert f"SELECT SUM({metric}) FROM {namespace}" in expressions, metric  # noqa: S608
    # And the metrics the code emits today are named as the alarms name them
    code = "\n".join(p.read_text(encoding="utf-8") for p in FUNCTIONS_SRC.rglob("*.py"))
    for metric in ("WebhooksRefused", "ProviderFailovers", "OutboundWebhooksFailed"):
        assert f'"{metric}"' in code, metric


def test_every_alarm_notifies_the_optional_alarm_topic(template: dict[str, Any]) -> None:
    for name, alarm in _alarms(template).items():
        assert alarm["AlarmActions"] == NOTIFY, name
        assert alarm["OKActions"] == NOTIFY, name
        assert alarm["TreatMissingData"] == "notBreaching", name


# --- dashboard ----------------------------------------------------------------------------------------------


def test_dashboard_body_is_valid_json_after_substitution_and_shows_what_operators_need(
    template: dict[str, Any],
) -> None:
    # Given the dashboard's body, substituted as CloudFormation would
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = Resolver(template).resolve(dashboard["Properties"]["DashboardBody"])
    assert "${" not in body
    # Then it parses as JSON
    widgets = json.loads(body)["widgets"]
    text = json.dumps(widgets)
    # And shows each working queue's depth and oldest age
    for queue in ("OrderEventsQueue", "ShipmentEventsQueue", "EmailQueue", "SmsQueue", "FollowupQueue"):
        assert text.count(f'"QueueName", "{queue}"') == 2, queue
    # And sends by outcome, latency percentiles, failovers and refusals, from metrics the code emits
    code = "\n".join(p.read_text(encoding="utf-8") for p in FUNCTIONS_SRC.rglob("*.py"))
    for metric in (
        "NotificationsSent",
        "NotificationsFailed",
        "NotificationsRetried",
        "EventToProviderLatency",
        "ProviderFailovers",
        "WebhooksRefused",
        "Events{",
    ):
        assert metric in code, metric
    for shown in (
        "NotificationsSent",
        "NotificationsFailed",
        "EventToProviderLatency",
        "'p50'",
        "'p99'",
        "ProviderFailovers",
        "WebhooksRefused",
        "EventsRejected",
    ):
        assert shown in text, shown
    # And every widget stays on the dashboard's 24-column grid
    assert all(w["x"] + w["width"] <= 24 for w in widgets)


# --- what each function's code calls ------------------------------------------------------------------------
#
# A static reading of the Lambda code, one function at a time: from its handler module, follow the top-level
# functions and classes it names (through the modules it imports, outside `if TYPE_CHECKING:`), collect the
# methods it calls by attribute (a use case calls its ports as `self._ledger.claim(...)`), and read, in each
# DynamoDB adapter class it builds, the methods reached: the boto3 operations they make (directly or through
# dynamodb_values' helpers) and the partition-key prefixes they build (`"pk": f"PREFIX#..."` or a `*_pk()`
# helper). Names shared with dict methods (`get`, `items`, ...) are not followed: a port method so named would
# be invisible here (DynamoDbSuppressions.get is called by no function today).

_TABLE_OPERATIONS = {
    "get_item": "GetItem",
    "put_item": "PutItem",
    "update_item": "UpdateItem",
    "delete_item": "DeleteItem",
    "query": "Query",
    "scan": "Scan",
    "batch_get_item": "BatchGetItem",
    "batch_write_item": "BatchWriteItem",
    "transact_write_items": "TransactWriteItems",
}
_CONTAINER_METHODS = {"get", "items", "keys", "values", "pop", "update", "append", "setdefault"}
_PREFIX = re.compile(r"^([A-Z_]+)#")


def _module_path(module: str) -> Path | None:
    base = FUNCTIONS_SRC.parent / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


@cache
def _tree(module: str) -> ast.Module:
    path = _module_path(module)
    assert path is not None, module
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        # Imports for type checking only never run in Lambda.
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            node.body = []
    return tree


def _imported_modules(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen or _module_path(module) is None:
            continue
        seen.add(module)
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("herald"):
                todo.append(node.module)
                todo.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return seen


# domain.keys builds every key from its parts: `key("ORDER", source, order_id)` is "ORDER#...".
_KEY_BUILDERS = {"key", "key_of", "key_prefix"}


def _string_prefixes(node: ast.AST) -> set[str]:
    """The partition-key prefixes a key expression names: "PREFIX#..." text, or a key builder's first part."""
    found = {
        match.group(1)
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
        for match in [_PREFIX.match(part.value)]
        if match
    }
    for part in ast.walk(node):
        if (
            isinstance(part, ast.Call)
            and isinstance(part.func, ast.Name)
            and part.func.id in _KEY_BUILDERS
            and part.args
            and isinstance(part.args[0], ast.Constant)
            and isinstance(part.args[0].value, str)
            and re.fullmatch(r"[A-Z_]+", part.args[0].value)
        ):
            found.add(part.args[0].value)
    return found


@cache
def _key_helpers(module: str) -> dict[str, set[str]]:
    """An adapter module's own functions that build keys (dynamodb_followup's `_key`) -> their prefixes."""
    helpers: dict[str, set[str]] = {}
    for node in _tree(module).body:
        if isinstance(node, ast.FunctionDef) and _own_prefixes(node):
            helpers[node.name] = _own_prefixes(node)
    return helpers


def _own_prefixes(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Dict):
            for key, value in zip(part.keys, part.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in ("pk", ":pk"):
                    found |= _string_prefixes(value)
                    found |= {p for n in ast.walk(value) if isinstance(n, ast.Name) for p in _pk_helper(n.id)}
    return found


def _pk_helper(name: str) -> set[str]:
    if not name.endswith("_pk"):
        return set()
    for path in (FUNCTIONS_SRC / "adapters").glob("dynamodb_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return _string_prefixes(node)
    return set()


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _table_calls(handler_module: str) -> dict[str, set[str]]:
    """{action: partition-key prefixes} of the table calls one function's code makes ("index" for the GSI)."""
    modules = _imported_modules(handler_module)
    definitions: dict[str, list[ast.AST]] = {}
    for module in modules:
        if not module.startswith("herald.adapters"):
            for node in _tree(module).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    definitions.setdefault(node.name, []).append(node)
    todo: list[ast.AST] = [_tree(handler_module)]
    followed: set[str] = set()
    named: set[str] = set()
    methods_called: set[str] = set()
    while todo:
        for node in ast.walk(todo.pop()):
            if isinstance(node, ast.Attribute):
                name = node.attr
                methods_called.add(name)
            elif isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.alias):
                name = node.name.rsplit(".", 1)[-1]
            else:
                continue
            if name in _CONTAINER_METHODS:
                methods_called.discard(name)
                continue
            named.add(name)
            if name in definitions and name not in followed:
                followed.add(name)
                todo.extend(definitions[name])
    values_helpers = {
        n.name: n for n in _tree("herald.adapters.dynamodb_values").body if isinstance(n, ast.FunctionDef)
    }
    calls: dict[str, set[str]] = {}
    for module in sorted(m for m in modules if m.startswith("herald.adapters.dynamodb")):
        for cls in (n for n in _tree(module).body if isinstance(n, ast.ClassDef) and n.name in named):
            methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
            reached = {name for name in methods if name in methods_called and not name.startswith("__")}
            todo_methods = list(reached)
            while todo_methods:
                for name in (_names(methods[todo_methods.pop()]) & set(methods)) - _CONTAINER_METHODS:
                    if name not in reached:
                        reached.add(name)
                        todo_methods.append(name)
            # The key the instance holds (the circuit's self._key) is built in __init__.
            held = _own_prefixes(methods["__init__"]) if "__init__" in methods else set()
            for name in reached:
                method = methods[name]
                used = _names(method)
                operations = {_TABLE_OPERATIONS[n] for n in used if n in _TABLE_OPERATIONS}
                for helper in used & set(values_helpers):
                    operations |= {
                        _TABLE_OPERATIONS[n] for n in _names(values_helpers[helper]) if n in _TABLE_OPERATIONS
                    }
                prefixes = _own_prefixes(method)
                prefixes |= {p for n in (used & set(methods)) - _CONTAINER_METHODS for p in _own_prefixes(methods[n])}
                prefixes |= {p for n in used for p in _key_helpers(module).get(n, set()) | _pk_helper(n)}
                index = any(isinstance(k, ast.keyword) and k.arg == "IndexName" for k in ast.walk(method))
                for operation in operations:
                    if index and operation == "Query":
                        calls.setdefault("Query@index", set())
                    else:
                        calls.setdefault(operation, set()).update(prefixes or held or {"?"})
    return calls


def test_each_functions_code_makes_exactly_the_table_calls_listed_here(template: dict[str, Any]) -> None:
    # Given each function's handler module, as the template names it
    for function in FUNCTIONS:
        handler = template["Resources"][function]["Properties"]["Handler"].rsplit(".", 1)[0]
        # When its code is read for the table calls it can make
        calls = _table_calls(handler)
        # Then they are the actions and key prefixes KEY_ACCESS lists (which the policy grants exactly, above);
        # the webhooks also query the provider-message index (granted without a key condition)
        expected: dict[str, set[str]] = {action: set(p) for action, p in KEY_ACCESS[function].items()}
        if function == "WebhooksFunction":
            expected["Query@index"] = set()
        assert calls == expected, function


# --- late-delivery checks on EventBridge Scheduler ----------------------------------------------------------


def _role_statements(template: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    resolver = Resolver(template)
    found: list[dict[str, Any]] = []
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        found.extend(resolver.resolve(policy)["PolicyDocument"]["Statement"])
    return found


def test_only_dispatch_schedules_late_checks_and_only_in_its_own_stacks_group(template: dict[str, Any]) -> None:
    # Given the schedule group the template names after the stack's id, and another stack's group
    own = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/herald-late-{STACK_UUID}/late-abc"
    other = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/herald-late-00000000-0000-0000-0000-000000000000/x"
    for function in FUNCTIONS:
        policy = statements(template, function)
        # Then dispatch alone may create a schedule, in its own group only
        assert allowed(policy, "scheduler:CreateSchedule", own) == (function == "DispatchFunction"), function
        assert not allowed(policy, "scheduler:CreateSchedule", other)
        assert not allowed(policy, "scheduler:DeleteSchedule", own)
    # And it may hand Scheduler the checks' role, and that role to Scheduler only
    dispatch = statements(template, "DispatchFunction")
    role = f"arn:aws:iam::{ACCOUNT}:role/LateCheckSchedulerRole"
    assert allowed(dispatch, "iam:PassRole", role, {"iam:PassedToService": ["scheduler.amazonaws.com"]})
    assert not allowed(dispatch, "iam:PassRole", role, {"iam:PassedToService": ["lambda.amazonaws.com"]})
    assert not allowed(
        dispatch,
        "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/DispatchFunctionRole",
        {"iam:PassedToService": ["scheduler.amazonaws.com"]},
    )


def test_scheduler_may_only_put_checks_on_their_queue_and_dlq(template: dict[str, Any]) -> None:
    # Given the role Scheduler acts as when a check falls due
    role = template["Resources"]["LateCheckSchedulerRole"]["Properties"]
    policy = _role_statements(template, "LateCheckSchedulerRole")
    # Then only Scheduler, for this account, may assume it
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # And it may send to the checks' queue and DLQ, and nothing else
    sqs = f"arn:aws:sqs:{REGION}:{ACCOUNT}"
    assert allowed(policy, "sqs:SendMessage", f"{sqs}:LateChecksQueue")
    assert allowed(policy, "sqs:SendMessage", f"{sqs}:LateChecksDLQ")
    assert not allowed(policy, "sqs:SendMessage", f"{sqs}:ShipmentEventsQueue")
    assert {a for s in policy for a in _listed(s["Action"])} == {"sqs:SendMessage"}


def test_only_the_order_page_keeps_proof_photos_and_only_under_their_prefix(template: dict[str, Any]) -> None:
    photos = "arn:aws:s3:::ProofPhotosBucket-name"
    for function in FUNCTIONS:
        policy = statements(template, function)
        # Then the order page alone reads and writes the photo copies
        for action in ("s3:GetObject", "s3:PutObject"):
            assert allowed(policy, action, f"{photos}/proof-photos/abc") == (function == "OrderPageFunction")
        # And nobody reaches the bucket's other keys, lists it, or deletes from it
        assert not allowed(policy, "s3:GetObject", f"{photos}/other/abc")
        assert not allowed(policy, "s3:ListBucket", photos)
        assert not allowed(policy, "s3:DeleteObject", f"{photos}/proof-photos/abc")


# --- outbound webhooks ----------------------------------------------------------------------------------------


def test_only_the_outbound_webhooks_put_events_and_only_as_source_herald(template: dict[str, Any]) -> None:
    # Given a storefront's bus in its own account, and the same request claiming another source
    bus = "arn:aws:events:us-west-2:444455556666:event-bus/acme-orders"
    as_herald = {"events:source": ["herald"]}
    for function in FUNCTIONS:
        policy = statements(template, function)
        # Then the outbound-webhooks function alone may put on it, as source `herald`
        assert allowed(policy, "events:PutEvents", bus, as_herald) == (function == "OutboundWebhooksFunction")
        # And never as another source (a storefront's rule matching `aws.*` or its own source)
        assert not allowed(policy, "events:PutEvents", bus, {"events:source": ["storefront.acme"]}), function
    # And it manages no bus or rule (no CreateEventBus, PutRule, PutTargets)
    policy = statements(template, "OutboundWebhooksFunction")
    assert not allowed(policy, "events:PutRule", "arn:aws:events:us-west-2:444455556666:rule/acme-orders/x")


def test_the_outbound_webhooks_back_off_only_on_their_own_queue(template: dict[str, Any]) -> None:
    policy = statements(template, "OutboundWebhooksFunction")
    sqs = f"arn:aws:sqs:{REGION}:{ACCOUNT}"
    assert allowed(policy, "sqs:ChangeMessageVisibility", f"{sqs}:OutboundWebhooksQueue")
    assert not allowed(policy, "sqs:ChangeMessageVisibility", f"{sqs}:EmailQueue")
    assert not allowed(policy, "sqs:SendMessage", f"{sqs}:OutboundWebhooksQueue")
