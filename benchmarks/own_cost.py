"""Own cost: Herald's CPU per notification, AWS requests per event, and AWS dollars per million notifications.

1. CPU: `time.process_time()` around Dispatcher.plan + Dispatcher.complete (batches of 10 events) and
   Sender.send for every message, with the ledger, the queue and the providers replaced by in-process fakes
   (benchmarks/fakes.py): what is left is Herald's own code (parsing, channel choice, rendering, the send
   state machine). The JSON (de)serialisation of the channel message by the SQS adapter and the handler's
   logging and metrics are not in it.
2. AWS requests: the real DynamoDbLedger and SqsChannelQueue over moto (mock_aws) clients wrapped in a counter,
   for each published sample event type, dispatched in batches of 10 and each notification sent once;
   printed beside the minimum the design allows.
3. Dollars per million notifications (order.placed: one email and one SMS per order) at published us-east-1
   on-demand prices (PRICES below, each with its source and the date it was read), from a stated duration model.

    python benchmarks/own_cost.py [--events 200]
"""

from __future__ import annotations

import argparse
import copy
import io
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
    import json

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
    cpu: dict[str, float], requests: dict[str, Any], provider_ms: float, aws_call_ms: float
) -> dict[str, Any]:
    """Dollars per million notifications for order.placed traffic, from a stated model of Lambda duration."""
    placed = requests["order.placed"]
    per_notification = 1 / placed["notifications_per_event"]
    ddb_writes = sum(v for k, v in {**placed["dispatch"], **placed["send"]}.items() if k.startswith("dynamodb."))
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
        "dynamodb_writes": ddb_writes * per_notification * PRICES["dynamodb_usd_per_write_request_unit"],
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
    cost = result["cost"]
    print(f"AWS cost per million notifications (order.placed; {cost['prices_source']}):")
    for name, usd in cost["usd_per_million"].items():
        print(f"  {name:<18} ${usd:>8.2f}")
    print(f"  {'total':<18} ${cost['usd_per_million_notifications']:>8.2f}")
    model = cost["model"]
    print(
        f"  model: {model['lambda_gb_seconds_per_notification']} GB-s per notification"
        f" (256 MB = {model['cpu_share_at_256mb']} vCPU;"
        f" {model['aws_call_ms']} ms per AWS call; provider {model['provider_ms']} ms; batch of 10 sent concurrently)"
    )
    print("  prices: " + ", ".join(f"{k}={v:.10g}" for k, v in cost["prices"].items()))


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
    cost = cost_per_million(cpu, requests, args.provider_ms, args.aws_call_ms)
    result = {"cpu": cpu, "cpu_all_sample_types": cpu_mix, "requests": requests, "cost": cost}
    report(result)
    print(f"  (all {len(SAMPLE_TYPES)} sample types: {cpu_mix['cpu_us_per_notification']:.0f} CPU us per notification)")
    placed = requests["order.placed"]
    emit_json(
        {
            "own_cost": result,
            "cpu_us_per_notification": round(cpu["cpu_us_per_notification"], 1),
            "aws_requests_per_order_placed": placed["total"],
            "usd_per_million_notifications": cost["usd_per_million_notifications"],
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
