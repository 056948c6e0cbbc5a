"""Soak: N events through the local runtime under injected faults, then every expected notification accounted for.

Faults: the SendGrid and Twilio stand-ins answer 429, 5xx and timeouts at the given rates; the functions die
(os._exit(137), see tools/herald_tools/faultinjection.py) before the provider call, after the provider accepted
but before the mark, and after the mark but before the SQS delete; DynamoDB answers a share of requests with
ProvisionedThroughputExceededException (botocore retries them). The local runtime starts a new sandbox for
every one that dies, as Lambda does.

Every expected notification must end in exactly one of: sent (the outbox holds it), failed with the
provider's permanent code (the Twilio test numbers that always fail), suppressed with the reason (after the
opted-out number's first 21610, its later SMS are stopped at dispatch), rejected (by dispatch), or in a DLQ.
`lost` counts the rest. A duplicate is a second provider acceptance of one notification (a second .eml for
its notification id; for SMS a second outbox line with its to and body); each is attributed to the crash
that interrupted that notification between the provider's acceptance and the mark ("after_accept": it had
passed the acceptance; "during_provider_call": the provider was answering it when the sandbox died), or
"none" when no crash explains it.

Time is shortened, not semantics: the working queues' VisibilityTimeout is set in the emulator to
--visibility-timeout (template.yaml: 180 s, 6x the 30 s function timeout; a crashed batch would otherwise
come back after 3 minutes), the claim lease to --lease, the provider client timeout to 2 s and retry
back-offs to 1-4 s. template.yaml itself is deployed unchanged.

    python benchmarks/soak.py [--events N] [--throttle-rate R] [--error-rate R] [--timeout-rate R]
        [--crash-rate R] [--dynamodb-throttle-rate R] [--seed S]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import tempfile
import time
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from _common import TEMPLATE, emit_json, load_event

# Twilio test numbers: one that accepts, and those the stand-in (like Twilio) always refuses, with the code.
VALID_PHONE = "+15005550006"
FAILING_PHONES = {"+15005550001": "21211", "+15005550002": "21612", "+15005550004": "21610", "+15005550009": "21614"}
SHIPMENT_TYPES = ("shipment.created", "shipment.out_for_delivery", "shipment.delivered")
WORKING_QUEUES = ("OrderEventsQueue", "ShipmentEventsQueue", "EmailQueue", "SmsQueue")
CHANNELS = ("email", "sms")


def generate_events(count: int, *, failing_share: float, shipment_share: float, seed: int) -> list[dict[str, Any]]:
    """`count` valid events, each its own order (and shipment): order.placed mostly, some shipment events."""
    rng = random.Random(seed)
    templates = {t: load_event(t) for t in ("order.placed", *SHIPMENT_TYPES)}
    run = f"{int(time.time())}"
    events = []
    for index in range(count):
        event_type = rng.choice(SHIPMENT_TYPES) if rng.random() < shipment_share else "order.placed"
        event = copy.deepcopy(templates[event_type])
        order_id = f"ord_soak{run}_{index:06d}"
        event["id"] = f"evt_soak{run}_{index:06d}"
        event["time"] = event["data"]["order"]["placed_at"]
        data = event["data"]
        data["order"]["id"] = order_id
        data["order"]["number"] = f"#S{index:06d}"
        data["customer"]["email"] = f"soak.{index:06d}@example.com"
        data["customer"]["sms_consent"] = True
        data["customer"]["phone"] = rng.choice(sorted(FAILING_PHONES)) if rng.random() < failing_share else VALID_PHONE
        if "shipment" in data:
            data["shipment"]["id"] = f"shp_soak{run}_{index:06d}"
            event["subject"] = f"shipment/{data['shipment']['id']}"
        else:
            event["subject"] = f"order/{order_id}"
        events.append(event)
    return events


def run(args: argparse.Namespace) -> dict[str, Any]:
    from herald_tools.faultinjection import ENV_VAR
    from herald_tools.local.demo import build_report, providers, publish, verify_ses_sender
    from herald_tools.local.runtime import LocalRuntime
    from herald_tools.local.standins.faults import FaultPlan

    events = generate_events(
        args.events, failing_share=args.failing_share, shipment_share=args.shipment_share, seed=args.seed
    )
    crash = {point: args.crash_rate for point in ("before_provider", "after_accept", "after_mark")}
    injection = {"crash": crash, "dynamodb_throttle": args.dynamodb_throttle_rate, "seed": args.seed}

    def plan(offset: int) -> FaultPlan:
        return FaultPlan(
            throttle_rate=args.throttle_rate,
            server_error_rate=args.error_rate,
            timeout_rate=args.timeout_rate,
            hang_seconds=3.0,  # past the 2 s client timeout set below
            seed=args.seed + offset,
            accept_on_timeout=args.accept_on_timeout,
        )

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="herald-soak-") as work:
        work_dir = Path(work)
        outbox_dir = work_dir / "outbox"
        with providers(outbox_dir, email_faults=plan(1), sms_faults=plan(2)) as setup:
            if setup.real:
                raise RuntimeError(f"real provider credentials are set ({setup.real}); unset them to soak")
            env = {
                **setup.env,
                "HERALD_RETRY_BASE_SECONDS": "1",
                "HERALD_RETRY_MAX_SECONDS": "4",
                "HERALD_PROVIDER_TIMEOUT_SECONDS": "2",
                # Longer than a claim can take to reach its mark (2 s provider timeout + DynamoDB retries).
                "HERALD_CLAIM_LEASE_SECONDS": str(args.lease),
                ENV_VAR: json.dumps(injection),
            }
            # Deadline checks are delayed as long as SQS allows and left out of the settling: the soak measures the
            # send path under faults, and its providers post no delivery reports (every confirmation would escalate).
            with LocalRuntime(
                TEMPLATE,
                parameters={"DeliveryDeadlineSeconds": "900"},
                extra_env=env,
                log_dir=work_dir / "logs",
                stack_name="herald-soak",
            ) as runtime:
                sqs = runtime.aws.client("sqs")
                for queue in WORKING_QUEUES:
                    sqs.set_queue_attributes(
                        QueueUrl=runtime.stack.queue_url(queue),
                        Attributes={"VisibilityTimeout": str(args.visibility_timeout)},
                    )
                secrets = runtime.aws.client("secretsmanager")
                for variable, value in (
                    ("HERALD_SENDGRID_SECRET_ID", setup.sendgrid_secret),
                    ("HERALD_TWILIO_SECRET_ID", setup.twilio_secret),
                ):
                    secrets.create_secret(Name=_function_env(runtime, variable), SecretString=json.dumps(value))
                verify_ses_sender(runtime)  # failover sends through the emulator's SES, from a verified sender
                published_at = time.monotonic()
                published = publish(runtime, events, paced=False)
                print(f"published {len(events)} events in {time.monotonic() - published_at:.1f} s; settling...")
                settled = runtime.wait_until_settled(quiet_seconds=3.0, timeout=args.timeout, ignore=("FollowupQueue",))
                report = build_report(runtime, published)
                dlq = _dead_letters(runtime)
                restarts = dict(runtime.restarts)
            crashes = _crash_records(work_dir / "logs")
            result = account(events, report, dlq, outbox_dir, crashes)
    result |= {
        "settled": settled,
        "seconds": round(time.monotonic() - started, 1),
        "crashes": dict(Counter(c["point"] for c in crashes)),
        "restarts": restarts,
        "faults": {
            "provider": {
                "throttle_rate": args.throttle_rate,
                "error_rate": args.error_rate,
                "timeout_rate": args.timeout_rate,
                "accept_on_timeout": args.accept_on_timeout,
            },
            **injection,
        },
    }
    return result


def _function_env(runtime: Any, name: str) -> str:
    for function in runtime.stack.functions:
        if name in function.environment:
            return str(function.environment[name])
    raise KeyError(f"no function of the stack reads {name}")


def _dead_letters(runtime: Any) -> set[tuple[str, str]]:
    """(event id, channel) of every notification parked in a DLQ: a channel message, or both channels of an
    event in an event DLQ (read from the queues themselves, not from the notification records)."""
    sqs = runtime.aws.client("sqs")
    parked: set[tuple[str, str]] = set()
    for logical_id in runtime.stack.dead_letter_queues:
        url = runtime.stack.queue_url(logical_id)
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                body = json.loads(message["Body"])
                if "channel" in body:
                    parked.add((body["event_id"], body["channel"]))
                else:
                    parked.update((body["id"], channel) for channel in CHANNELS)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return parked


def _crash_records(log_dir: Path) -> list[dict[str, Any]]:
    from herald_tools.faultinjection import LOG_PREFIX

    records = []
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(LOG_PREFIX):
                records.append(json.loads(line.removeprefix(LOG_PREFIX)))
    return records


def _email_acceptances(outbox_dir: Path) -> Counter[str]:
    """Event id -> emails the SendGrid stand-in accepted for it (one .eml per acceptance)."""
    accepted: Counter[str] = Counter()
    for path in (outbox_dir / "email").glob("*.eml"):
        with path.open("rb") as handle:
            headers = BytesHeaderParser().parse(handle)
        accepted[json.loads(headers["X-Standin-Custom-Args"])["event_id"]] += 1
    return accepted


def _sms_acceptances(outbox_dir: Path, sid_owner: dict[str, str], order_owner: dict[str, str]) -> Counter[str]:
    """Event id -> SMS the Twilio stand-in accepted for it. A line whose sid a notification recorded is that
    notification's; a line with the same (to, body) is a second copy of it; any other is matched by the
    order number its body quotes (a copy whose sends all went unrecorded)."""
    path = outbox_dir / "sms.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    by_text: dict[tuple[str, str], str] = {}
    for line in lines:
        if line["sid"] in sid_owner:
            by_text[(line["to"], line["body"])] = sid_owner[line["sid"]]
    accepted: Counter[str] = Counter()
    for line in lines:
        owner = by_text.get((line["to"], line["body"]))
        if owner is None:
            numbers = re.findall(r"#S\d{6}", line["body"])
            owner = order_owner.get(numbers[0]) if numbers else None
        accepted[owner or "(unknown)"] += 1
    return accepted


def account(
    events: list[dict[str, Any]],
    report: dict[str, Any],
    dlq: set[tuple[str, str]],
    outbox_dir: Path,
    crashes: list[dict[str, Any]],
) -> dict[str, Any]:
    from herald_tools.local.demo import SECONDARY_PROVIDERS

    records = {(n["event_id"], n["channel"]): n for n in report["notifications"]}
    outcomes = {e["id"]: e["outcome"] for e in report["events"]}
    emails = _email_acceptances(outbox_dir)
    sid_owner = {n["provider_message_id"]: n["event_id"] for n in report["notifications"] if n["channel"] == "sms"}
    order_owner = {e["data"]["order"]["number"]: e["id"] for e in events}
    sms = _sms_acceptances(outbox_dir, sid_owner, order_owner)
    # notification id -> the points it had reached in each crash that caught it in flight
    interrupted: dict[str, list[str]] = {}
    # notification id -> the crash points that fired (on whichever thread) while it was past the provider call
    killed_by: dict[str, list[str]] = {}
    for record in crashes:
        for notification, point in record["in_flight"].items():
            interrupted.setdefault(notification, []).append(point)
            if point in ("before_provider", "after_accept"):
                killed_by.setdefault(notification, []).append(record["point"])

    counts: Counter[str] = Counter()
    duplicates_by_point: Counter[str] = Counter()
    duplicates_by_fired_point: Counter[str] = Counter()
    lost_examples: list[dict[str, Any]] = []
    for event in events:
        source, event_id = event["source"], event["id"]
        expected_code = FAILING_PHONES.get(event["data"]["customer"]["phone"])
        for channel in CHANNELS:
            counts["expected_notifications"] += 1
            record = records.get((event_id, channel), {})
            acceptances = (emails if channel == "email" else sms)[event_id]
            if record.get("provider") in SECONDARY_PROVIDERS and record.get("status") == "sent":
                # Failover: the provider circuit opened under the injected errors and SES/SNS (the emulator's) took it.
                acceptances += 1
                counts["sent_by_secondary"] += 1
            if acceptances > 1:
                counts["duplicates"] += acceptances - 1
                points = interrupted.get(f"{source}|{event_id}|{channel}", [])
                cause = (
                    "after_accept"
                    if "after_accept" in points
                    else "during_provider_call"
                    if "before_provider" in points
                    else "none"
                )
                duplicates_by_point[cause] += acceptances - 1
                fired = killed_by.get(f"{source}|{event_id}|{channel}", ["none"])
                duplicates_by_fired_point[fired[0]] += acceptances - 1
            if channel == "sms" and expected_code is not None:
                if acceptances == 0 and record.get("status") == "failed" and record.get("error_code") == expected_code:
                    counts["failed"] += 1
                    continue
            elif acceptances >= 1:
                counts["sent"] += 1
                if record.get("status") != "sent":
                    counts["sent_not_marked"] += 1  # the customer has it; the record missed the mark
                continue
            if record.get("status") == "suppressed":
                # Not sent on purpose, with the reason: a number that refused an earlier SMS with 21610
                # (opted out) is suppressed at dispatch from then on.
                counts["suppressed"] += 1
            elif (event_id, channel) in dlq:
                counts["dlq"] += 1
            elif outcomes.get(event_id) == "rejected":
                counts["rejected"] += 1
            else:
                counts["lost"] += 1
                if len(lost_examples) < 10:
                    lost_examples.append(
                        {
                            "event_id": event_id,
                            "channel": channel,
                            "event_outcome": outcomes.get(event_id),
                            "status": record.get("status"),
                            "error_code": record.get("error_code"),
                            "expected_code": expected_code if channel == "sms" else None,
                            "acceptances": acceptances,
                        }
                    )
    return {
        "events": len(events),
        "expected_notifications": counts["expected_notifications"],
        "sent": counts["sent"],
        "failed": counts["failed"],
        "rejected": counts["rejected"],
        "dlq": counts["dlq"],
        "lost": counts["lost"],
        "duplicates": counts["duplicates"],
        "duplicates_by_crash_point": dict(duplicates_by_point),
        # the point whose crash killed the sandbox (another thread's, often: a batch is sent concurrently)
        "duplicates_by_fired_point": dict(duplicates_by_fired_point),
        "sent_not_marked": counts["sent_not_marked"],
        "sent_by_secondary": counts["sent_by_secondary"],
        "suppressed": counts["suppressed"],
        "unattributed_sms": sms["(unknown)"],
        "lost_examples": lost_examples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400, help="events to publish (400: about 3 minutes here)")
    parser.add_argument("--throttle-rate", type=float, default=0.05, help="share of provider calls answered 429")
    parser.add_argument("--error-rate", type=float, default=0.05, help="share of provider calls answered 5xx")
    parser.add_argument("--timeout-rate", type=float, default=0.02, help="share of provider calls that hang")
    parser.add_argument(
        "--accept-on-timeout",
        action="store_true",
        help="a hung call was accepted by the provider (a duplicate no design without provider idempotency avoids)",
    )
    parser.add_argument("--crash-rate", type=float, default=0.01, help="probability of a crash at each crash point")
    parser.add_argument(
        "--dynamodb-throttle-rate", type=float, default=0.02, help="share of DynamoDB requests throttled"
    )
    parser.add_argument("--failing-share", type=float, default=0.1, help="share of customers on failing numbers")
    parser.add_argument("--shipment-share", type=float, default=0.3, help="share of shipment events")
    parser.add_argument("--visibility-timeout", type=int, default=10, help="working queues' visibility timeout (s)")
    parser.add_argument("--lease", type=int, default=8, help="claim lease (s): longer than claim -> mark takes")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the queues to settle")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = run(args)
    print(
        f"Soak: {result['events']} events, {result['expected_notifications']} notifications expected in"
        f" {result['seconds']} s (settled: {result['settled']}); crashes {result['crashes']},"
        f" sandbox restarts {result['restarts']}"
    )
    print(
        f"  sent {result['sent']}, failed {result['failed']}, suppressed {result['suppressed']},"
        f" rejected {result['rejected']}, dlq {result['dlq']},"
        f" lost {result['lost']}; duplicates {result['duplicates']} {result['duplicates_by_crash_point']}"
    )
    for example in result["lost_examples"]:
        print(f"  lost: {example}")
    emit_json(result)
    return 0 if result["lost"] == 0 and result["duplicates_by_crash_point"].get("none", 0) == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
