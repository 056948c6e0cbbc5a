"""The timeline document and where the operator commands find a stack: pure functions, no AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from herald.usecases.timeline import build_timeline, describe, history_lines
from herald_tools.ops.resources import LOCAL_STATE_FILE, ResourcesError, StackResources, resolve, write_local_state

SOURCE = "storefront/acme-outdoor"


def _event(event_id: str, received_at: str, status: str = "dispatched") -> dict[str, Any]:
    return {
        "pk": {"S": f"ORDER#{SOURCE}#ord_1"},
        "sk": {"S": f"EVENT#{event_id}"},
        "kind": {"S": "event"},
        "event_id": {"S": event_id},
        "event_type": {"S": "order.placed"},
        "order_number": {"S": "#1001"},
        "status": {"S": status},
        "received_at": {"S": received_at},
        "expires_at": {"N": "1900000000"},
    }


def _notification(event_id: str, channel: str, created_at: str, **extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "pk": {"S": f"ORDER#{SOURCE}#ord_1"},
        "sk": {"S": f"NOTIF#{event_id}#{channel}"},
        "kind": {"S": "notification"},
        "event_id": {"S": event_id},
        "event_type": {"S": "order.placed"},
        "channel": {"S": channel},
        "created_at": {"S": created_at},
        "attempts": {"N": "2"},
        "lease_until": {"N": "1700000060"},
        **extra,
    }


def test_entries_are_in_time_order_with_each_event_before_its_notifications() -> None:
    # Given items in key order (as the Query returns them), which is not time order
    items = [
        _event("evt_b", "2026-01-02T10:00:00+00:00"),
        _event("evt_a", "2026-01-01T10:00:00+00:00"),
        _notification("evt_a", "sms", "2026-01-01T10:00:00+00:00"),
        _notification("evt_a", "email", "2026-01-01T10:00:00+00:00"),
    ]
    # When the timeline is built
    timeline = build_timeline(SOURCE, "ord_1", items)
    # Then evt_a and its notifications (email before sms, by key) come before evt_b
    assert [e["key"] for e in timeline["entries"]] == [
        "EVENT#evt_a",
        "NOTIF#evt_a#email",
        "NOTIF#evt_a#sms",
        "EVENT#evt_b",
    ]
    assert (timeline["events"], timeline["notifications"], timeline["order_number"]) == (2, 2, "#1001")


def test_entries_are_plain_json_without_the_tables_bookkeeping() -> None:
    # Given a delivered notification with its provider history, dedup set and rank
    item = _notification(
        "evt_a",
        "email",
        "2026-01-01T10:00:00+00:00",
        status={"S": "sent"},
        delivery_status={"S": "delivered"},
        delivery_rank={"N": "40"},
        delivery_events={"SS": ["k2", "k1"]},
        history={"L": [{"M": {"event": {"S": "delivered"}, "occurred_at": {"N": "1700000000"}}}]},
        price={"N": "0.0075"},
    )
    # When it becomes a timeline entry
    (entry,) = build_timeline(SOURCE, "ord_1", [item])["entries"]
    # Then numbers are ints or floats, the history is a list of objects, and the bookkeeping is gone
    assert entry["attempts"] == 2
    assert entry["price"] == 0.0075
    assert entry["history"] == [{"event": "delivered", "occurred_at": 1700000000}]
    assert not {"pk", "sk", "expires_at", "lease_until", "delivery_events", "delivery_rank"} & set(entry)
    json.dumps(entry)  # and it serialises as it is


def test_unknown_attributes_reach_the_timeline_untouched() -> None:
    # Given a notification carrying a field this module does not know (a later feature's)
    item = _notification("evt_a", "email", "2026-01-01T10:00:00+00:00", carrier_hint={"S": "vodafone"})
    # When it becomes a timeline entry
    (entry,) = build_timeline(SOURCE, "ord_1", [item])["entries"]
    # Then the entry carries it as it is
    assert entry["carrier_hint"] == "vodafone"


def test_the_terminal_line_names_the_provider_that_took_it() -> None:
    # Given a notification the SES provider took
    item = _notification("evt_a", "email", "2026-01-01T10:00:00+00:00", status={"S": "sent"}, provider={"S": "ses"})
    # When it is described for the terminal
    (entry,) = build_timeline(SOURCE, "ord_1", [item])["entries"]
    # Then the JSON keeps the attribute and the details open with the provider
    assert entry["provider"] == "ses"
    assert describe(entry)[2] == "via ses; attempts 2"
    assert entry["summary"] == "email sent via ses"


def test_terminal_lines_give_state_delivery_codes_and_provider_reports() -> None:
    # Given a bounced email with one SendGrid report (epoch seconds) and one overflowing history
    item = _notification(
        "evt_a",
        "email",
        "2026-01-01T10:00:00+00:00",
        status={"S": "sent"},
        provider_message_id={"S": "sg-1"},
        delivery_status={"S": "bounced"},
        delivery_error_code={"S": "550"},
        history={
            "L": [
                {
                    "M": {
                        "provider": {"S": "sendgrid"},
                        "event": {"S": "bounce"},
                        "state": {"S": "bounced"},
                        "occurred_at": {"N": "1700000000"},
                        "reason": {"S": "no such user"},
                    }
                }
            ]
        },
        history_overflow={"N": "3"},
    )
    (entry,) = build_timeline(SOURCE, "ord_1", [item])["entries"]
    # When it is described for the terminal
    what, status, details = describe(entry)
    # Then the line has the send and delivery states, the provider id, the attempts and the delivery code
    assert (what, status) == ("email for order.placed", "sent / bounced")
    assert details == "provider id sg-1; attempts 2; delivery error 550"
    # And the report has an ISO time, and the overflow is counted
    assert history_lines(entry) == [
        ("2023-11-14T22:13:20+00:00", "sendgrid bounce -> bounced", "reason no such user"),
        ("", "3 more reports not kept", ""),
    ]


def test_skipped_and_superseded_entries_carry_their_reason() -> None:
    # Given a superseded event and a skipped SMS
    event = _event("evt_a", "2026-01-01T10:00:00+00:00", status="superseded")
    event["reason"] = {"S": "shipment already notified of a later status"}
    skipped = _notification(
        "evt_a", "sms", "2026-01-01T10:00:00+00:00", status={"S": "skipped"}, reason={"S": "no phone"}
    )
    entries = build_timeline(SOURCE, "ord_1", [event, skipped])["entries"]
    # Then both lines say why
    assert "reason: shipment already notified" in describe(entries[0])[2]
    assert describe(entries[1])[1:] == ("skipped", "attempts 2; reason no phone")


# --- where the resources are ---------------------------------------------------------------------------

OUTPUTS = {
    "NotificationsTableName": "herald-notifications",
    "EmailQueueUrl": "https://sqs/email",
    "EmailDLQUrl": "https://sqs/email-dlq",
    "OrderEventsQueueUrl": "https://sqs/order-events",
    "OrderEventsDLQUrl": "https://sqs/order-events-dlq",
    "EmailDLQArn": "arn:aws:sqs:::email-dlq",
}


@pytest.mark.parametrize("spelling", ["email", "Email", "email-dlq", "EmailDLQ", "EMAIL_DLQ"])
def test_a_dlq_is_found_however_the_operator_spells_it(spelling: str) -> None:
    # Given a stack's outputs
    resources = StackResources(outputs=OUTPUTS)
    # Then each spelling names the email DLQ, and its redrive target is the email queue
    queue = resources.dead_letter_queue(spelling)
    assert (queue.url, queue.source_url) == ("https://sqs/email-dlq", "https://sqs/email")


def test_dlqs_are_every_dlq_url_output_and_an_unknown_name_lists_them() -> None:
    resources = StackResources(outputs=OUTPUTS)
    assert [q.name for q in resources.dead_letter_queues()] == ["Email", "OrderEvents"]
    with pytest.raises(ResourcesError, match=r"known: email, order-events"):
        resources.dead_letter_queue("fax")


def test_local_is_the_default_once_local_up_wrote_its_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a folder without the local runtime's state file
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ResourcesError, match="--stack NAME"):
        resolve(None, False)
    # When `herald local up` has written it
    write_local_state(
        LOCAL_STATE_FILE,
        endpoint_url="http://127.0.0.1:5000",
        region="us-east-1",
        stack="herald-local",
        outputs=OUTPUTS,
    )
    # Then the commands use it without being told, pointed at the emulator with fake credentials
    resources = resolve(None, False)
    assert (resources.endpoint_url, resources.region, resources.local) == ("http://127.0.0.1:5000", "us-east-1", True)
    assert resources.table_name == "herald-notifications"
    credentials = resources.client("sqs")._request_signer._credentials
    assert credentials.access_key == "testing"
    # And --stack with --local is refused
    with pytest.raises(ResourcesError, match="not both"):
        resolve("prod", True)


def test_local_without_state_file_tells_how_to_start_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ResourcesError, match="herald local up"):
        resolve(None, True)


def test_an_outbound_webhook_reads_as_one_line_with_its_attempts_and_each_attempt_in_the_history() -> None:
    # Given the order's webhook item after a 500 then a 204 (adapters.dynamodb_outbound's shape)
    item = {
        "pk": {"S": f"ORDER#{SOURCE}#ord_1"},
        "sk": {"S": "OUTBOUND#hrld_1"},
        "kind": {"S": "webhook_delivered"},
        "status": {"S": "delivered"},
        "event_id": {"S": "hrld_1"},
        "event_type": {"S": "delivery.disputed"},
        "source": {"S": SOURCE},
        "order_id": {"S": "ord_1"},
        "created_at": {"S": "2026-12-02T08:00:00+00:00"},
        "updated_at": {"S": "2026-12-02T08:01:00+00:00"},
        "status_code": {"N": "204"},
        "reason": {"S": "HTTP 204"},
        "attempts": {"N": "2"},
        "delivered": {"SS": ["webhook"]},
        "history": {
            "L": [
                {"M": {"at": {"S": "2026-12-02T08:00:00+00:00"}, "kind": {"S": "webhook_retrying"},
                       "status_code": {"N": "500"}, "reason": {"S": "HTTP 500: retried"}}},
                {"M": {"at": {"S": "2026-12-02T08:01:00+00:00"}, "kind": {"S": "webhook_delivered"},
                       "status_code": {"N": "204"}}},
            ]
        },
    }  # fmt: skip
    # When the timeline is built and the entry described for the terminal
    (entry,) = build_timeline(SOURCE, "ord_1", [item])["entries"]
    # Then the summary and the terminal's row name the type, the outcome, the status and the attempts
    assert entry["summary"] == "webhook delivery.disputed delivered (HTTP 204; 2 attempts)"
    assert describe(entry) == (
        "webhook delivery.disputed",
        "delivered",
        "id hrld_1; HTTP 204; 2 attempts; delivered to webhook",
    )
    # And each attempt is a history line, the one without a reason showing its status
    assert history_lines(entry) == [
        ("2026-12-02T08:00:00+00:00", "webhook_retrying", "HTTP 500: retried"),
        ("2026-12-02T08:01:00+00:00", "webhook_delivered", "HTTP 204"),
    ]
