"""template.yaml pins Herald's topology: what every deployment (and the local runtime) gets.

These tests read the template as cfn-lint decodes it, translate it with samtranslator (offline, as
CloudFormation's SAM transform would) and run cfn-lint on it. `sam validate --lint` runs in the Makefile.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from tests.template import REPO, TEMPLATE, load_template

from herald.config import DispatchSettings
from herald.domain.channel_registry import CHANNELS

QUEUE = "AWS::SQS::Queue"
FUNCTION = "AWS::Serverless::Function"

# Each working queue, the dead-letter queue that is its own, and the function that consumes it.
MAIN_QUEUES = {
    "OrderEventsQueue": ("OrderEventsDLQ", "DispatchFunction"),
    "ShipmentEventsQueue": ("ShipmentEventsDLQ", "DispatchFunction"),
    "EmailQueue": ("EmailDLQ", "SendEmailFunction"),
    "SmsQueue": ("SmsDLQ", "SendSmsFunction"),
    "FollowupQueue": ("FollowupDLQ", "FollowupFunction"),
    "ShopifyEventsQueue": ("ShopifyEventsDLQ", "ShopifyEventsFunction"),
    "LateChecksQueue": ("LateChecksDLQ", "LateDeliveryFunction"),
    "OutboundWebhooksQueue": ("OutboundWebhooksDLQ", "OutboundWebhooksFunction"),
}
# A queue whose receives before the DLQ are its own parameter (every other queue: MaxReceiveCount). Outbound
# webhooks retry a storefront's outage for hours, not minutes.
OWN_MAX_RECEIVE_COUNT = {"OutboundWebhooksQueue": "OutboundWebhooksMaxReceiveCount"}
# The late-delivery checks' schedule group: named after the stack's id (unique, and under 64 characters).
LATE_CHECK_GROUP = {
    "Fn::Join": ["-", ["herald-late", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]]
}
FUNCTIONS = {
    "DispatchFunction": "herald.handlers.dispatch.handler",
    "SendEmailFunction": "herald.handlers.send_email.handler",
    "SendSmsFunction": "herald.handlers.send_sms.handler",
    "WebhooksFunction": "herald.handlers.webhooks.handler",
    "TimelineFunction": "herald.handlers.timeline.handler",
    "FollowupFunction": "herald.handlers.followup.handler",
    "IntakeFunction": "herald.handlers.intake.handler",
    "ShopifyEventsFunction": "herald.handlers.intake_events.handler",
    "LateDeliveryFunction": "herald.handlers.late_delivery.handler",
    "OrderPageFunction": "herald.handlers.order_page.handler",
    "OutboundWebhooksFunction": "herald.handlers.outbound_webhooks.handler",
}
GLOBAL_ENV = {
    "HERALD_TABLE_NAME",
    "HERALD_STOREFRONTS_PATH",
    "HERALD_NOTIFICATION_TTL_DAYS",
    "LOG_LEVEL",
    "POWERTOOLS_METRICS_NAMESPACE",
    "HERALD_TRACING",
    "HERALD_MAX_RECEIVE_COUNT",
}
FUNCTION_ENV = {
    "DispatchFunction": {
        "POWERTOOLS_SERVICE_NAME",
        "HERALD_EMAIL_QUEUE_URL",
        "HERALD_SMS_QUEUE_URL",
        "HERALD_FOLLOWUP_QUEUE_URL",
        "HERALD_DELIVERY_DEADLINE_SECONDS",
        "HERALD_ORDER_EVENTS_QUEUE_URL",
        "HERALD_SHIPMENT_EVENTS_QUEUE_URL",
        "HERALD_RELAY_PUBLISHER_IDS",
        "HERALD_LATE_CHECK_SCHEDULE_GROUP",
        "HERALD_LATE_CHECKS_QUEUE_URL",
        "HERALD_LATE_CHECKS_QUEUE_ARN",
        "HERALD_LATE_CHECKS_DLQ_ARN",
        "HERALD_LATE_CHECK_SCHEDULER_ROLE_ARN",
        "HERALD_ORDER_PAGE_BASE_URL",
        "HERALD_ORDER_PAGE_SECRET_ID",
    },
    "SendEmailFunction": {
        "POWERTOOLS_SERVICE_NAME",
        "HERALD_SENDGRID_SECRET_ID",
        "HERALD_FOLLOWUP_QUEUE_URL",
        "HERALD_FAILOVER_THRESHOLD",
        "HERALD_FAILOVER_PROBE_SECONDS",
        "HERALD_SES_CONFIGURATION_SET",
        "HERALD_WEBHOOKS_BASE_URL",
        "HERALD_UNSUBSCRIBE_SECRET_ID",
    },
    "SendSmsFunction": {
        "POWERTOOLS_SERVICE_NAME",
        "HERALD_TWILIO_SECRET_ID",
        "HERALD_WEBHOOKS_BASE_URL",
        "HERALD_FOLLOWUP_QUEUE_URL",
        "HERALD_FAILOVER_THRESHOLD",
        "HERALD_FAILOVER_PROBE_SECONDS",
    },
    "WebhooksFunction": {
        "POWERTOOLS_SERVICE_NAME",
        "HERALD_SENDGRID_WEBHOOK_SECRET_ID",
        "HERALD_TWILIO_SECRET_ID",
        "HERALD_WEBHOOK_TOLERANCE_SECONDS",
        "HERALD_SMS_SOURCE_BY_NUMBER",
        "HERALD_DEFAULT_SOURCE",
        "HERALD_SMS_HELP_TEXT",
        "HERALD_DEFAULT_STORE_NAME",
        "HERALD_FOLLOWUP_QUEUE_URL",
        "HERALD_UNSUBSCRIBE_SECRET_ID",
    },
    "TimelineFunction": {"POWERTOOLS_SERVICE_NAME", "HERALD_TIMELINE_OPERATOR_IDS"},
    "FollowupFunction": {"POWERTOOLS_SERVICE_NAME", "HERALD_EMAIL_QUEUE_URL", "HERALD_SMS_QUEUE_URL"},
    "IntakeFunction": {"POWERTOOLS_SERVICE_NAME", "HERALD_ORDER_EVENTS_QUEUE_URL", "HERALD_SHIPMENT_EVENTS_QUEUE_URL"},
    "ShopifyEventsFunction": {
        "POWERTOOLS_SERVICE_NAME",
        "HERALD_ORDER_EVENTS_QUEUE_URL",
        "HERALD_SHIPMENT_EVENTS_QUEUE_URL",
    },
    "LateDeliveryFunction": {"POWERTOOLS_SERVICE_NAME", "HERALD_SHIPMENT_EVENTS_QUEUE_URL"},
    "OrderPageFunction": {
        "POWERTOOLS_SERVICE_NAME",
        "HERALD_ORDER_PAGE_SECRET_ID",
        "HERALD_PROOF_PHOTOS_BUCKET",
        "HERALD_OUTBOUND_WEBHOOKS_QUEUE_URL",
        # a started return's confirmation: a return.requested event for dispatch
        "HERALD_ORDER_EVENTS_QUEUE_URL",
    },
    # Its queue's own maxReceiveCount, over the global one.
    "OutboundWebhooksFunction": {"POWERTOOLS_SERVICE_NAME", "HERALD_MAX_RECEIVE_COUNT"},
}
SERVICE_NAMES = {
    "DispatchFunction": "herald-dispatch",
    "SendEmailFunction": "herald-send-email",
    "SendSmsFunction": "herald-send-sms",
    "WebhooksFunction": "herald-webhooks",
    "TimelineFunction": "herald-timeline",
    "FollowupFunction": "herald-followup",
    "IntakeFunction": "herald-intake",
    "ShopifyEventsFunction": "herald-shopify-events",
    "LateDeliveryFunction": "herald-late-delivery",
    "OrderPageFunction": "herald-order-page",
    "OutboundWebhooksFunction": "herald-outbound-webhooks",
}
SECRET_PARAMETERS = {"SendEmailFunction": "SendGridSecretId", "SendSmsFunction": "TwilioSecretId"}
OUTPUTS = [
    f"{queue}{kind}{suffix}"
    for queue in (
        "OrderEvents",
        "ShipmentEvents",
        "Email",
        "Sms",
        "Followup",
        "ShopifyEvents",
        "LateChecks",
        "OutboundWebhooks",
    )
    for kind in ("Queue", "DLQ")
    for suffix in ("Url", "Arn")
] + [
    "NotificationsTableName",
    "DispatchFunctionName",
    "SendEmailFunctionName",
    "SendSmsFunctionName",
    "WebhooksFunctionName",
    "WebhooksApiUrl",
    "TimelineFunctionName",
    "FollowupFunctionName",
    "IntakeFunctionName",
    "ShopifyEventsFunctionName",
    "LateDeliveryFunctionName",
    "LateCheckScheduleGroupName",
    "OrderPageFunctionName",
    "OutboundWebhooksFunctionName",
]


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template()


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


def _sqs_events(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(function, event name, event properties) for every SQS event of every function."""
    for name, function in _resources(template, FUNCTION).items():
        for event_name, event in function["Properties"].get("Events", {}).items():
            if event["Type"] == "SQS":
                yield name, event_name, event["Properties"]


