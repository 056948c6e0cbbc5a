"""`herald demo`: the whole pipeline on this machine, from template.yaml, with provider stand-ins.

Starts moto, deploys template.yaml into it, runs every function as Lambda's SQS poller would, points the
SendGrid and Twilio SDKs at local stand-ins (or at the real services when credentials are set), publishes a
file of events, waits until every queue is quiet, then accounts for every event and notification.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

from herald.contract.parsing import EventRejected, parse_event
from herald.domain.storefront import StorefrontOutbound
from herald_tools.events_file import read_events
from herald_tools.local.conditions import DEFAULT_TIMEOUT_SECONDS, Deployment, scan_items, wait_for
from herald_tools.local.directives import Stage, act, directive_of
from herald_tools.local.intake_stage import IntakeStage
from herald_tools.local.standins.faults import FaultPlan
from herald_tools.local.storefronts import LocalPublisher, register_second_storefront

LOCAL_SENDGRID_KEY = "SG.herald-local-demo"  # a stand-in key: the local SendGrid accepts only this one
LOCAL_TWILIO_SID = "AC" + "de" * 16
LOCAL_TWILIO_TOKEN = "herald-local-demo-token"  # noqa: S105 - the local Twilio stand-in's own token, not a secret
LOCAL_TWILIO_FROM = "+15005550006"  # Twilio's test-credential "valid sender"
EVENT_QUEUES = frozenset({"OrderEventsQueue", "ShipmentEventsQueue"})
SECONDARY_PROVIDERS = frozenset({"ses", "sns"})
SETTLED_STATUSES = {"sent", "failed", "skipped", "suppressed", "dlq", "standby"}
# The demo's redundancy settings: an outage staged in the events file opens a circuit after 3 failures and
# is probed every 10 s; an order confirmation without a delivery report is escalated after 10 s.
# The probe interval is well above the longest retry back-off (RETRY_MAX_SECONDS, plus the second the circuit's
# whole-second times may take off): an email that failed comes back while the circuit is open and not yet due
# for a probe, and goes through SES. With a 3 s interval every retry of the last failed email landed on a due
# probe, failed it against the still-down SendGrid, and the email ended in the DLQ after 5 attempts.
RETRY_MAX_SECONDS = 4
# Where the default storefront's outbound signing secret lives locally (a name, never the value).
OUTBOUND_SECRET_NAME = "herald/acme-outdoor/outbound"  # noqa: S105 - a Secrets Manager name
SECOND_OUTBOUND_SECRET_NAME = "herald/globex-garden/outbound"  # noqa: S105 - the second storefront's, a name too
DEMO_PARAMETERS = {"FailoverThreshold": "3", "FailoverProbeSeconds": "10", "DeliveryDeadlineSeconds": "10"}


@dataclass
class Providers:
    """Where the functions send: the stand-ins, or the real services when credentials are in the environment."""

    env: dict[str, str]
    sendgrid_secret: dict[str, str]
    twilio_secret: dict[str, str]
    real: list[str] = field(default_factory=list)
    # The Event Webhook's verification key, when the SendGrid stand-in signs the events it posts.
    sendgrid_webhook_secret: dict[str, str] = field(default_factory=dict)
    sendgrid: Any = None
    twilio: Any = None
    # The default storefront's webhook receiver (outbound webhooks, docs/outbound-webhooks.md) and its secret.
    storefront_receiver: Any = None
    outbound_secret: str = ""
    second_outbound_secret: str = ""  # the second storefront's (Globex Garden): each storefront has its own


@contextmanager
def providers(
    outbox_dir: Path, *, email_faults: FaultPlan | None = None, sms_faults: FaultPlan | None = None
) -> Iterator[Providers]:
    from herald_tools.local.ports import CARRIER_PHOTOS_CA_VARIABLE, CARRIER_PHOTOS_URL_VARIABLE, RECEIVER_CA_VARIABLE
    from herald_tools.local.standins.carrier_photos import CarrierPhotosStandIn
    from herald_tools.local.standins.outbox import Outbox
    from herald_tools.local.standins.sendgrid import SendGridStandIn
    from herald_tools.local.standins.storefront_webhooks import StorefrontWebhookReceiver
    from herald_tools.local.standins.twilio import TwilioStandIn

    outbox = Outbox(outbox_dir)
    with ExitStack() as stack:
        result = Providers(env={}, sendgrid_secret={}, twilio_secret={})
        if os.environ.get("SENDGRID_API_KEY"):
            result.sendgrid_secret = {"api_key": os.environ["SENDGRID_API_KEY"]}
            result.real.append("SendGrid")
        else:
            result.sendgrid = stack.enter_context(
                SendGridStandIn(outbox, LOCAL_SENDGRID_KEY, faults=email_faults, callbacks_enabled=True)
            )
            result.sendgrid_secret = {"api_key": LOCAL_SENDGRID_KEY}
            result.sendgrid_webhook_secret = {"public_key": result.sendgrid.webhook_public_key}
            result.env["HERALD_SENDGRID_API_HOST"] = result.sendgrid.url
        twilio_vars = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
        if all(os.environ.get(v) for v in twilio_vars):
            sid, token, sender = (os.environ[v] for v in twilio_vars)
            result.twilio_secret = {"account_sid": sid, "auth_token": token, "from_number": sender}
            result.real.append("Twilio")
        else:
            result.twilio = stack.enter_context(
                TwilioStandIn(outbox, LOCAL_TWILIO_SID, LOCAL_TWILIO_TOKEN, faults=sms_faults, callbacks_enabled=True)
            )
            result.twilio_secret = {
                "account_sid": LOCAL_TWILIO_SID,
                "auth_token": LOCAL_TWILIO_TOKEN,
                "from_number": LOCAL_TWILIO_FROM,
            }
            result.env["HERALD_TWILIO_API_BASE_URL"] = result.twilio.url
        # The storefront's end of Herald's outbound webhooks: random per run, as a storefront makes its secret.
        result.outbound_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        result.second_outbound_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        # One receiver stands in for both storefronts' endpoints (each event's `source` says whose it is): it
        # verifies a webhook with either storefront's secret, as each storefront's own endpoint would with its own.
        result.storefront_receiver = stack.enter_context(
            StorefrontWebhookReceiver(
                [result.outbound_secret, result.second_outbound_secret], record_dir=outbox.root / "storefront-webhooks"
            )
        )
        result.env[RECEIVER_CA_VARIABLE] = str(result.storefront_receiver.ca_path)
        # The carriers' proof photos: every carrier host is this stand-in, locally (local/ports.py).
        photos = stack.enter_context(CarrierPhotosStandIn())
        result.env |= {CARRIER_PHOTOS_URL_VARIABLE: photos.url, CARRIER_PHOTOS_CA_VARIABLE: str(photos.ca_path)}
        yield result


@dataclass
class DemoRun:
    report: dict[str, Any]
    problems: list[str]
    seconds: float
    real_providers: list[str]
    staged: list[str] = field(default_factory=list)  # the events file's stage directives, as acted out
    # Where the storefronts' webhook receiver stand-in writes what it received and verified (a dispute, a return).
    webhooks_received: Path | None = None


def run_demo(
    events_file: Path,
    *,
    template: Path,
    outbox_dir: Path,
    work_dir: Path,
    timeout: float = 180.0,
    parameters: Mapping[str, str] | None = None,
    email_faults: FaultPlan | None = None,
    sms_faults: FaultPlan | None = None,
    paced: bool = True,
    stay: Callable[[DemoRun, Any], None] | None = None,
) -> DemoRun:
    """Run `events_file` through the local pipeline. Faults make the stand-ins fail (tests, soak runs);
    `parameters` override template.yaml's parameters (e.g. MaxReceiveCount)."""
    from herald_tools.local.runtime import LocalRuntime

    started = time.monotonic()
    events = [item for _, item in read_events(events_file)]
    shutil.rmtree(outbox_dir, ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    with providers(outbox_dir, email_faults=email_faults, sms_faults=sms_faults) as provider_setup:
        runtime_env = {
            **provider_setup.env,
            # Short back-offs so a retried message settles within the demo, not in minutes.
            "HERALD_RETRY_BASE_SECONDS": "1",
            "HERALD_RETRY_MAX_SECONDS": str(RETRY_MAX_SECONDS),
        }
        with LocalRuntime(
            template,
            parameters={**DEMO_PARAMETERS, **(parameters or {})},
            extra_env=runtime_env,
            log_dir=work_dir / "logs",
        ) as runtime:
            second = prepare(runtime, provider_setup)
            stage = Stage(
                provider_setup.sendgrid,
                provider_setup.twilio,
                runtime.webhooks_url if runtime.http_api is not None else None,
                provider_setup.twilio_secret.get("from_number", LOCAL_TWILIO_FROM),
                deployment=deployment_of(runtime),
                intake=intake_stage_of(runtime, events_file.parent, [second]),
            )
            published = publish(runtime, events, paced=paced, stage=stage)
            # Every queue counts its delayed messages: a deadline check still due keeps the follow-up queue busy.
            settled = runtime.wait_until_settled(quiet_seconds=2.0, timeout=timeout)
            if _wait_for_callbacks(provider_setup, timeout=timeout):
                # What the callbacks set off (a fallback message, say) settles too.
                settled = runtime.wait_until_settled(quiet_seconds=1.0, timeout=timeout)
            steps = stage.intake.steps if stage.intake is not None else []
            report = build_report(runtime, published, intake_steps=steps, outbox_dir=outbox_dir)
            report["ses_sent"] = _ses_sent(runtime)
            problems = verify(report, outbox_dir)
            if not settled:
                busy = {name: depth for name, depth in report["queues"].items() if depth}
                problems.append(f"the queues were not quiet after {timeout:g}s: {busy}")
            run = DemoRun(report, problems, time.monotonic() - started, provider_setup.real, stage.notes)
            if provider_setup.storefront_receiver is not None:
                run.webhooks_received = provider_setup.storefront_receiver.received_path
            if stay is not None:
                stay(run, runtime)  # e.g. `herald demo --stay`: print, then keep the runtime up for the operator tools
    return run


def prepare(runtime: Any, provider_setup: Providers) -> LocalPublisher:
    """What an operator sets up before traffic: the provider secrets, the stand-ins' callbacks to the webhooks
    API (with the key it verifies), the SES sender identity, and a second storefront with its own publisher
    (returned: the demo and the tests publish as it)."""

    secrets = runtime.aws.client("secretsmanager")
    for variable, default, value in (
        ("HERALD_SENDGRID_SECRET_ID", "herald/sendgrid", provider_setup.sendgrid_secret),
        ("HERALD_TWILIO_SECRET_ID", "herald/twilio", provider_setup.twilio_secret),
    ):
        secrets.create_secret(Name=_function_env(runtime, variable, default), SecretString=json.dumps(value))
    # The one-click unsubscribe links' key: random per local deployment, as an operator creates it (infra/README).
    unsubscribe_secret = _function_env(runtime, "HERALD_UNSUBSCRIBE_SECRET_ID", "herald/unsubscribe")
    secrets.create_secret(Name=unsubscribe_secret, SecretString=json.dumps({"keys": [token_urlsafe(32)]}))
    # The order pages' key (each message's page link, the page's forms): random per local deployment too.
    page_secret = _function_env(runtime, "HERALD_ORDER_PAGE_SECRET_ID", "herald/order-pages")
    secrets.create_secret(Name=page_secret, SecretString=json.dumps({"keys": [token_urlsafe(32)]}))
    _wire_callbacks(runtime, provider_setup)
    verify_ses_sender(runtime)
    second = register_second_storefront(
        runtime, sendgrid_secret=provider_setup.sendgrid_secret, twilio_secret=provider_setup.twilio_secret
    )
    connect_outbound_webhooks(runtime, provider_setup)
    connect_outbound_webhooks(
        runtime,
        provider_setup,
        source=second.source,
        secret_name=SECOND_OUTBOUND_SECRET_NAME,
        secret=provider_setup.second_outbound_secret,
    )
    return second


def _wire_callbacks(runtime: Any, provider_setup: Providers) -> None:
    """Point the stand-ins' delivery reports at the local webhooks API, with the key the webhook verifies.

    Twilio's callbacks go where each message's StatusCallback says: the SMS function builds it from
    HERALD_WEBHOOKS_BASE_URL, which the runtime points at its local API. SendGrid's go to one configured URL.
    """
    if runtime.http_api is None:
        return
    if provider_setup.sendgrid_webhook_secret:
        secret_id = _function_env(runtime, "HERALD_SENDGRID_WEBHOOK_SECRET_ID", "herald/sendgrid-webhook")
        runtime.aws.client("secretsmanager").create_secret(
            Name=secret_id, SecretString=json.dumps(provider_setup.sendgrid_webhook_secret)
        )
    if provider_setup.sendgrid is not None:
        provider_setup.sendgrid.events_webhook_url = f"{runtime.webhooks_url}/webhooks/sendgrid/events"


def connect_outbound_webhooks(
    runtime: Any,
    provider_setup: Providers,
    *,
    source: str | None = None,
    secret_name: str = OUTBOUND_SECRET_NAME,
    secret: str | None = None,
) -> None:
    """Give a storefront's entry (the default one's unless `source` names another) an outbound webhook to the
    receiver stand-in, with its signing secret (docs/outbound-webhooks.md "Connect"), as an operator does with
    `herald stores add --replace`."""
    from herald.adapters.ssm_storefronts import SsmStorefronts
    from herald_tools.local.runtime import LOCAL_PARAMETERS
    from herald_tools.local.storefronts import registry_path

    receiver = provider_setup.storefront_receiver
    if receiver is None:
        return
    # A secret's name (under StorefrontSecretsPrefix, which the functions may read), not its value.
    value = provider_setup.outbound_secret if secret is None else secret
    runtime.aws.client("secretsmanager").create_secret(Name=secret_name, SecretString=value)
    registry = SsmStorefronts(runtime.aws.client("ssm"), registry_path(runtime))
    if source is None:
        default = LOCAL_PARAMETERS["DefaultStorefrontSource"]
        source = runtime.deploy_parameters().get("DefaultStorefrontSource", default)
    entry = registry.get(source)
    if entry is None:
        return  # a template without the default storefront (the integration tests' own): nothing to connect
    outbound = {"url": receiver.webhook_url, "secret_id": secret_name}
    registry.put(entry.model_copy(update={"outbound": StorefrontOutbound.model_validate(outbound)}))


def verify_ses_sender(runtime: Any) -> None:
    """SES sends only from a verified identity: verify the default storefront's domain in the emulator, as an
    operator verifies it in SES before deploying (infra/README.md)."""
    sender = runtime.deploy_parameters().get("EmailFrom", "orders@herald.example")
    runtime.aws.client("sesv2").create_email_identity(EmailIdentity=sender.rpartition("@")[2])


def deployment_of(runtime: Any) -> Deployment:
    """What the story's conditions read in this runtime: its table and its circuit's probe interval."""
    return Deployment(
        runtime.aws.client("dynamodb"),
        runtime.stack.outputs["NotificationsTableName"],
        probe_seconds=int(_function_env(runtime, "HERALD_FAILOVER_PROBE_SECONDS", "30")),
    )


def intake_stage_of(runtime: Any, base_dir: Path, storefronts: list[LocalPublisher]) -> IntakeStage | None:
    """What the platform directives act on in this runtime: the storefronts that take platform webhooks (and the
    secrets their platforms sign with), the local API, the shopify-events queue."""
    intakes = {s.intake.slug: s.intake for s in storefronts if s.intake is not None}
    queue = runtime.stack.queues.get("ShopifyEventsQueue")
    if not intakes or queue is None:
        return None
    sqs = runtime.aws.client("sqs")
    return IntakeStage(
        base_dir=base_dir,
        api_url=runtime.webhooks_url if runtime.http_api is not None else None,
        storefronts=intakes,
        deployment=deployment_of(runtime),
        queue_depths=runtime.queue_depths,
        # As the template's rule delivers: the queue's policy (only that rule may send) is not emulated locally.
        send_to_shopify_events=lambda body: str(sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"]),
        region=runtime.aws.region,
        account=str(runtime.aws.client("sts").get_caller_identity()["Account"]),
    )


def _ses_sent(runtime: Any) -> int:
    """Emails the emulated SES accepted (its send quota counts them)."""
    return int(runtime.aws.client("ses").get_send_quota()["SentLast24Hours"])


def _wait_for_callbacks(provider_setup: Providers, *, timeout: float) -> bool:
    """Until the stand-ins have posted every delivery report; True if any was posted."""
    posted = False
    for standin in (provider_setup.sendgrid, provider_setup.twilio):
        if standin is not None:
            standin.callbacks.wait_idle(timeout)
            posted = posted or bool(standin.callbacks.results)
    return posted


def _function_env(runtime: Any, name: str, default: str) -> str:
    for function in runtime.stack.functions:
        if name in function.environment:
            return str(function.environment[name])
    return default


@dataclass
class Published:
    """One line of the events file and what became of it on the way in."""

    index: int
    raw: Any
    source: str | None
    event_id: str | None
    event_type: str | None
    sqs_message_id: str | None = None
    publish_rejection: str | None = None


def publish(runtime: Any, events: list[Any], *, paced: bool = True, stage: Stage | None = None) -> list[Published]:
    """Publish every line of the events file, in order.

    Valid events go through the storefront publisher; invalid ones are sent raw, as a storefront without the
    publisher would, so that dispatch's own rejection path runs too. `paced` (the default) publishes each
    event once the previous one has been dispatched: a storefront's events for one parcel come minutes apart,
    and SQS standard queues keep no order, so a file published in one burst would see later statuses
    overtake earlier ones (and rightly be superseded). `paced=False` publishes in batches, as fast as it can.
    Stage directives (local/directives.py) are acted out in their place.
    """
    from herald_tools.publisher import Publisher

    sqs = runtime.aws.client("sqs")
    outputs = runtime.stack.outputs
    publisher = Publisher(
        order_queue_url=outputs["OrderEventsQueueUrl"],
        shipment_queue_url=outputs["ShipmentEventsQueueUrl"],
        sqs_client=sqs,
    )
    published: list[Published] = []
    # Each event alone (paced), or runs of events between the directives (burst); a directive acts in its place.
    groups: list[list[Published] | dict[str, Any]] = []
    for raw in events:
        directive = directive_of(raw)
        if directive is not None:
            groups.append(directive)
            continue
        item = _identify(len(published), raw)
        published.append(item)
        if paced or not groups or not isinstance(groups[-1], list):
            groups.append([item])
        else:
            groups[-1].append(item)
    for group in groups:
        if isinstance(group, dict):
            if stage is not None:
                done = act(group, stage)
                stage.notes.append(str(group["note"]) if group.get("note") and "skipped" not in done else done)
            continue
        valid = []
        for item in group:
            body = item.raw if isinstance(item.raw, str) else json.dumps(item.raw)
            try:
                parse_event(body)
            except EventRejected:
                queue = outputs["OrderEventsQueueUrl"]
                item.sqs_message_id = sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"]
                continue
            valid.append(item)
        result = publisher.publish([item.raw for item in valid])
        for accepted in result.accepted:
            valid[accepted.index].sqs_message_id = accepted.message_id
        for rejected in result.rejected:
            valid[rejected.index].publish_rejection = rejected.reason
        if paced:
            _wait_for_dispatch(runtime)
    return published


def _identify(index: int, raw: Any) -> Published:
    identity = _as_object(raw)
    return Published(index, raw, _str(identity.get("source")), _str(identity.get("id")), _str(identity.get("type")))


def _wait_for_dispatch(runtime: Any, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
    """Until the event queues are empty (the dispatch function has taken and deleted what was published)."""
    wait_for(
        "the event queues empty (dispatch took what was published)",
        lambda: {q: d for q, d in runtime.queue_depths().items() if q in EVENT_QUEUES},
        lambda depths: not any(depths.values()),
        timeout=timeout,
    )


def _as_object(raw: Any) -> dict[str, Any]:
    """An events-file line as a JSON object, or {} when it is not one (it will be rejected)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def build_report(
    runtime: Any,
    published: list[Published],
    *,
    intake_steps: list[dict[str, Any]] | None = None,
    outbox_dir: Path | None = None,
) -> dict[str, Any]:
    """The report of `herald demo --report`: every published event and every notification, read from the table;
    and each platform step (`intake`) with the events it became and their notifications."""
    from herald.adapters.dynamodb_ledger import DynamoDbLedger

    dynamodb = runtime.aws.client("dynamodb")
    table = runtime.stack.outputs["NotificationsTableName"]
    ledger = DynamoDbLedger(dynamodb, table)
    rejections = _rejections(dynamodb, table)
    seen: Counter[tuple[str | None, str | None]] = Counter()
    events_out, notifications_out = [], []
    orders: set[tuple[str, str]] = set()
    for item in published:
        key = (item.source, item.event_id)
        seen[key] += 1
        entry: dict[str, Any] = {"source": item.source, "id": item.event_id, "type": item.event_type}
        if item.publish_rejection:
            entry |= {"outcome": "rejected", "reason": f"not published: {item.publish_rejection}"}
        elif item.sqs_message_id in rejections:
            entry |= {"outcome": "rejected", "reason": rejections[item.sqs_message_id]}
        elif seen[key] > 1:
            entry |= {"outcome": "duplicate", "reason": "same source and id as an earlier event"}
        else:
            order_id = _as_object(item.raw)["data"]["order"]["id"]
            orders.add((str(item.source), str(order_id)))
            status = _event_status(ledger, str(item.source), str(order_id), str(item.event_id))
            entry |= {"outcome": status.get("status", "missing"), "reason": status.get("reason")}
        events_out.append(entry)
    for step in intake_steps or []:
        orders.update((step["source"], e["order_id"]) for e in step["events"] if e.get("order_id"))
    sent: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for source, order_id in sorted(orders):
        for raw_item in ledger.order_items(source, order_id):
            plain = {k: next(iter(v.values())) for k, v in raw_item.items()}
            if plain.get("kind") != "notification":
                continue
            if plain["status"] == "sent":
                sent.setdefault((source, order_id), []).append(plain)
            notifications_out.append(
                {
                    "source": plain["source"],
                    "order_id": order_id,
                    "event_id": plain["event_id"],
                    "type": plain["event_type"],
                    "channel": plain["channel"],
                    "status": plain["status"],
                    # What the provider last reported (delivered, bounced, undelivered...), None without a report.
                    "delivery_status": plain.get("delivery_status"),
                    "provider_message_id": plain.get("provider_message_id"),
                    "error_code": plain.get("error_code"),
                    "reason": plain.get("reason"),
                    "attempts": int(plain.get("attempts", 0)),
                    # Redundancy: who took it, why the secondary did, what it falls back from or escalates.
                    "provider": plain.get("provider"),
                    "route_reason": plain.get("route_reason"),
                    "fallback_of": plain.get("fallback_of"),
                    "fallback_reason": plain.get("fallback_reason"),
                    "escalation_of": plain.get("escalation_of"),
                    "sent_at": plain.get("sent_at"),
                    "recipient": plain.get("recipient"),  # masked, as the table keeps it
                }
            )
    return {
        "events": events_out,
        "notifications": notifications_out,
        "intake": intake_report(intake_steps or [], notifications_out, outbox_dir),
        "orders": _order_links(runtime, sorted(orders), sent, outbox_dir),
        "queues": runtime.queue_depths(),
    }


def _order_links(
    runtime: Any, orders: list[tuple[str, str]], sent: dict[tuple[str, str], list[dict[str, Any]]], outbox: Path | None
) -> list[dict[str, Any]]:
    """Each order's page link (`links.order_page`), as its messages carry it and the ledger records it."""
    from herald_tools.local.page_links import ledger_pages, order_links

    if runtime.http_api is None:
        return []  # no local HTTP API: no page to link to
    pages = ledger_pages(runtime.aws.client("dynamodb"), runtime.stack.outputs["NotificationsTableName"])
    return [link.as_report() for link in order_links(orders, pages, sent, runtime.webhooks_url, outbox)]


def intake_report(
    steps: list[dict[str, Any]], notifications: list[dict[str, Any]], outbox_dir: Path | None
) -> list[dict[str, Any]]:
    """Each platform step with, under each event it became, that event's notifications; a delivery's also with the
    proof its email showed the customer (the photo and the map link, read from the outbox's copy)."""
    by_event: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for n in notifications:
        by_event.setdefault((n["source"], n["event_id"]), []).append(n)
    told = []
    for step in steps:
        events = []
        for event in step["events"]:
            sent = by_event.get((step["source"], event["id"]), [])
            entry = {**event, "notifications": [_notice(n) for n in sent]}
            if event["type"] == "shipment.delivered" and outbox_dir is not None:
                entry["proof_shown"] = shown_proof(outbox_dir, step["source"], event["id"])
            events.append(entry)
        told.append({**step, "events": events})
    return told


def _notice(n: dict[str, Any]) -> dict[str, Any]:
    keys = ("channel", "status", "delivery_status", "recipient", "provider", "reason")
    return {key: n.get(key) for key in keys}


def shown_proof(outbox_dir: Path, source: str, event_id: str) -> dict[str, Any] | None:
    """What the delivered email showed: its images and its map link (None without the stand-in's copy)."""
    from html.parser import HTMLParser

    from herald.domain.notification import notification_id
    from herald_tools.local.standins.outbox import safe_name

    path = outbox_dir / "email" / f"{safe_name(notification_id(source, event_id, 'email'))}.html"
    if not path.exists():
        return None
    images: list[str] = []
    links: list[str] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            if tag == "img" and values.get("src"):
                images.append(str(values["src"]))
            if tag == "a" and values.get("href"):
                links.append(str(values["href"]))

    Reader().feed(path.read_text(encoding="utf-8"))
    maps = [link for link in links if link.startswith("https://www.google.com/maps/")]
    return {"images": images, "map_url": maps[0] if maps else None}


def _rejections(dynamodb: Any, table: str) -> dict[str, str]:
    """SQS message id -> the reason dispatch recorded for rejecting it."""
    return {item["message_id"]["S"]: item["reason"]["S"] for item in scan_items(dynamodb, table, {"kind": "rejection"})}


def _event_status(ledger: Any, source: str, order_id: str, event_id: str) -> dict[str, str]:
    from herald.adapters.dynamodb_ledger import event_sk  # with the ledger, loaded only when the demo reads it

    for raw_item in ledger.order_items(source, order_id):
        if raw_item["sk"]["S"] == event_sk(event_id):
            return {k: next(iter(v.values())) for k, v in raw_item.items()}
    return {}


def verify(report: dict[str, Any], outbox_dir: Path) -> list[str]:
    """What makes the demo fail: an event unaccounted for, a notification not settled, a message sent twice."""
    problems = []
    for event in report["events"]:
        if event["outcome"] not in {"dispatched", "rejected", "duplicate", "superseded"}:
            problems.append(f"event {event['source']} {event['id']} ended as {event['outcome']}")
    for step in report.get("intake", []):
        if step.get("rejected"):
            problems.append(f"{step['platform']} {step['file']} was rejected: {step['rejected']}")
        for event in step["events"]:
            if event["outcome"] not in {"dispatched", "duplicate", "superseded"}:
                problems.append(f"{step['platform']} {step['file']}: event {event['id']} ended as {event['outcome']}")
    for n in report["notifications"]:
        if n["status"] not in SETTLED_STATUSES:
            problems.append(f"{n['channel']} for {n['event_id']} is still {n['status']} (missing)")
    # The stand-ins' outbox holds what SendGrid and Twilio took; SES and SNS (failover, escalation) are emulated.
    primary = [n for n in report["notifications"] if n.get("provider") not in SECONDARY_PROVIDERS]
    email_dir = outbox_dir / "email"
    email_files = Counter(p.stem for p in email_dir.glob("*.eml")) if email_dir.exists() else Counter()
    sent_emails = [n for n in primary if n["channel"] == "email" and n["status"] == "sent"]
    if email_dir.exists() and len(list(email_dir.glob("*.eml"))) != len(sent_emails):
        problems.append(f"outbox holds {sum(email_files.values())} emails for {len(sent_emails)} sent notifications")
    sms_file = outbox_dir / "sms.jsonl"
    if sms_file.exists():
        sids = Counter(json.loads(line)["sid"] for line in sms_file.read_text().splitlines() if line.strip())
        recorded = Counter(n["provider_message_id"] for n in primary if n["channel"] == "sms")
        for sid, copies in sids.items():
            if copies > 1 or sid not in recorded:
                problems.append(f"SMS {sid} sent {copies} time(s), recorded {recorded.get(sid, 0)} time(s)")
        sent_sms = sum(1 for n in primary if n["channel"] == "sms" and n["status"] == "sent")
        if sum(sids.values()) != sent_sms:
            problems.append(f"outbox holds {sum(sids.values())} SMS for {sent_sms} sent notifications")
    problems += [order["link_problem"] for order in report.get("orders", []) if order.get("link_problem")]
    by_ses = sum(1 for n in report["notifications"] if n.get("provider") == "ses" and n["status"] == "sent")
    if "ses_sent" in report and report["ses_sent"] != by_ses:
        problems.append(f"SES accepted {report['ses_sent']} emails for {by_ses} notifications sent through it")
    return problems
