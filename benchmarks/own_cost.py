"""Own cost: Herald's CPU per notification, AWS requests per event, and AWS dollars per million notifications.

1. CPU: `time.process_time()` around Dispatcher.plan + Dispatcher.complete (batches of 10 events) and
   Sender.send for every message, with the ledger, the queue and the providers replaced by in-process fakes
   (benchmarks/fakes.py): what is left is Herald's own code (parsing, channel choice, rendering, the send
   state machine). The JSON (de)serialisation of the channel message by the SQS adapter and the handler's
   logging and metrics are not in it.
2. AWS requests: the real DynamoDbLedger and SqsChannelQueue over moto (mock_aws) clients wrapped in a counter,
   for each published sample event type, dispatched in batches of 10 and each notification sent once;
   printed beside the minimum the design allows. Then DynamoDB writes as deployed: the real dispatch, send-email
   and send-sms handlers over moto with the order page and the intake's join on, every write of their client
   counted in items and WRUs (herald_tools.write_meter), for order.placed and a parcel's story after it.
3. Dollars per million notifications (order.placed: one email and one SMS per order) at published us-east-1
   on-demand prices (PRICES below, each with its source and the date it was read), from a stated duration model.

    python benchmarks/own_cost.py [--events 200]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import time
from contextlib import redirect_stdout
from typing import Any

from _common import EVENTS_DIR, emit_json, load_event

from herald.domain.phone import to_e164
from herald_tools.local.ports import accepting_twilio_test_numbers

# Published on-demand prices, US East (N. Virginia), read on 2026-11-27 (see benchmarks/README.md for sources).
PRICES = {
    "lambda_arm64_usd_per_gb_second": 0.0000133334,  # aws.amazon.com/lambda/pricing (first 7.5 billion GB-s/month)
    "lambda_usd_per_request": 0.20 / 1_000_000,  # aws.amazon.com/lambda/pricing
    "sqs_standard_usd_per_request": 0.40 / 1_000_000,  # aws.amazon.com/sqs/pricing (first 100 billion/month; per 64 KB)
    "dynamodb_usd_per_write_request_unit": 0.625
    / 1_000_000,  # aws.amazon.com/dynamodb/pricing/on-demand (Nov 2024 cut)
    "dynamodb_usd_per_read_request_unit": 0.125 / 1_000_000,  # same page
}
PRICES_SOURCE = "AWS public pricing pages for Lambda, SQS and DynamoDB on-demand, us-east-1, read 2026-11-27"
BATCH = 10
MEMORY_GB = 0.25  # template.yaml: MemorySize 256, arm64
# Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB.
CPU_SHARE = 256 / 1769
# The sample events' phones are Twilio test numbers: read them as the local runtime does, or no SMS is counted.
LOCAL_PHONE_RULE = accepting_twilio_test_numbers(to_e164)
SAMPLE_TYPES = sorted(p.stem for p in EVENTS_DIR.glob("*.json"))


def _events(event_type: str, count: int, prefix: str) -> list[dict[str, Any]]:
    template = load_event(event_type)
    events = []
    for index in range(count):
        event = copy.deepcopy(template)
        event["id"] = f"evt_{prefix}_{index:06d}"
        event["data"]["order"]["id"] = f"ord_{prefix}_{index:06d}"
        if "shipment" in event["data"]:
            event["data"]["shipment"]["id"] = f"shp_{prefix}_{index:06d}"
        events.append(event)
    return events


def _bodies(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(event) for event in events]


def cpu_per_notification(event_types: list[str], count: int) -> dict[str, float]:
    """CPU microseconds of dispatch + send per notification, with every port faked."""
    from fakes import BENCH_SENDER_ID, EverySource, FakeLedger, FakeProvider, FakeQueue

    from herald.domain.channel_registry import CHANNELS
    from herald.rendering.renderer import Renderer
    from herald.usecases.dispatch import Dispatcher
    from herald.usecases.ports import Direct
    from herald.usecases.send import RetryPolicy, Sender

    ledger, queue = FakeLedger(), FakeQueue()
    dispatcher = Dispatcher(ledger, queue, Renderer(), storefronts=EverySource(), phone=LOCAL_PHONE_RULE)
    senders = {
        channel: Sender(ledger, Direct(FakeProvider(channel)), lease_seconds=60, retry=RetryPolicy())
        for channel in CHANNELS
    }
    bodies = [body for t in event_types for body in _bodies(_events(t, count, t.replace(".", "_")))]
    # Warm-up: template compilation and first-use caches belong to the cold start, not to each notification.
    warm = _bodies(_events(event_types[0], 3, "warm"))
    dispatcher.complete([dispatcher.plan(body, "warm", BENCH_SENDER_ID) for body in warm])
    for message in queue.messages:
        senders[message.channel].send(message, receive_count=1)
    queue.messages.clear()

    started = time.process_time()
    for start in range(0, len(bodies), BATCH):
        batch = bodies[start : start + BATCH]
        dispatcher.complete([dispatcher.plan(body, f"m{start + i}", BENCH_SENDER_ID) for i, body in enumerate(batch)])
    dispatched = time.process_time()
    for message in queue.messages:
        senders[message.channel].send(message, receive_count=1)
    finished = time.process_time()
    notifications = len(queue.messages)
    if notifications == 0:
        raise RuntimeError("no notification was planned")
    return {
        "events": len(bodies),
        "notifications": notifications,
        "dispatch_us_per_event": (dispatched - started) / len(bodies) * 1e6,
        "send_us_per_notification": (finished - dispatched) / notifications * 1e6,
        "cpu_us_per_notification": (finished - started) / notifications * 1e6,
    }


def aws_requests_per_event() -> dict[str, Any]:
    """For each sample type: AWS API calls per event (dispatch and send), counted over moto."""
    from _aws import bench_aws
    from fakes import BENCH_SENDER_ID, CountingClient, EverySource, FakeProvider

    from herald.adapters.dynamodb_followup import DynamoDbFollowUps
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.adapters.sqs_followups import SqsFollowUpQueue
    from herald.adapters.sqs_queue import SqsChannelQueue
    from herald.contract.models import event_data
    from herald.contract.parsing import parse_event
    from herald.domain.channel_registry import CHANNELS
    from herald.domain.channels import choose_channels, fallback_channels
    from herald.domain.notification import Channel
    from herald.rendering.renderer import Renderer
    from herald.usecases.dispatch import Dispatcher
    from herald.usecases.ports import Direct
    from herald.usecases.send import RetryPolicy, Sender

    results: dict[str, Any] = {}
    with bench_aws() as aws:
        from _aws import TABLE

        for event_type in SAMPLE_TYPES:
            dispatch_counts: dict[str, int] = {}
            send_counts: dict[str, int] = {}
            ledger = DynamoDbLedger(CountingClient(aws.dynamodb, dispatch_counts, "dynamodb"), TABLE)
            queue = SqsChannelQueue(
                CountingClient(aws.sqs, dispatch_counts, "sqs"),
                {Channel.EMAIL: aws.queues["email"], Channel.SMS: aws.queues["sms"]},
            )
            followups = SqsFollowUpQueue(CountingClient(aws.sqs, dispatch_counts, "sqs"), aws.queues["followup"])
            dispatcher = Dispatcher(
                ledger,
                queue,
                Renderer(),
                storefronts=EverySource("o@acme.example", "S"),
                followups=followups,
                deadline_seconds=0,  # due at once, so that the follow-up's reads are counted here too
                phone=LOCAL_PHONE_RULE,
            )
            bodies = _bodies(_events(event_type, BATCH, f"count_{event_type.replace('.', '_')}"))
            planned = [dispatcher.plan(body, f"m{i}", BENCH_SENDER_ID) for i, body in enumerate(bodies)]
            dispatcher.complete(planned)
            messages = [m for result in planned for m in result.messages]
            send_ledger = DynamoDbLedger(CountingClient(aws.dynamodb, send_counts, "dynamodb"), TABLE)
            for message in messages:
                Sender(send_ledger, Direct(FakeProvider(message.channel)), lease_seconds=60, retry=RetryPolicy()).send(
                    message, receive_count=1
                )
            # The follow-up function at the deadline: one Query per check (an event nobody confirmed would
            # add an escalation; here each is taken as confirmed, the usual case).
            followup_counts: dict[str, int] = {}
            checks = _deadline_checks(aws)
            store = DynamoDbFollowUps(CountingClient(aws.dynamodb, followup_counts, "dynamodb"), TABLE)
            for check in checks:
                store.event_notifications(check.source, check.order_id, check.event_id)
            per_event = len(messages) / BATCH
            event = parse_event(bodies[0])
            customer = event_data(event).customer
            decisions = choose_channels(event.type, customer, phone=LOCAL_PHONE_RULE)
            # each decision is recorded (sent or skipped), and each reachable other channel in standby
            decided = len(decisions) + len(fallback_channels(customer, decisions, phone=LOCAL_PHONE_RULE))
            shipment = event_type.startswith("shipment.")
            # begin the event, move the shipment, record each decision, finish the event; claim + mark per send
            minimum_ddb = 1 + (1 if shipment else 0) + decided + 1 + 2 * per_event
            minimum_sqs = sum(math.ceil(sum(1 for m in messages if m.channel is c) / BATCH) for c in CHANNELS) / BATCH
            minimum_sqs += math.ceil(len(checks) / BATCH) / BATCH  # the deadline checks, batched
            calls = {
                **dispatch_counts,
                **{f"{k} (send)": v for k, v in send_counts.items()},
                **{f"{k} (follow-up)": v for k, v in followup_counts.items()},
            }
            results[event_type] = {
                "dynamodb_calls": sum(v for k, v in calls.items() if k.startswith("dynamodb.")) / BATCH,
                "notifications_per_event": per_event,
                "dispatch": {k: v / BATCH for k, v in sorted(dispatch_counts.items())},
                "send": {k: v / BATCH for k, v in sorted(send_counts.items())},
                "followup": {k: v / BATCH for k, v in sorted(followup_counts.items())},
                "total": sum(calls.values()) / BATCH,
                "minimum": {
                    "dynamodb_writes": minimum_ddb,
                    "dynamodb_reads": len(checks) / BATCH,
                    "sqs_send_batches": minimum_sqs,
                },
            }
    return results


REGISTRY_PATH = "/herald/bench/storefronts"
PAGE_SECRET = "herald/bench/order-pages"  # noqa: S105 - a secret's name
# A carrier's story of one parcel after the order: each scan carries the shipment block of the first (the estimate
# unchanged), as carriers mostly report.
STORY = ("shipment.in_transit", "shipment.out_for_delivery", "shipment.delivered")


def writes_through_handlers(orders: int = BATCH) -> dict[str, Any]:
    """DynamoDB writes and WRUs per event and per notification, counted on the functions' own client while the
    real dispatch, send-email and send-sms handlers run over moto, deployed as the template deploys them (the order
    page and the intake's join on): `orders` orders placed, then each parcel's story (STORY)."""
    import boto3
    from _aws import FakeContext, bench_aws, order_events
    from fakes import BENCH_SENDER_ID

    from herald.adapters.ssm_storefronts import SsmStorefronts
    from herald.domain.storefront import Storefront
    from herald.handlers import dispatch, send_email, send_sms, wiring
    from herald.handlers.aws import aws_client
    from herald_tools.local.ports import install_local_ports
    from herald_tools.write_meter import WriteMeter

    results: dict[str, Any] = {}
    with bench_aws() as aws:
        import os

        ssm = boto3.client("ssm", region_name=aws.dynamodb.meta.region_name)
        SsmStorefronts(ssm, REGISTRY_PATH).put(
            Storefront.model_validate(
                {
                    "source": "storefront/acme-outdoor",
                    "name": "Acme Outdoor",
                    "email_from": "orders@acme.example",
                    "sendgrid_secret_id": "herald/sendgrid",
                    "twilio_secret_id": "herald/twilio",
                    "sms_from": "+15005550006",
                    "publishers": (BENCH_SENDER_ID,),
                }
            )
        )
        boto3.client("secretsmanager", region_name=aws.dynamodb.meta.region_name).create_secret(
            Name=PAGE_SECRET, SecretString=json.dumps({"keys": ["p" * 40]})
        )
        os.environ.update(
            {
                "HERALD_STOREFRONTS_PATH": REGISTRY_PATH,
                "HERALD_FOLLOWUP_QUEUE_URL": aws.queues["followup"],
                "HERALD_ORDER_EVENTS_QUEUE_URL": aws.queues["order-events"],
                "HERALD_SHIPMENT_EVENTS_QUEUE_URL": aws.queues["shipment-events"],
                "HERALD_ORDER_PAGE_BASE_URL": "https://abc123defg.execute-api.us-east-1.amazonaws.com",
                "HERALD_ORDER_PAGE_SECRET_ID": PAGE_SECRET,
                # Counted, not timed: a provider call slowed by a loaded machine must not become a retry's writes.
                "HERALD_PROVIDER_TIMEOUT_SECONDS": "60",
            }
        )
        wiring.reset()
        uninstall = install_local_ports()  # the samples' phones are Twilio test numbers
        meter = WriteMeter.attach(aws_client("dynamodb"))
        placed = order_events(orders, prefix="writes")
        stories = []
        for step, event_type in enumerate(STORY):
            story = []
            for index, order in enumerate(placed):
                event = json.loads(json.dumps(load_event(event_type)))
                event["id"] = f"evt_writes_{index:06d}_{event_type}"
                event["time"] = f"2026-10-31T{10 + step:02d}:00:00Z"
                event["data"]["order"] = order["data"]["order"]
                event["data"]["shipment"] = load_event(STORY[0])["data"]["shipment"] | {"id": f"shp_writes_{index}"}
                story.append(event)
            stories.append((event_type, story))
        try:
            for event_type, events in [("order.placed", placed), *stories]:
                meter.reset()
                queue = "shipment-events" if event_type.startswith("shipment.") else "order-events"
                for event in events:
                    aws.sqs.send_message(QueueUrl=aws.queues[queue], MessageBody=json.dumps(event))
                sent = 0
                handlers = ((queue, dispatch.handler), ("email", send_email.handler), ("sms", send_sms.handler))
                for name, handler in handlers:
                    while True:
                        batch = aws.receive(name, BATCH)
                        if not batch["Records"]:
                            break
                        with redirect_stdout(io.StringIO()):
                            response = handler(batch, FakeContext())
                        if response["batchItemFailures"]:
                            raise RuntimeError(f"{name} failed: {response}")
                        for record in batch["Records"]:
                            aws.sqs.delete_message(QueueUrl=aws.queues[name], ReceiptHandle=record["receiptHandle"])
                        sent += len(batch["Records"]) if name != queue else 0
                results[event_type] = {
                    "events": len(events),
                    "notifications_sent": sent,
                    "writes_per_event": meter.writes / len(events),
                    "wru_per_event": meter.wru / len(events),
                    "by_item": {kind: n / len(events) for kind, n in meter.by_kind().items()},
                    "largest_item_bytes": meter.largest(),
                }
        finally:
            uninstall()
            wiring.reset()
    story_types = ["order.placed", *STORY]
    notifications = sum(results[t]["notifications_sent"] for t in story_types)
    writes = sum(results[t]["writes_per_event"] * results[t]["events"] for t in story_types)
    wru = sum(results[t]["wru_per_event"] * results[t]["events"] for t in story_types)
    first = results["order.placed"]
    return {
        "per_event_type": results,
        "dynamodb_writes_per_notification": round(first["writes_per_event"] * orders / first["notifications_sent"], 3),
        "dynamodb_wru_per_notification": round(first["wru_per_event"] * orders / first["notifications_sent"], 3),
        "story_writes_per_notification": round(writes / notifications, 3),
        "story_wru_per_notification": round(wru / notifications, 3),
        "story": story_types,
    }


def _deadline_checks(aws: Any) -> list[Any]:
    """Take every deadline check off the follow-up queue (they are delayed in production, due at once here)."""
    from herald.domain.redundancy import FollowUpRequest

    checks: list[Any] = []
    while True:
        response = aws.sqs.receive_message(QueueUrl=aws.queues["followup"], MaxNumberOfMessages=10)
        messages = response.get("Messages", [])
        if not messages:
            return checks
        for message in messages:
            checks.append(FollowUpRequest.model_validate_json(message["Body"]))
            aws.sqs.delete_message(QueueUrl=aws.queues["followup"], ReceiptHandle=message["ReceiptHandle"])


def cost_per_million(
    cpu: dict[str, float], requests: dict[str, Any], writes: dict[str, Any], provider_ms: float, aws_call_ms: float
) -> dict[str, Any]:
    """Dollars per million notifications for order.placed traffic, from a stated model of Lambda duration."""
    placed = requests["order.placed"]
    per_notification = 1 / placed["notifications_per_event"]
    # Writes as deployed (the page and the join on), counted through the handlers; billed per WRU (1 KB each).
    ddb_writes = writes["per_event_type"]["order.placed"]["writes_per_event"]
    ddb_wru = writes["per_event_type"]["order.placed"]["wru_per_event"]
    herald_sqs = sum(v for k, v in placed["dispatch"].items() if k.startswith("sqs."))
    # Lambda's poller: per batch of 10, one ReceiveMessage and one DeleteMessageBatch on the source queue, for
    # the order-events queue and for each channel queue (the storefront's SendMessageBatch is its own bill).
    checks_per_event = placed["minimum"]["dynamodb_reads"]  # one deadline check (and its Query) per message
    poller_sqs_per_event = 2 / BATCH + (placed["notifications_per_event"] + checks_per_event) * 2 / BATCH
    # Duration model (stated, not measured in Lambda): CPU scaled by the 256 MB share of a vCPU, plus each
    # AWS call of a record waited for in turn, plus the provider call; a batch of 10 sends concurrently.
    dispatch_s = BATCH * (cpu["dispatch_us_per_event"] / 1e6 / CPU_SHARE + 4 * aws_call_ms / 1000)
    send_s = BATCH * cpu["send_us_per_notification"] / 1e6 / CPU_SHARE + 2 * aws_call_ms / 1000 + provider_ms / 1000
    gb_seconds = MEMORY_GB * (dispatch_s / BATCH * per_notification + send_s / BATCH)
    invocations = per_notification / BATCH + 1 / BATCH
    parts = {
        "lambda_duration": gb_seconds * PRICES["lambda_arm64_usd_per_gb_second"],
        "lambda_requests": invocations * PRICES["lambda_usd_per_request"],
        "sqs_requests": (herald_sqs + poller_sqs_per_event) * per_notification * PRICES["sqs_standard_usd_per_request"],
        "dynamodb_writes": ddb_wru * per_notification * PRICES["dynamodb_usd_per_write_request_unit"],
        # A deadline check's Query: eventually consistent, under 4 KB: half a read request unit.
        "dynamodb_reads": checks_per_event * 0.5 * per_notification * PRICES["dynamodb_usd_per_read_request_unit"],
    }
    return {
        "usd_per_million": {k: round(v * 1e6, 2) for k, v in parts.items()},
        "usd_per_million_notifications": round(sum(parts.values()) * 1e6, 2),
        "model": {
            "lambda_gb_seconds_per_notification": round(gb_seconds, 6),
            "dispatch_batch_seconds": round(dispatch_s, 4),
            "send_batch_seconds": round(send_s, 4),
            "provider_ms": provider_ms,
            "aws_call_ms": aws_call_ms,
            "cpu_share_at_256mb": round(CPU_SHARE, 3),
            "dynamodb_writes_per_notification": ddb_writes * per_notification,
            "dynamodb_wru_per_notification": ddb_wru * per_notification,
            "sqs_requests_per_notification": (herald_sqs + poller_sqs_per_event) * per_notification,
        },
        "prices": PRICES,
        "prices_source": PRICES_SOURCE,
    }


def report(result: dict[str, Any]) -> None:
    cpu = result["cpu"]
    print(f"Own CPU (fakes for ledger, queue, providers; {cpu['events']} events, {cpu['notifications']} notifications)")
    print(
        f"  dispatch: {cpu['dispatch_us_per_event']:.0f} us per event;"
        f" send: {cpu['send_us_per_notification']:.0f} us per notification"
    )
    print(f"  dispatch + send: {cpu['cpu_us_per_notification']:.0f} CPU us per notification")
    print("AWS requests per event (counted over moto; batches of 10 events; minimum the design allows in brackets)")
    for event_type, figures in result["requests"].items():
        calls = {
            **{f"dispatch {k}": v for k, v in figures["dispatch"].items()},
            **{f"send {k}": v for k, v in figures["send"].items()},
            **{f"follow-up {k}": v for k, v in figures["followup"].items()},
        }
        text = ", ".join(f"{k} {v:g}" for k, v in calls.items())
        minimum = figures["minimum"]
        print(
            f"  {event_type:<30} {figures['total']:>5g} calls ({figures['notifications_per_event']:g} notifications):"
            f" {text}  [min: {minimum['dynamodb_writes']:g} DynamoDB writes, {minimum['dynamodb_reads']:g} reads,"
            f" {minimum['sqs_send_batches']:g} SendMessageBatch;"
            f" counted {figures['dynamodb_calls']:g} DynamoDB]"
        )
    writes = result["writes"]
    print(
        "DynamoDB writes through the real handlers over moto (order page and join on; items written, WRUs at 1 KB each)"
    )
    for event_type, figures in writes["per_event_type"].items():
        items = ", ".join(f"{kind} {n:g}" for kind, n in figures["by_item"].items())
        print(
            f"  {event_type:<26} {figures['writes_per_event']:>5g} writes {figures['wru_per_event']:>5g} WRU per event"
            f" ({figures['notifications_sent']} sent for {figures['events']}): {items}"
        )
    print(
        f"  order.placed: {writes['dynamodb_writes_per_notification']:g} writes,"
        f" {writes['dynamodb_wru_per_notification']:g} WRU per notification;"
        f" with the parcel's story ({', '.join(writes['story'])}): {writes['story_writes_per_notification']:g} writes,"
        f" {writes['story_wru_per_notification']:g} WRU per notification"
    )
    cost = result["cost"]
    print(f"AWS cost per million notifications (order.placed; {cost['prices_source']}):")
    print_usd_lines(cost, indent="  ")
    model = cost["model"]
    print(
        f"  model: {model['lambda_gb_seconds_per_notification']} GB-s per notification"
        f" (256 MB = {model['cpu_share_at_256mb']} vCPU;"
        f" {model['aws_call_ms']} ms per AWS call; provider {model['provider_ms']} ms; batch of 10 sent concurrently)"
    )
    print("  prices: " + ", ".join(f"{k}={v:.10g}" for k, v in cost["prices"].items()))


def print_usd_lines(cost: dict[str, Any], *, indent: str) -> None:
    """A cost's dollars per million notifications, one line a part, then the total (reference_cost.py prints its
    own the same way, beside these)."""
    for name, usd in cost["usd_per_million"].items():
        print(f"{indent}{name:<18} ${usd:>8.2f}")
    print(f"{indent}{'total':<18} ${cost['usd_per_million_notifications']:>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200, help="order.placed events for the CPU figure (200)")
    parser.add_argument("--provider-ms", type=float, default=200.0, help="provider call in the duration model (200)")
    parser.add_argument("--aws-call-ms", type=float, default=8.0, help="one DynamoDB/SQS call in the model (8)")
    args = parser.parse_args(argv)
    with redirect_stdout(io.StringIO()):
        cpu = cpu_per_notification(["order.placed"], args.events)
        cpu_mix = cpu_per_notification(SAMPLE_TYPES, max(1, args.events // len(SAMPLE_TYPES)))
        requests = aws_requests_per_event()
        writes = writes_through_handlers()
    cost = cost_per_million(cpu, requests, writes, args.provider_ms, args.aws_call_ms)
    result = {"cpu": cpu, "cpu_all_sample_types": cpu_mix, "requests": requests, "writes": writes, "cost": cost}
    report(result)
    print(f"  (all {len(SAMPLE_TYPES)} sample types: {cpu_mix['cpu_us_per_notification']:.0f} CPU us per notification)")
    placed = requests["order.placed"]
    emit_json(
        {
            "own_cost": result,
            "cpu_us_per_notification": round(cpu["cpu_us_per_notification"], 1),
            "aws_requests_per_order_placed": placed["total"],
            "usd_per_million_notifications": cost["usd_per_million_notifications"],
            "dynamodb_writes_per_notification": writes["dynamodb_writes_per_notification"],
            "dynamodb_wru_per_notification": writes["dynamodb_wru_per_notification"],
            "dynamodb_writes_per_notification_with_shipments": writes["story_writes_per_notification"],
            "dynamodb_wru_per_notification_with_shipments": writes["story_wru_per_notification"],
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