def _get_att_target(value: Any, attribute: str) -> str:
    assert isinstance(value, dict), value
    assert "Fn::GetAtt" in value, value
    target, att = value["Fn::GetAtt"]
    assert att == attribute, value
    return str(target)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


# --- queues ----------------------------------------------------------------------------------------


def test_every_main_queue_redrives_to_its_own_dlq_after_max_receive_count(template: dict[str, Any]) -> None:
    # Given the template's queues
    queues = _resources(template, QUEUE)
    # When each queue's RedrivePolicy is read
    redrives = {name: q["Properties"].get("RedrivePolicy") for name, q in queues.items()}
    # Then exactly the four working queues redrive, each to its own DLQ, after MaxReceiveCount receives
    assert {name for name, redrive in redrives.items() if redrive} == set(MAIN_QUEUES)
    for queue, (dlq, _) in MAIN_QUEUES.items():
        redrive = redrives[queue]
        assert _get_att_target(redrive["deadLetterTargetArn"], "Arn") == dlq
        assert redrive["maxReceiveCount"] == {"Ref": OWN_MAX_RECEIVE_COUNT.get(queue, "MaxReceiveCount")}
    # And the DLQs are four distinct queues that redrive nowhere themselves
    assert set(queues) == set(MAIN_QUEUES) | {dlq for dlq, _ in MAIN_QUEUES.values()}


