"""The whole pipeline on the local runtime, from template.yaml: what a new user sees with `make demo`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from herald_tools.local.demo import run_demo
from herald_tools.local.standins.faults import FaultPlan

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ROOT / "events" / "demo" / "lifecycle.jsonl"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`herald demo --report` run as a user runs it, in its own process."""
    workdir = tmp_path_factory.mktemp("demo")
    report = workdir / "report.json"
    completed = subprocess.run(  # noqa: S603 - our own CLI, run by the current interpreter
        [
            sys.executable,
            "-m",
            "herald_tools.cli",
            "demo",
            "--report",
            str(report),
            "--outbox",
            str(workdir / "outbox"),
            "--template",
            str(ROOT / "template.yaml"),
            "--events",
            str(LIFECYCLE),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        # A bound, not a measure: the story (lifecycle and platform stories) takes 2-3 min on a loaded 2-core machine.
        timeout=600,
        check=False,
    )
    return {
        "returncode": completed.returncode,
        "stdout": completed.stdout,
        "stderr": completed.stderr,
        "report": json.loads(report.read_text()) if report.exists() else None,
        "outbox": workdir / "outbox",
    }


def test_demo_exits_zero_and_accounts_for_every_published_line(demo: dict) -> None:
    # Given the lifecycle sample (31 events, 14 stage directives); When `herald demo` runs it
    # Then it succeeds and reports each event line
    # (a stage directive whose condition never held says which on stderr)
    assert demo["returncode"] == 0, demo["stdout"][-3000:] + demo["stderr"][-3000:]
    lines = LIFECYCLE.read_text().splitlines()
    assert len(demo["report"]["events"]) == len([line for line in lines if "herald_demo" not in line]) == 31
    assert "Every event is accounted for" in demo["stdout"]


def test_demo_outcomes_follow_the_contract_rules(demo: dict) -> None:
    outcomes = {(e["id"], e["outcome"]) for e in demo["report"]["events"]}
    # Then duplicates, unknown types, missing fields, later in-transit scans and late scans are each handled
    assert Counter(o for _, o in outcomes) == Counter(
        {"dispatched": 26, "rejected": 2, "superseded": 2, "duplicate": 1}
    )
    reasons = {e["id"]: e["reason"] for e in demo["report"]["events"]}
    assert "unknown event type 'order.shipped'" in reasons["evt_1001_shipped"]
    assert "data.customer" in reasons["evt_1002_cancelled_no_customer"]
    assert "already notified" in reasons["evt_shp_1001_1_in_transit_2"]
    assert "in_transit does not follow delivered" in reasons["evt_shp_1001_1_in_transit_3"]


def test_outbox_holds_exactly_one_message_per_sent_notification(demo: dict) -> None:
    notifications = demo["report"]["notifications"]
    sent = Counter(n["channel"] for n in notifications if n["status"] == "sent")
    emails = list((demo["outbox"] / "email").glob("*.eml"))
    sms = [json.loads(line) for line in (demo["outbox"] / "sms.jsonl").read_text().splitlines()]
    # Then 33 emails (30 by SendGrid, 8 of them to the Shopify order's customer; 3 by SES during the outage) and
    # 20 SMS (19 by Twilio, 1 escalation by SNS) went out (events/demo/README.md), each once, each recorded with
    # its provider id
    assert (sent["email"], sent["sms"]) == (33, 20)
    by_provider = Counter((n["channel"], n["provider"]) for n in notifications if n["status"] == "sent")
    assert by_provider == {("email", "sendgrid"): 30, ("email", "ses"): 3, ("sms", "twilio"): 19, ("sms", "sns"): 1}
    assert len(emails) == 30
    assert len({p.stem for p in emails}) == 30
    assert len(sms) == 19
    assert sorted(s["sid"] for s in sms) == sorted(
        n["provider_message_id"]
        for n in notifications
        if n["channel"] == "sms" and n["status"] == "sent" and n["provider"] == "twilio"
    )
    assert demo["report"]["ses_sent"] == 3


def test_invalid_events_send_nothing_and_opted_out_sms_fails_with_twilio_code(demo: dict) -> None:
    notifications = demo["report"]["notifications"]
    rejected_ids = {e["id"] for e in demo["report"]["events"] if e["outcome"] == "rejected"}
    assert not [n for n in notifications if n["event_id"] in rejected_ids]
    failed = [n for n in notifications if n["status"] == "failed"]
    assert [(n["event_id"], n["channel"], n["error_code"], n["attempts"]) for n in failed] == [
        ("evt_1004_placed", "sms", "21610", 1)
    ]


def test_demo_tells_a_fallback_a_failover_and_back_and_a_suppression(demo: dict) -> None:
    notifications = {(n["event_id"], n["channel"]): n for n in demo["report"]["notifications"]}
    # Then the bounced email-first confirmation (#1006) fell back to SMS, which was delivered
    fallback = notifications[("evt_1006_placed", "sms")]
    assert (fallback["status"], fallback["fallback_of"], fallback["delivery_status"]) == ("sent", "email", "delivered")
    assert notifications[("evt_1006_placed", "email")]["delivery_status"] == "bounced"
    # And during the SendGrid outage email went through SES, and after the probe through SendGrid again
    for order in (1007, 1008, 1009):
        email = notifications[(f"evt_{order}_placed", "email")]
        assert (email["provider"], email["route_reason"]) == ("ses", "failover: sendgrid circuit open")
    assert notifications[("evt_1010_placed", "email")]["provider"] == "sendgrid"
    # And STOP from Sam's phone suppressed the SMS of his later events, with the reason
    for event_id in ("evt_1002_backordered", "evt_1002_cancelled"):
        sms = notifications[(event_id, "sms")]
        assert sms["status"] == "suppressed"
        assert "STOP" in sms["reason"]
    # And the confirmation to a phone whose carrier never confirms was escalated through SNS at the deadline
    escalations = [n for n in demo["report"]["notifications"] if n["escalation_of"]]
    assert [(n["event_id"], n["channel"], n["provider"], n["status"]) for n in escalations] == [
        ("evt_1011_placed", "sms", "sns", "sent")
    ]
    # And the summary counts them
    printed = " ".join(demo["stdout"].split())  # rich wraps long lines at the terminal's width
    assert "Redundancy: 1 fallback, 3 failover, 1 recovered, 2 suppressed, 1 escalated" in printed


def test_delivered_email_carries_the_photo_and_escapes_nothing_unsafe(demo: dict) -> None:
    html = next((demo["outbox"] / "email").glob("*evt_shp_1001_1_delivered*email.html")).read_text()
    assert "<img" in html
    assert "https://www.google.com/maps/search/?api=1&amp;query=39.7392,-104.9903" in html


def test_every_told_order_has_the_page_link_its_messages_carry_in_its_customers_locale(demo: dict) -> None:
    # Given the report's orders
    orders = {(o["source"], o["order_id"]): o for o in demo["report"]["orders"]}
    told = {(n["source"], n["order_id"]) for n in demo["report"]["notifications"] if n["status"] == "sent"}
    # Then every order someone was told of has its page link, which its messages and the ledger agree on
    assert told <= set(orders)
    for order in orders.values():
        assert order["links"]["order_page"].startswith("http://127.0.0.1:"), order
        assert order["link_problem"] is None, order
    # And the story's Spanish and French customers are among them, their links printed with their locale
    acme = "storefront/acme-outdoor"
    assert (orders[(acme, "ord_1012")]["locale"], orders[(acme, "ord_1013")]["locale"]) == ("es-US", "fr-CA")
    for order_id in ("ord_1012", "ord_1013"):
        assert orders[(acme, order_id)]["links"]["order_page"] in demo["stdout"]


def _steps(demo: dict) -> dict[str, dict]:
    """The report's platform steps by the file each sent."""
    return {step["file"]: step for step in demo["report"]["intake"]}


def _only_event(step: dict) -> dict:
    assert len(step["events"]) == 1, step
    return step["events"][0]


def _told(event: dict) -> set[tuple[str, str | None]]:
    """(channel, masked recipient) of each notification of the event that was sent."""
    return {(n["channel"], n["recipient"]) for n in event["notifications"] if n["status"] == "sent"}


def test_a_shopify_order_through_eventbridge_is_confirmed_and_its_carrier_scans_reach_its_customer(demo: dict) -> None:
    """Given Globex Garden's Shopify store (registry intake: shop domain, platform secrets) and the story's lines,
    When Shopify's published orders/create comes through EventBridge, its fulfillment over the signed HTTPS route,
    then EasyPost's and AfterShip's signed reports for the parcel's tracking number,
    Then the order's customer got the confirmation, and every carrier report was joined to that order and told
    to that same customer."""
    steps = _steps(demo)
    order = steps["shopify-orders-create.json"]
    placed = _only_event(order)
    assert (order["route"], placed["type"], placed["outcome"]) == ("eventbridge", "order.placed", "dispatched")
    customer = _told(placed)
    assert customer == {("email", "j***@example.com")}, placed  # Shopify's sample customer, masked in the table
    fulfillment = steps["shopify-fulfillments-create.json"]
    assert (fulfillment["route"], fulfillment["http_status"], fulfillment["path"]) == ("https", 200, "/intake/shopify")
    carrier_files = ("easypost-tracker-in-transit.json", "aftership-edd-revise.json", "aftership-exception.json")
    for name in ("shopify-fulfillments-create.json", *carrier_files, "easypost-tracker-delivered.json"):
        event = _only_event(steps[name])
        # Then each report joined the Shopify order (by its fulfillment, or by tracking number for the carriers)
        assert (event["order_id"], event["outcome"]) == (placed["order_id"], "dispatched"), (name, event)
        assert _told(event) == customer, (name, event)
    assert {steps[name]["platform"] for name in carrier_files} == {"easypost", "aftership"}
    assert steps["easypost-tracker-in-transit.json"]["path"] == "/intake/easypost/globex-garden"
    assert _only_event(steps["easypost-tracker-in-transit.json"])["type"] == "shipment.in_transit"


def test_the_revised_estimate_is_one_delay_notice_and_the_exception_and_the_delivery_are_both_sent(demo: dict) -> None:
    """Given the UPS parcel told an estimate by EasyPost, When AfterShip revises it later, then reports an
    exception, and EasyPost the delivery, Then exactly one shipment.delayed was sent for the parcel, and the
    exception and the delivery after it were both sent (the state machine lets a delivery follow an exception)."""
    steps = _steps(demo)
    revision = _only_event(steps["aftership-edd-revise.json"])
    assert (revision["type"], revision["outcome"]) == ("shipment.delayed", "dispatched")
    # Every notice Globex Garden's customer got (the Shopify order is the storefront's only one): one delay
    globex = [n for n in demo["report"]["notifications"] if n["source"] == "storefront/globex-garden"]
    delays = [
        (n["event_id"], n["channel"]) for n in globex if n["type"] == "shipment.delayed" and n["status"] == "sent"
    ]
    assert delays == [(revision["id"], "email")]
    exception = _only_event(steps["aftership-exception.json"])
    delivered = _only_event(steps["easypost-tracker-delivered.json"])
    assert (exception["type"], delivered["type"]) == ("shipment.exception", "shipment.delivered")
    assert _told(exception) == {("email", "j***@example.com")}
    assert _told(delivered) == {("email", "j***@example.com")}


def test_the_onfleet_delivery_email_shows_the_couriers_photo_and_gps(demo: dict) -> None:
    """Given the furniture's fulfillment through EventBridge (Onfleet task 8f983639), When Onfleet posts its signed
    taskCompleted with a photo upload and the completion location, Then the delivered notice reached the customer
    and its email showed the photo and a map of the courier's GPS position; and the summary says so."""
    steps = _steps(demo)
    created = _only_event(steps["shopify-fulfillments-create-onfleet.json"])
    assert (steps["shopify-fulfillments-create-onfleet.json"]["route"], created["type"]) == (
        "eventbridge",
        "shipment.created",
    )
    delivered = _only_event(steps["onfleet-task-completed.json"])
    assert delivered["type"] == "shipment.delivered"
    assert _told(delivered) == {("email", "j***@example.com")}
    photo = "https://d15p8tr8p0vffz.cloudfront.net/b5OuQ7t9d1zk5lbqgPyzM3rQ/800x.png"
    assert photo in delivered["proof_shown"]["images"]
    assert delivered["proof_shown"]["map_url"] == "https://www.google.com/maps/search/?api=1&query=38.2527,-85.7585"
    printed = "".join(demo["stdout"].split())  # rich wraps long lines at the terminal's width
    assert f"Theemailshowedtheproof:photo{photo}" in printed
    assert "thedelaynoticewenttoj***@example.combyemail" in printed


def _two_orders(tmp_path: Path) -> Path:
    lines = [line for line in LIFECYCLE.read_text().splitlines() if '"order.placed"' in line][:2]
    path = tmp_path / "two-orders.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_throttled_provider_is_retried_until_it_accepts(tmp_path: Path) -> None:
    # Given Twilio answering 429 to the first three requests
    sms_faults = FaultPlan()
    sms_faults.force_next("throttle", "throttle", "throttle")
    # When two orders go through the local pipeline
    run = run_demo(
        _two_orders(tmp_path),
        template=ROOT / "template.yaml",
        outbox_dir=tmp_path / "outbox",
        work_dir=tmp_path / "work",
        timeout=120,
        sms_faults=sms_faults,
        # Three 429s would open the circuit at the demo's threshold: this test pins retrying on the primary.
        parameters={"FailoverThreshold": "100"},
    )
    # Then both SMS are sent in the end, once each, after more than one attempt for at least one
    assert run.problems == []
    sms = [n for n in run.report["notifications"] if n["channel"] == "sms"]
    assert [n["status"] for n in sms] == ["sent", "sent"]
    assert max(n["attempts"] for n in sms) > 1
    assert len((tmp_path / "outbox" / "sms.jsonl").read_text().splitlines()) == 2


def test_provider_outage_parks_messages_in_the_dlq_with_the_last_code(tmp_path: Path) -> None:
    # Given SendGrid failing every request with 500, and two attempts allowed
    run = run_demo(
        _two_orders(tmp_path),
        template=ROOT / "template.yaml",
        outbox_dir=tmp_path / "outbox",
        work_dir=tmp_path / "work",
        timeout=120,
        # Failover out of reach: this is the path of an outage with no secondary provider to take over.
        parameters={"MaxReceiveCount": "2", "FailoverThreshold": "100"},
        email_faults=FaultPlan(server_error_rate=1.0),
    )
    # Then each email is in the email DLQ and recorded as such; SMS is unaffected
    emails = [n for n in run.report["notifications"] if n["channel"] == "email"]
    assert [(n["status"], n["error_code"], n["attempts"]) for n in emails] == [("dlq", "500", 2)] * 2
    assert run.report["queues"]["EmailDLQ"] == 2
    assert [n["status"] for n in run.report["notifications"] if n["channel"] == "sms"] == ["sent", "sent"]
