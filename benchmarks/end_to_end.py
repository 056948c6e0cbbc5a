"""Local end to end: N orders (order.placed, one email and one SMS each) through the local runtime: moto with
template.yaml deployed in it, one sandbox process per function polling its queue as Lambda would, and the
SendGrid and Twilio stand-ins (answering at once: this measures Herald and the emulator, not a provider).

Latency of a notification: its `sent_at` in the notifications table (the sender's clock, after the provider
accepted it) minus the moment the publisher started sending the chunk of 10 events it was in. Throughput:
notifications sent per second from the first publish to the last `sent_at`.

    python benchmarks/end_to_end.py [--orders 50]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _aws import order_events
from _common import TEMPLATE, emit_json, percentile


def run(orders: int, timeout: float) -> dict[str, Any]:
    from herald_tools.local.demo import LOCAL_TWILIO_FROM, providers
    from herald_tools.local.runtime import LocalRuntime
    from herald_tools.publisher import Publisher

    events = order_events(orders, prefix=f"e2e{int(time.time())}")
    with tempfile.TemporaryDirectory(prefix="herald-bench-e2e-") as work:
        work_dir = Path(work)
        with (
            providers(work_dir / "outbox") as setup,
            LocalRuntime(
                TEMPLATE, extra_env=setup.env, log_dir=work_dir / "logs", stack_name="herald-bench"
            ) as runtime,
        ):
            if setup.real:
                raise RuntimeError(f"real provider credentials are set ({setup.real}); unset them to benchmark")
            secrets = runtime.aws.client("secretsmanager")
            twilio_secret = {**setup.twilio_secret, "from_number": LOCAL_TWILIO_FROM}
            for name, value in (("herald/sendgrid", setup.sendgrid_secret), ("herald/twilio", twilio_secret)):
                secrets.create_secret(Name=name, SecretString=json.dumps(value))
            outputs = runtime.stack.outputs
            publisher = Publisher(
                order_queue_url=outputs["OrderEventsQueueUrl"],
                shipment_queue_url=outputs["ShipmentEventsQueueUrl"],
                sqs_client=runtime.aws.client("sqs"),
            )
            published_at: dict[str, float] = {}
            first_publish = time.time()
            for start in range(0, len(events), 10):
                chunk = events[start : start + 10]
                now = time.time()
                report = publisher.publish(chunk)
                if report.rejected:
                    raise RuntimeError(f"publisher rejected {report.rejected}")
                published_at.update({event["id"]: now for event in chunk})
            settled = runtime.wait_until_settled(quiet_seconds=1.0, timeout=timeout)
            table = outputs["NotificationsTableName"]
            items = _scan(runtime.aws.client("dynamodb"), table)
    notifications = [i for i in items if i.get("kind", {}).get("S") == "notification"]
    sent = [n for n in notifications if n.get("status", {}).get("S") == "sent"]
    latencies = [
        datetime.fromisoformat(n["sent_at"]["S"]).timestamp() - published_at[n["event_id"]["S"]]
        for n in sent
        if n["event_id"]["S"] in published_at
    ]
    if not latencies:
        raise RuntimeError("no notification was sent")
    last_sent = max(datetime.fromisoformat(n["sent_at"]["S"]).timestamp() for n in sent)
    return {
        "orders": orders,
        "settled": settled,
        "expected_notifications": 2 * orders,
        "sent": len(sent),
        "not_sent": len(notifications) - len(sent),
        "seconds": round(last_sent - first_publish, 2),
        "notifications_per_second": round(len(sent) / (last_sent - first_publish), 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000),
            "p95": round(percentile(latencies, 0.95) * 1000),
            "p99": round(percentile(latencies, 0.99) * 1000),
            "max": round(max(latencies) * 1000),
        },
    }


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def report(result: dict[str, Any]) -> None:
    latency = result["latency_ms"]
    print(f"Local end to end ({result['orders']} orders through the local runtime, stand-ins answering at once)")
    print(
        f"  sent {result['sent']} of {result['expected_notifications']} notifications in {result['seconds']} s:"
        f" {result['notifications_per_second']} notifications/s"
    )
    print(
        f"  publish -> provider accepted: p50 {latency['p50']} ms, p95 {latency['p95']} ms,"
        f" p99 {latency['p99']} ms, max {latency['max']} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=50, help="order.placed events to publish (50)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the queues to settle")
    args = parser.parse_args(argv)
    result = run(args.orders, args.timeout)
    report(result)
    emit_json({"end_to_end": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