def test_dead_letter_queues_keep_messages_fourteen_days_longer_than_their_sources(template: dict[str, Any]) -> None:
    # Given each pair of working queue and DLQ
    queues = _resources(template, QUEUE)
    for queue, (dlq, _) in MAIN_QUEUES.items():
        # Then the DLQ keeps messages the SQS maximum (14 days), longer than its source queue does
        # (a moved message keeps its first enqueue time, so a shorter DLQ retention would lose it)
        assert queues[dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert queues[queue]["Properties"]["MessageRetentionPeriod"] < 14 * 24 * 3600


def test_every_queue_is_encrypted_and_refuses_requests_without_tls(template: dict[str, Any]) -> None:
    # Given every queue and every queue policy
    queues = _resources(template, QUEUE)
    policies = _resources(template, "AWS::SQS::QueuePolicy").values()
    for name, queue in queues.items():
        # Then SQS-managed server-side encryption is on
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name
        # And a policy applied to this queue denies every action over plain HTTP
        denying = [
            statement
            for policy in policies
            if {"Ref": name} in policy["Properties"]["Queues"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and _get_att_target(statement["Resource"], "Arn") == name
        ]
        assert denying, f"{name} has no deny-insecure-transport policy"


def test_visibility_timeout_is_at_least_six_times_the_consuming_function_timeout(template: dict[str, Any]) -> None:
    # Given every SQS event source and the function timeout it runs under
    queues = _resources(template, QUEUE)
    functions = _resources(template, FUNCTION)
    global_timeout = template["Globals"]["Function"]["Timeout"]
    checked = set()
    for function, _, event in _sqs_events(template):
        queue = _get_att_target(event["Queue"], "Arn")
        timeout = functions[function]["Properties"].get("Timeout", global_timeout)
        # Then its queue hides a received message for at least 6 function timeouts (AWS's advice, which
        # leaves room for Lambda's own retries when it is throttled)
        assert queues[queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout, queue
        # And the longest batching window an operator may choose still fits in that margin
        window = template["Parameters"][event["MaximumBatchingWindowInSeconds"]["Ref"]]
        assert window["MaxValue"] + timeout <= queues[queue]["Properties"]["VisibilityTimeout"]
        checked.add(queue)
    assert checked == set(MAIN_QUEUES)


# --- event sources ---------------------------------------------------------------------------------


def test_each_working_queue_feeds_its_function_and_no_dlq_is_consumed(template: dict[str, Any]) -> None:
    # Given every SQS event of every function
    consumers = {_get_att_target(event["Queue"], "Arn"): fn for fn, _, event in _sqs_events(template)}
    # Then each working queue is consumed by its function, and DLQs wait for an operator
    assert consumers == {queue: function for queue, (_, function) in MAIN_QUEUES.items()}
    dispatch_events = {name for fn, name, _ in _sqs_events(template) if fn == "DispatchFunction"}
    assert dispatch_events == {"OrderEvents", "ShipmentEvents"}


def test_each_channel_queue_is_drained_by_the_sender_its_registry_entry_names(template: dict[str, Any]) -> None:
    # Given the queue each channel's entry points dispatch to (the setting it names, as dispatch's environment sets it)
    environment = template["Resources"]["DispatchFunction"]["Properties"]["Environment"]["Variables"]
    consumers = {_get_att_target(event["Queue"], "Arn"): fn for fn, _, event in _sqs_events(template)}
    functions = _resources(template, FUNCTION)
    for spec in CHANNELS.values():
        queue = environment[DispatchSettings.model_fields[spec.queue_setting].alias]["Ref"]
        # Then the function consuming that queue runs the sender the entry names
        assert functions[consumers[queue]]["Properties"]["Handler"] == spec.sender, spec.channel


def test_every_sqs_event_reports_partial_failures_and_takes_its_limits_from_parameters(
    template: dict[str, Any],
) -> None:
    parameters = template["Parameters"]
    events = list(_sqs_events(template))
    assert len(events) == 8
    for function, name, event in events:
        # Then one failed message never redelivers its neighbours
        assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        # And concurrency, batch size and window are operator parameters, within what Lambda accepts
        concurrency = event["ScalingConfig"]["MaximumConcurrency"]
        assert set(concurrency) == {"Ref"}, name
        assert parameters[concurrency["Ref"]]["MinValue"] >= 2
        assert parameters[concurrency["Ref"]]["MaxValue"] <= 1000
        batch = parameters[event["BatchSize"]["Ref"]]
        # Up to 10 needs no batching window (Lambda requires one above 10); senders run 10 threads.
        assert 1 <= batch["MinValue"] <= batch["Default"] <= batch["MaxValue"] <= 10
        assert event["MaximumBatchingWindowInSeconds"]["Ref"] in parameters
        assert function in FUNCTIONS


def test_maximum_concurrency_defaults_follow_each_channel_provider(template: dict[str, Any]) -> None:
    # Given the concurrency parameters
    parameters = template["Parameters"]
    # Then the defaults are the brief's: dispatch 10, email 5, SMS 2 (Lambda's minimum)
    defaults = {
        name: parameters[name]["Default"]
        for name in ("DispatchMaxConcurrency", "EmailMaxConcurrency", "SmsMaxConcurrency")
    }
    assert defaults == {"DispatchMaxConcurrency": 10, "EmailMaxConcurrency": 5, "SmsMaxConcurrency": 2}
    for name in ("DispatchBatchWindowSeconds", "EmailBatchWindowSeconds", "SmsBatchWindowSeconds"):
        assert parameters[name]["Default"] == 0
    assert parameters["MaxReceiveCount"]["Default"] == 5


# --- functions -------------------------------------------------------------------------------------


def test_globals_run_every_function_on_python_311_arm64_from_the_functions_folder(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.11"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["MemorySize"] == 256
    assert function_globals["Timeout"] == 30
    assert function_globals["CodeUri"].rstrip("/") == "functions"
    assert function_globals["Tracing"] == {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}
    handlers = {name: fn["Properties"]["Handler"] for name, fn in _resources(template, FUNCTION).items()}
    assert handlers == FUNCTIONS


def test_each_function_logs_json_to_its_own_log_group_with_retention(template: dict[str, Any]) -> None:
    log_groups = _resources(template, "AWS::Logs::LogGroup")
    used = set()
    for name, function in _resources(template, FUNCTION).items():
        logging_config = function["Properties"]["LoggingConfig"]
        assert logging_config["LogFormat"] == "JSON"
        group = logging_config["LogGroup"]["Ref"]
        assert group in log_groups, name
        assert log_groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        used.add(group)
    assert len(used) == len(FUNCTIONS)
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_environment_variable_names_are_exactly_what_each_function_reads(template: dict[str, Any]) -> None:
    from herald import config

    settings_by_function = {
        "DispatchFunction": config.DispatchSettings,
        "SendEmailFunction": config.SendEmailSettings,
        "SendSmsFunction": config.SendSmsSettings,
        "WebhooksFunction": config.WebhooksSettings,
        "TimelineFunction": config.TimelineSettings,
        "FollowupFunction": config.FollowUpSettings,
        "IntakeFunction": config.IntakeSettings,
        "ShopifyEventsFunction": config.IntakeSettings,
        "LateDeliveryFunction": config.LateDeliverySettings,
        "OrderPageFunction": config.OrderPageSettings,
        "OutboundWebhooksFunction": config.OutboundWebhooksSettings,
    }
    global_env = template["Globals"]["Function"]["Environment"]["Variables"]
    # Then the globals are the shared settings
    assert set(global_env) == GLOBAL_ENV
    assert global_env["HERALD_TABLE_NAME"] == {"Ref": "NotificationsTable"}
    assert global_env["POWERTOOLS_METRICS_NAMESPACE"] == "Herald"
    assert global_env["HERALD_TRACING"] == {"Fn::If": ["TracingEnabled", "true", "false"]}
    for name, function in _resources(template, FUNCTION).items():
        env = function["Properties"]["Environment"]["Variables"]
        # And each function adds only its own
        assert set(env) == FUNCTION_ENV[name], name
        assert env["POWERTOOLS_SERVICE_NAME"] == SERVICE_NAMES[name]
    # And every HERALD_* name a function is given is one its settings model reads (a typo would be silently ignored)
    for name, own in FUNCTION_ENV.items():
        herald_names = {n for n in own if n.startswith("HERALD_")}
        read = settings_by_function[name].variable_names()
        assert herald_names <= read, (name, herald_names - read)
    # And every global HERALD_* name is read by some function
    read_by_any = set().union(*(model.variable_names() for model in settings_by_function.values()))
    global_names = {n for n in GLOBAL_ENV if n.startswith("HERALD_")}
    assert global_names <= read_by_any, global_names - read_by_any


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """A function's inline statements; one kept behind a condition (Fn::If) is read as its statement."""
    found = []
    for statement in function["Properties"]["Policies"][0]["Statement"]:
        if "Fn::If" in statement:
            statement = statement["Fn::If"][1]
        found.append(statement)
    return found


def test_senders_read_only_their_own_provider_secret(template: dict[str, Any]) -> None:
    functions = _resources(template, FUNCTION)
    prefix = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    for name, parameter in SECRET_PARAMETERS.items():
        statements = _statements(functions[name])
        secret_statements = [s for s in statements if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])]
        assert len(secret_statements) == 1
        # The default storefront's secret, the unsubscribe links' key (the email sender signs them), and the
        # per-storefront secrets under the registry's prefix
        expected = [{"Fn::Sub": prefix + f"${{{parameter}}}-*"}]
        if name == "SendEmailFunction":
            expected.append({"Fn::Sub": prefix + "${UnsubscribeSecretId}-*"})
        expected.append({"Fn::Sub": prefix + "${StorefrontSecretsPrefix}*"})
        assert secret_statements[0]["Resource"] == expected
    # Dispatch reads one secret: the order pages' key (each message's page link), never a provider's
    dispatch = [s for s in _statements(functions["DispatchFunction"]) if "secretsmanager" in json.dumps(s["Action"])]
    assert [s["Resource"] for s in dispatch] == [{"Fn::Sub": prefix + "${OrderPageSecretId}-*"}]


def test_policies_are_least_privilege(template: dict[str, Any]) -> None:
    functions = _resources(template, FUNCTION)

    def actions(name: str) -> dict[str, set[str]]:
        """Action -> the resources it is allowed on, as compact JSON."""
        allowed: dict[str, set[str]] = {}
        for policy in functions[name]["Properties"]["Policies"]:
            assert isinstance(policy, dict), "only inline statements: no broad SAM policy templates"
        for statement in _statements(functions[name]):
            acts = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Deny":
                # The one Deny narrows the SNS "*" below to phone numbers (test_template_iam evaluates it).
                assert acts == ["sns:Publish"], statement
                continue
            assert statement["Effect"] == "Allow"
            res = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            # The one exception: an SMS published to a phone number has no ARN for SNS to authorise on.
            assert "*" not in res or acts == ["sns:Publish"], statement
            for action in acts:
                allowed.setdefault(action, set()).update(json.dumps(r, sort_keys=True) for r in res)
        return allowed

    table = json.dumps({"Fn::GetAtt": ["NotificationsTable", "Arn"]}, sort_keys=True)
    registry = {"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}

    def queue(name: str) -> str:
        return json.dumps({"Fn::GetAtt": [name, "Arn"]}, sort_keys=True)

    def without_registry(allowed: dict[str, set[str]]) -> dict[str, set[str]]:
        # Every function reads the storefront registry's entries, and nothing else in Parameter Store
        # (test_template_iam evaluates its resources).
        assert registry <= set(allowed)
        return {a: r for a, r in allowed.items() if a not in registry}

    dispatch = without_registry(actions("DispatchFunction"))
    # No GetItem nor BatchWriteItem: dispatch's code makes none of them (they were granted, unused). Query and
    # DeleteItem release the intake's parked reports; the event queues take them once released.
    db_actions = {"PutItem", "UpdateItem", "BatchGetItem", "Query", "DeleteItem"}
    assert dispatch == {
        **{f"dynamodb:{a}": {table} for a in db_actions},
        "sqs:SendMessage": {
            queue("EmailQueue"),
            queue("SmsQueue"),
            queue("FollowupQueue"),
            queue("OrderEventsQueue"),
            queue("ShipmentEventsQueue"),
            queue("LateChecksQueue"),
        },
        # A promised day's late-delivery check, on Scheduler (test_template_iam evaluates where).
        "scheduler:CreateSchedule": {
            json.dumps(
                {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${Group}/*",
                        {"Group": LATE_CHECK_GROUP},
                    ]
                },
                sort_keys=True,
            )
        },
        "iam:PassRole": {json.dumps({"Fn::GetAtt": ["LateCheckSchedulerRole", "Arn"]}, sort_keys=True)},
        # The order pages' key: each message's page link is made with it.
        "secretsmanager:GetSecretValue": {
            json.dumps(
                {
                    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
                    ":secret:${OrderPageSecretId}-*"
                },
                sort_keys=True,
            )
        },
    }
    # send-sms may also put a suppression item (Twilio's 21610); send-email writes nothing new.
    # GetItem is the circuit's state; neither sender queries.
    sender_db = {
        "SendEmailFunction": ("GetItem", "UpdateItem"),
        "SendSmsFunction": ("GetItem", "UpdateItem", "PutItem"),
    }
    for sender, own_queue in (("SendEmailFunction", "EmailQueue"), ("SendSmsFunction", "SmsQueue")):
        allowed = actions(sender)
        assert {a: r for a, r in allowed.items() if a.startswith("dynamodb:")} == {
            f"dynamodb:{a}": {table} for a in sender_db[sender]
        }
        assert allowed["sqs:ChangeMessageVisibility"] == {queue(own_queue)}
        # A provider's refusal asks the follow-up function for the other channel.
        assert allowed["sqs:SendMessage"] == {queue("FollowupQueue")}
        # Each message is sent as its storefront's entry says: the registry (test_template_iam evaluates where).
        assert registry <= set(allowed)
        secondary = "ses:SendEmail" if sender == "SendEmailFunction" else "sns:Publish"
        assert set(allowed) == {
            *(f"dynamodb:{a}" for a in sender_db[sender]),
            "sqs:ChangeMessageVisibility",
            "sqs:SendMessage",
            "secretsmanager:GetSecretValue",
            secondary,
            *registry,
        }
    followup = without_registry(actions("FollowupFunction"))
    assert followup == {
        **{f"dynamodb:{a}": {table} for a in ("Query", "UpdateItem", "PutItem", "BatchGetItem")},
        "sqs:SendMessage": {queue("EmailQueue"), queue("SmsQueue")},
    }
    # The intake functions read links, park reports, record rejections, publish on the event queues, and read
    # only the platform secrets under the registry's prefix.
    for intake in ("IntakeFunction", "ShopifyEventsFunction"):
        allowed = without_registry(actions(intake))
        assert allowed == {
            "dynamodb:GetItem": {table},
            "dynamodb:PutItem": {table},
            "sqs:SendMessage": {queue("OrderEventsQueue"), queue("ShipmentEventsQueue")},
            "secretsmanager:GetSecretValue": {
                json.dumps(
                    {
                        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
                        ":secret:${StorefrontSecretsPrefix}*"
                    },
                    sort_keys=True,
                )
            },
        }
    # The order page opens a token's order, reads the order's steps, records answers, reads its key only.
    photos = {json.dumps({"Fn::Sub": "${ProofPhotosBucket.Arn}/proof-photos/*"}, sort_keys=True)}
    assert without_registry(actions("OrderPageFunction")) == {
        "dynamodb:GetItem": {table},
        "dynamodb:Query": {table},
        "dynamodb:PutItem": {table},
        # The customer's answers, told to the storefront through the outbound webhooks; a started return's
        # confirmation, a return.requested event on the order-events queue
        "sqs:SendMessage": {queue("OutboundWebhooksQueue"), queue("OrderEventsQueue")},
        # Herald's copies of the proof photos, under their prefix only
        "s3:GetObject": photos,
        "s3:PutObject": photos,
        "secretsmanager:GetSecretValue": {
            json.dumps(
                {
                    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
                    ":secret:${OrderPageSecretId}-*"
                },
                sort_keys=True,
            )
        },
    }
    # The late-delivery function reads a shipment's last notice and links, and publishes on the shipment queue.
    assert actions("LateDeliveryFunction") == {
        "dynamodb:GetItem": {table},
        "sqs:SendMessage": {queue("ShipmentEventsQueue")},
    }
    # The outbound webhooks read and record their attempts on the order's timeline, back off on their own queue,
    # read the storefronts' signing secrets, and put on the storefronts' buses (test_template_iam evaluates where).
    assert without_registry(actions("OutboundWebhooksFunction")) == {
        "dynamodb:GetItem": {table},
        "dynamodb:UpdateItem": {table},
        "sqs:ChangeMessageVisibility": {queue("OutboundWebhooksQueue")},
        "secretsmanager:GetSecretValue": {
            json.dumps(
                {
                    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
                    ":secret:${StorefrontSecretsPrefix}*"
                },
                sort_keys=True,
            )
        },
        "events:PutEvents": {json.dumps({"Fn::Sub": "arn:${AWS::Partition}:events:*:*:event-bus/*"}, sort_keys=True)},
    }


# --- table -----------------------------------------------------------------------------------------


def test_notifications_table_keys_ttl_and_provider_message_index(template: dict[str, Any]) -> None:
    table = template["Resources"]["NotificationsTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    assert types == {"pk": "S", "sk": "S", "provider_message_id": "S"}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (index,) = properties["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_provider_message_id"
    assert index["KeySchema"] == [{"AttributeName": "provider_message_id", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # The ledger outlives a deleted or replaced stack
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


# --- alarms and outputs ----------------------------------------------------------------------------


def test_every_queue_has_its_alarm_notifying_the_optional_topic(template: dict[str, Any]) -> None:
    # (the functions', the HTTP API's and Herald's metrics' alarms: test_template_iam.py)
    alarms = [
        alarm
        for alarm in _resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
    ]
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for alarm in alarms:
        properties = alarm["Properties"]
        (dimension,) = properties["Dimensions"]
        assert dimension["Name"] == "QueueName"
        by_queue.setdefault(_get_att_target(dimension["Value"], "QueueName"), []).append(properties)
        assert properties["Namespace"] == "AWS/SQS"
        assert properties["ComparisonOperator"] == "GreaterThanThreshold"
        notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
        assert properties["AlarmActions"] == notify
        assert properties["OKActions"] == notify
    for queue, (dlq, _) in MAIN_QUEUES.items():
        (dlq_alarm,) = by_queue[dlq]
        assert dlq_alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert dlq_alarm["Threshold"] == 0
        (age_alarm,) = by_queue[queue]
        assert age_alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
        assert age_alarm["Threshold"] == {"Ref": "OldestMessageAgeAlarmSeconds"}
    assert template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""


def test_every_output_is_present_and_described(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(OUTPUTS) <= set(outputs)
    assert len(OUTPUTS) == 46
    for name in outputs:
        assert outputs[name].get("Description"), name


# --- no secrets, no account, no region ----------------------------------------------------------------

_SECRET_LOOKING = [
    re.compile(r"SG\.[\w-]{16,}\.[\w-]{16,}"),  # SendGrid API key
    re.compile(r"\b(AC|SK)[0-9a-f]{32}\b"),  # Twilio account / API key SID
    re.compile(r"\b[0-9a-f]{32}\b"),  # Twilio auth token
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\b\d{12}\b"),  # an AWS account id
    re.compile(r"\b(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b"),  # a region
]


def test_template_holds_no_secret_account_id_or_region(template: dict[str, Any]) -> None:
    # Given every string in the template (keys and values)
    for text in _strings(template):
        # Then none looks like a credential, an account id or a region
        for pattern in _SECRET_LOOKING:
            assert not pattern.search(text), f"{pattern.pattern} matches {text!r}"
    # And no environment variable carries a credential: only the names of secrets
    envs = [template["Globals"]["Function"]["Environment"]["Variables"]] + [
        fn["Properties"]["Environment"]["Variables"] for fn in _resources(template, FUNCTION).values()
    ]
    for env in envs:
        for name in env:
            if re.search(r"KEY|TOKEN|SECRET|PASSWORD|AUTH", name):
                assert name.endswith("_SECRET_ID"), name
                assert set(env[name]) == {"Ref"}, name


def test_secret_pattern_check_catches_a_planted_key() -> None:
    # Given a string shaped like a Twilio auth token (guards the check above against matching nothing)
    planted = "auth_token: 0123456789abcdef0123456789abcdef"
    # Then the patterns see it
    assert any(pattern.search(planted) for pattern in _SECRET_LOOKING)


# --- requirements ----------------------------------------------------------------------------------


def test_function_requirements_mirror_the_project_dependencies() -> None:
    # Given pyproject's runtime dependencies and the requirements file `sam build` installs
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = (REPO / "functions" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]

    # Then they name the same packages with the same constraints
    def normalised(spec: str) -> str:
        return re.sub(r"\s+", "", spec).lower()

    assert sorted(map(normalised, requirements)) == sorted(map(normalised, project["dependencies"]))


# --- tools -----------------------------------------------------------------------------------------


def _translate(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    class OfflinePolicyLoader:
        """samtranslator's ManagedPolicyLoader asks IAM; an empty map keeps managed policy names as ARNs."""

        def load(self) -> dict[str, str]:
            return {}

    # samtranslator asks boto3 for the region (partition, pseudo parameters): give it one, no credentials.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Like `sam package`: the local CodeUri becomes an S3 location.
    del template["Globals"]["Function"]["CodeUri"]
    for function in _resources(template, FUNCTION).values():
        function["Properties"]["CodeUri"] = "s3://herald-artifacts/functions.zip"
    translated: dict[str, Any] = transform(template, {}, OfflinePolicyLoader())
    return translated


def test_samtranslator_translates_it_into_functions_and_event_source_mappings(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the SAM transform runs offline
    translated = _translate(template, monkeypatch)
    resources = translated["Resources"]

    # Then every serverless function is a Lambda function with the globals merged in
    functions = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert set(functions) == set(FUNCTIONS)
    for name, function in functions.items():
        assert function["Handler"] == FUNCTIONS[name]
        assert function["Runtime"] == "python3.11"
        assert function["Architectures"] == ["arm64"]
        # The outbound webhooks post a batch one event at a time, each under its own short timeouts.
        assert function["Timeout"] == (60 if name == "OutboundWebhooksFunction" else 30)
        assert set(function["Environment"]["Variables"]) == GLOBAL_ENV | FUNCTION_ENV[name]
        assert function["LoggingConfig"]["LogGroup"]["Ref"] in resources
    # And each SQS event is an event source mapping with partial batch responses and a concurrency cap
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 8
    for mapping in mappings:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert set(mapping["ScalingConfig"]["MaximumConcurrency"]) == {"Ref"}
    # And each function's role carries SAM's SQS poller permissions next to Herald's own statements
    roles = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    # (and the one Scheduler acts as to deliver the late-delivery checks)
    assert set(roles) == {f"{name}Role" for name in FUNCTIONS} | {"LateCheckSchedulerRole"}
    for name, role in roles.items():
        if name == "LateCheckSchedulerRole":
            continue  # not a function's: test_template_iam evaluates its one permission
        sqs_poller = any("AWSLambdaSQSQueueExecutionRole" in json.dumps(arn) for arn in role["ManagedPolicyArns"])
        # Only the queue consumers get SAM's SQS poller permissions; the HTTP functions read no queue
        assert sqs_poller == (
            name not in {"WebhooksFunctionRole", "TimelineFunctionRole", "IntakeFunctionRole", "OrderPageFunctionRole"}
        ), name


def test_cfn_lint_finds_no_error_or_warning() -> None:
    from cfnlint.api import lint

    # When cfn-lint checks the template as it is on disk
    matches = lint(TEMPLATE.read_text(encoding="utf-8"))
    # Then it reports nothing above informational
    assert [str(m) for m in matches if not m.rule.id.startswith("I")] == []


def test_cfn_lint_check_reports_a_broken_template() -> None:
    from cfnlint.api import lint

    # Given the template with a queue whose visibility timeout is out of range (guards the check above)
    broken = TEMPLATE.read_text(encoding="utf-8").replace("VisibilityTimeout: 180", "VisibilityTimeout: 99999", 1)
    assert broken != TEMPLATE.read_text(encoding="utf-8")
    # Then cfn-lint reports an error
    assert any(m.rule.id.startswith("E") for m in lint(broken))


# --- webhooks ----------------------------------------------------------------------------------------


def test_webhooks_function_serves_the_three_provider_routes_on_the_http_api(template: dict[str, Any]) -> None:
    # Given the webhooks function and the HTTP API
    (api_name,) = _resources(template, "AWS::Serverless::HttpApi")
    function = template["Resources"]["WebhooksFunction"]["Properties"]
    # Then each route is a POST on that API, and there are no others
    routes = {
        (event["Properties"]["Method"], event["Properties"]["Path"])
        for event in function["Events"].values()
        if event["Type"] == "HttpApi" and event["Properties"]["ApiId"] == {"Ref": api_name}
    }
    assert routes == {
        ("POST", "/webhooks/sendgrid/events"),
        ("POST", "/webhooks/twilio/status"),
        ("POST", "/webhooks/twilio/inbound"),
        # one-click unsubscribe (RFC 8058): the POST records, the GET only shows the confirmation form
        ("POST", "/unsubscribe/{token}"),
        ("GET", "/unsubscribe/{token}"),
    }
    assert len(function["Events"]) == 5
    assert function["Environment"]["Variables"]["HERALD_UNSUBSCRIBE_SECRET_ID"] == {"Ref": "UnsubscribeSecretId"}
    # And its settings come from parameters: the key's secret name and the freshness tolerance (300 s default)
    env = function["Environment"]["Variables"]
    assert env["HERALD_SENDGRID_WEBHOOK_SECRET_ID"] == {"Ref": "SendGridWebhookSecretId"}
    assert env["HERALD_TWILIO_SECRET_ID"] == {"Ref": "TwilioSecretId"}
    assert env["HERALD_WEBHOOK_TOLERANCE_SECONDS"] == {"Ref": "WebhookToleranceSeconds"}
    assert template["Parameters"]["WebhookToleranceSeconds"]["Default"] == 300
    # And the opt-out keyword settings come from parameters
    for name, parameter in (
        ("HERALD_SMS_SOURCE_BY_NUMBER", "SmsSourceByNumber"),
        ("HERALD_DEFAULT_SOURCE", "DefaultSource"),
        ("HERALD_SMS_HELP_TEXT", "SmsHelpText"),
    ):
        assert env[name] == {"Ref": parameter}
    assert template["Parameters"]["SmsSourceByNumber"]["Default"] == "{}"
    # And the SMS sender asks Twilio for status callbacks on this API
    sms_env = template["Resources"]["SendSmsFunction"]["Properties"]["Environment"]["Variables"]
    assert sms_env["HERALD_WEBHOOKS_BASE_URL"] == {
        "Fn::Sub": "https://${" + api_name + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }
    # And the API's base URL is an output
    assert api_name in json.dumps(template["Outputs"]["WebhooksApiUrl"]["Value"])


def test_webhooks_function_may_only_read_update_and_guard_records_and_read_its_two_secrets(
    template: dict[str, Any],
) -> None:
    # Given the webhooks function's policy statements
    allowed: dict[str, list[Any]] = {}
    for statement in _statements(template["Resources"]["WebhooksFunction"]):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            allowed.setdefault(action, []).extend(resources)
    table = {"Fn::GetAtt": ["NotificationsTable", "Arn"]}
    index = {"Fn::Sub": "${NotificationsTable.Arn}/index/by_provider_message_id"}
    # Then it reads and updates notifications (and queries the provider-message index), puts replay-guard,
    # inbound and suppression records (and deletes suppressions: START), and reads the SendGrid webhook key
    # and the Twilio secret: nothing else
    assert set(allowed) == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
        # a failed delivery report asks the follow-up function for the event's other channel
        "sqs:SendMessage",
        # the storefront registry
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParametersByPath",
    }
    assert allowed["sqs:SendMessage"] == [{"Fn::GetAtt": ["FollowupQueue", "Arn"]}]
    # Only the index is queried; the table's items are read and written by key (prefixes: test_template_iam.py)
    assert allowed["dynamodb:Query"] == [index]
    # (one statement per key prefix: which actions each prefix allows is test_template_iam.py's)
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PutItem"):
        assert set(map(json.dumps, allowed[action])) == {json.dumps(table)}
    prefix = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    assert allowed["secretsmanager:GetSecretValue"] == [
        {"Fn::Sub": prefix + "${SendGridWebhookSecretId}-*"},
        {"Fn::Sub": prefix + "${TwilioSecretId}-*"},
        {"Fn::Sub": prefix + "${UnsubscribeSecretId}-*"},
        {"Fn::Sub": prefix + "${StorefrontSecretsPrefix}*"},
    ]


def test_samtranslator_turns_the_webhook_routes_into_an_http_api_invoking_the_function(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the SAM transform runs offline
    resources = _translate(template, monkeypatch)["Resources"]
    # Then there is one API Gateway v2 HTTP API whose OpenAPI body has the three POST routes and the timeline
    (api,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    paths = api["Body"]["paths"]
    webhook_paths = {"/webhooks/sendgrid/events", "/webhooks/twilio/status", "/webhooks/twilio/inbound"}
    intake_paths = {"/intake/shopify", "/intake/{platform}/{slug}"}
    page_paths = {
        ORDER_PAGE_PATH,
        f"{ORDER_PAGE_PATH}/delivery",
        f"{ORDER_PAGE_PATH}/photo/{{shipment_id}}",
        f"{ORDER_PAGE_PATH}/return",
    }
    operator_paths = {TIMELINE_PATH, EVIDENCE_PATH}
    others = {UNSUBSCRIBE_PATH, ONFLEET_CHECK_PATH}
    assert set(paths) == webhook_paths | intake_paths | page_paths | operator_paths | others
    assert all(set(paths[path]) == {"post"} for path in webhook_paths | intake_paths)
    assert set(paths[ONFLEET_CHECK_PATH]) == {"get"}
    # And the platforms' routes, authenticated by each platform's signature, have no AWS authorizer
    assert all("security" not in paths[path][method] for path in intake_paths for method in paths[path])
    assert set(paths[UNSUBSCRIBE_PATH]) == {"get", "post"}
    assert all("security" not in operation for operation in paths[UNSUBSCRIBE_PATH].values())
    # And the customers' order page (its token is its credential) has no AWS authorizer either
    assert set(paths[ORDER_PAGE_PATH]) == {"get"}
    assert set(paths[f"{ORDER_PAGE_PATH}/delivery"]) == {"post"}
    assert set(paths[f"{ORDER_PAGE_PATH}/photo/{{shipment_id}}"]) == {"get"}
    assert set(paths[f"{ORDER_PAGE_PATH}/return"]) == {"get", "post"}
    assert all("security" not in operation for path in page_paths for operation in paths[path].values())
    # And only the operators' routes (timeline, evidence) ask for a SigV4 signature; the provider routes have none
    for path in operator_paths:
        assert set(paths[path]) == {"get"}
        assert paths[path]["get"]["security"] == [{"AWS_IAM": []}]
    assert all("security" not in paths[path]["post"] for path in webhook_paths)
    # And API Gateway may invoke the webhooks function for each provider route, the timeline function for its own
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    invoked = sorted(p["FunctionName"]["Ref"] for p in permissions)
    assert (
        invoked
        == ["IntakeFunction"] * 3 + ["OrderPageFunction"] * 5 + ["TimelineFunction"] * 2 + ["WebhooksFunction"] * 5
    )


UNSUBSCRIBE_PATH = "/unsubscribe/{token}"
ORDER_PAGE_PATH = "/o/{token}"
ONFLEET_CHECK_PATH = "/intake/onfleet/{slug}"


# --- timeline ----------------------------------------------------------------------------------------

TIMELINE_PATH = "/orders/{source}/{order_id}/timeline"
EVIDENCE_PATH = "/orders/{source}/{order_id}/evidence"


def test_timeline_function_serves_the_iam_authorised_operator_routes_and_may_only_query_the_table(
    template: dict[str, Any],
) -> None:
    # Given the timeline function
    (api_name,) = _resources(template, "AWS::Serverless::HttpApi")
    function = template["Resources"]["TimelineFunction"]["Properties"]
    # Then its events are GET .../timeline and GET .../evidence on the HTTP API, each behind AWS_IAM
    assert sorted(function["Events"]) == ["Evidence", "Timeline"]
    for event, path in (
        (function["Events"]["Timeline"], TIMELINE_PATH),
        (function["Events"]["Evidence"], EVIDENCE_PATH),
    ):
        assert event["Type"] == "HttpApi"
        assert event["Properties"] == {
            "ApiId": {"Ref": api_name},
            "Method": "GET",
            "Path": path,
            "Auth": {"Authorizer": "AWS_IAM"},
        }
    assert template["Resources"][api_name]["Properties"]["Auth"] == {"EnableIamAuthorizer": True}
    # And it may only Query the table's order items (and the platform reports ignored for an order) and read the
    # storefront registry (who may read which storefront): read-only, no index, no queue, no secret
    (policy,) = function["Policies"]
    read, registry = policy["Statement"]
    assert read == {
        "Sid": "ReadOrderRecords",
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": {"Fn::GetAtt": ["NotificationsTable", "Arn"]},
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ORDER#*", "IGNORED#*"]}},
    }
    assert registry["Sid"] == "StorefrontRegistry"
    assert set(registry["Action"]) == {"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}


def test_webhooks_function_has_reserved_concurrency_from_a_parameter(template: dict[str, Any]) -> None:
    # Given the template; Then the webhooks function reserves (and is capped at) WebhooksReservedConcurrency,
    # unless an operator sets it to -1
    parameter = template["Parameters"]["WebhooksReservedConcurrency"]
    assert parameter["Default"] > 0
    reserved = template["Resources"]["WebhooksFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["ReservesWebhooksConcurrency", {"Ref": "WebhooksReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert template["Conditions"]["ReservesWebhooksConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "WebhooksReservedConcurrency"}, -1]}]
    }


def test_the_tools_registry_path_is_the_one_every_function_reads(template: dict[str, Any]) -> None:
    """Given the functions that read the storefront registry
    When their HERALD_STOREFRONTS_PATH is compared with herald_tools.ops.stores.registry_path (which `herald
    stores` and the local runtime use)
    Then each names the same path for the stack."""
    from herald_tools.ops.stores import registry_path

    paths = [
        function["Properties"]["Environment"]["Variables"]["HERALD_STOREFRONTS_PATH"]
        for function in _resources(template, "AWS::Serverless::Function").values()
        if "HERALD_STOREFRONTS_PATH" in function["Properties"].get("Environment", {}).get("Variables", {})
    ]
    globals_path = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    if "HERALD_STOREFRONTS_PATH" in globals_path:
        paths.append(globals_path["HERALD_STOREFRONTS_PATH"])
    assert paths
    assert all(path == {"Fn::Sub": registry_path("${AWS::StackName}")} for path in paths), paths
