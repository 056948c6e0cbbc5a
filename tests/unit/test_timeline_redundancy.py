"""The timeline tells the redundancy stories: channel fallback, provider failover and deadline escalation.

Items are built as the ledger and the follow-up function write them (adapters/dynamodb_ledger.py,
adapters/dynamodb_followup.py), without a table.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald.usecases.timeline import build_timeline, describe, history_lines

SOURCE = "storefront/acme-outdoor"
DISPATCHED = "2026-01-01T10:00:00+00:00"
EMAIL_ID = f"{SOURCE}|evt_a|email"
PHONE = "+15005550006"
ADDRESS = "jane.doe@example.com"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _event() -> dict[str, Any]:
    return {
        "pk": _s(f"ORDER#{SOURCE}#ord_1"),
        "sk": _s("EVENT#evt_a"),
        "kind": _s("event"),
        "event_id": _s("evt_a"),
        "event_type": _s("order.placed"),
        "status": _s("dispatched"),
        "received_at": _s(DISPATCHED),
    }


def _notification(channel: str, *, escalation: bool = False, **extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "pk": _s(f"ORDER#{SOURCE}#ord_1"),
        "sk": _s(f"NOTIF#evt_a#{channel}" + ("#escalation" if escalation else "")),
        "kind": _s("notification"),
        "notification_id": _s(f"{SOURCE}|evt_a|{channel}" + ("|escalation" if escalation else "")),
        "event_id": _s("evt_a"),
        "event_type": _s("order.placed"),
        "channel": _s(channel),
        "created_at": _s(DISPATCHED),
        "attempts": {"N": "1"},
        **extra,
    }


def _bounced_email() -> dict[str, Any]:
    return _notification(
        "email",
        status=_s("sent"),
        provider=_s("sendgrid"),
        provider_message_id=_s("sg-1"),
        recipient=_s("j***@example.com"),
        delivery_status=_s("bounced"),
        delivery_error_code=_s("5.1.1"),
    )


def _standby_sms(**extra: dict[str, Any]) -> dict[str, Any]:
    # The rendered message, as dispatch keeps it: the customer's number and the text.
    message = json.dumps({"channel": "sms", "to": PHONE, "body": f"Order #1001 confirmed; receipt sent to {ADDRESS}"})
    return _notification("sms", recipient=_s("+1*******006"), message=_s(message), **extra)


def _by_channel(timeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{e.get('channel')}/{e.get('role')}": e for e in timeline["entries"] if e["kind"] == "notification"}


def test_an_activated_fallback_says_which_channel_failed_why_and_when() -> None:
    # Given an email that bounced, and the SMS standby the follow-up activated and Twilio then took
    sms = _standby_sms(
        status=_s("sent"),
        provider=_s("twilio"),
        provider_message_id=_s("SM1"),
        fallback_of=_s("email"),
        fallback_reason=_s("email bounced (5.1.1)"),
        fallback_at=_s("2026-01-01T10:05:00+00:00"),
    )
    # When the timeline is built
    timeline = build_timeline(SOURCE, "ord_1", [_event(), _bounced_email(), sms])
    entry = _by_channel(timeline)["sms/standby"]
    # Then the JSON keeps the fallback attributes and says the SMS was the email's standby
    assert (entry["fallback_of"], entry["fallback_reason"], entry["fallback_at"]) == (
        "email",
        "email bounced (5.1.1)",
        "2026-01-01T10:05:00+00:00",
    )
    assert (entry["role"], entry["standby_for"]) == ("standby", ["email"])
    # And the terminal and the summary say through whom, after what, and when
    assert describe(entry) == (
        "sms for order.placed",
        "sent",
        "via twilio (fallback: email bounced (5.1.1) at 2026-01-01T10:05:00+00:00); to +1*******006; "
        "provider id SM1; attempts 1",
    )
    assert entry["summary"] == "sms sent via twilio (fallback: email bounced (5.1.1) at 2026-01-01T10:05:00+00:00)"
    # And the bounced email it replaced reads as a plain primary send
    email = _by_channel(timeline)["email/primary"]
    assert email["summary"] == "email sent via sendgrid, bounced"


def test_a_waiting_standby_says_it_is_sent_only_if_the_primary_fails() -> None:
    # Given an email on its way and the SMS kept in standby
    items = [_event(), _notification("email", status=_s("pending")), _standby_sms(status=_s("standby"))]
    # When the timeline is built
    entry = _by_channel(build_timeline(SOURCE, "ord_1", items))["sms/standby"]
    # Then its line says what would send it
    assert describe(entry) == (
        "sms for order.placed",
        "standby",
        "sent only if email fails; to +1*******006; attempts 1",
    )
    assert entry["summary"] == "sms standby (sent only if email fails)"


def test_a_standby_stood_down_by_an_opt_out_says_so_and_why() -> None:
    # Given a standby SMS the follow-up suppressed because the customer opted out since dispatch
    sms = _standby_sms(status=_s("suppressed"), reason=_s("customer replied STOP"))
    # When the timeline is built
    entry = _by_channel(build_timeline(SOURCE, "ord_1", [_bounced_email(), sms]))["sms/standby"]
    # Then it still reads as the email's standby, with the reason it was never sent
    assert entry["summary"] == "sms suppressed (standby for email, customer replied STOP)"
    assert describe(entry)[2] == "standby for email; to +1*******006; attempts 1; reason customer replied STOP"


def test_a_failover_names_the_secondary_provider_and_why() -> None:
    # Given an email SES took because SendGrid's circuit was open
    email = _notification(
        "email", status=_s("sent"), provider=_s("ses"), route_reason=_s("failover: sendgrid circuit open")
    )
    # When the timeline is built
    (entry,) = build_timeline(SOURCE, "ord_1", [email])["entries"]
    # Then the JSON and the terminal name SES and the failover
    assert (entry["provider"], entry["route_reason"], entry["role"]) == (
        "ses",
        "failover: sendgrid circuit open",
        "primary",
    )
    assert describe(entry)[2] == "via ses (failover: sendgrid circuit open); attempts 1"
    assert entry["summary"] == "email sent via ses (failover: sendgrid circuit open)"


def _escalation(**extra: dict[str, Any]) -> dict[str, Any]:
    return _notification(
        "email",
        escalation=True,
        created_at=_s("2026-01-01T10:10:00+00:00"),
        escalation_of=_s(EMAIL_ID),
        **extra,
    )


def test_an_escalation_is_its_own_entry_labelled_as_its_channels_escalation() -> None:
    # Given an email SendGrid took without a delivery report, and its escalation copy SES sent at the deadline
    email = _notification("email", status=_s("sent"), provider=_s("sendgrid"))
    escalation = _escalation(
        status=_s("sent"),
        provider=_s("ses"),
        route_reason=_s("escalation: no delivery confirmed before the deadline"),
        reason=_s("no delivery reported within 600 s"),
    )
    # When the timeline is built from the items in key order
    timeline = build_timeline(SOURCE, "ord_1", [_event(), email, escalation])
    # Then the escalation comes after the email it escalates, as its own notification
    assert [e["key"] for e in timeline["entries"]] == [
        "EVENT#evt_a",
        "NOTIF#evt_a#email",
        "NOTIF#evt_a#email#escalation",
    ]
    assert timeline["notifications"] == 2
    entry = timeline["entries"][2]
    assert (entry["role"], entry["escalation_of"], entry["reason"]) == (
        "escalation",
        EMAIL_ID,
        "no delivery reported within 600 s",
    )
    # And its line is labelled an escalation of the email, with the provider, why, and which notification
    assert describe(entry) == (
        "email escalation for order.placed",
        "sent",
        f"via ses (no delivery reported within 600 s); attempts 1; escalation of {EMAIL_ID}",
    )
    assert entry["summary"] == "email escalation sent via ses (no delivery reported within 600 s)"


def test_an_escalation_whose_send_failed_does_not_pass_the_error_off_as_its_reason() -> None:
    # Given an escalation SES refused: the sender overwrote `reason` with the provider's error
    escalation = _escalation(status=_s("failed"), error_code=_s("MessageRejected"), reason=_s("address blacklisted"))
    # When the timeline is built
    (entry,) = build_timeline(SOURCE, "ord_1", [escalation])["entries"]
    # Then the error is shown as the error's reason, not as why it was escalated
    assert describe(entry) == (
        "email escalation for order.placed",
        "failed",
        f"attempts 1; error MessageRejected; reason address blacklisted; escalation of {EMAIL_ID}",
    )
    assert entry["summary"] == "email escalation failed"


def test_json_only_gains_keys() -> None:
    # Given a plain primary send, as before redundancy existed
    email = _notification("email", status=_s("sent"), provider_message_id=_s("sg-1"))
    # When the timeline is built
    (entry,) = build_timeline(SOURCE, "ord_1", [email])["entries"]
    # Then every attribute it had is there with its value, beside the new role and summary
    assert entry == {
        "kind": "notification",
        "notification_id": EMAIL_ID,
        "event_id": "evt_a",
        "event_type": "order.placed",
        "channel": "email",
        "created_at": DISPATCHED,
        "attempts": 1,
        "status": "sent",
        "provider_message_id": "sg-1",
        "key": "NOTIF#evt_a#email",
        "at": DISPATCHED,
        "role": "primary",
        "summary": "email sent",
    }


def test_the_standby_message_and_unmasked_recipients_never_reach_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a standby SMS holding its rendered message (the number and an email address), activated after a
    # bounce whose provider reason quotes the address
    email = _bounced_email()
    email["history"] = {
        "L": [{"M": {"provider": _s("sendgrid"), "event": _s("bounce"), "reason": _s(f"550 5.1.1 <{ADDRESS}>")}}]
    }
    email["delivery_reason"] = _s(f"550 5.1.1 <{ADDRESS}>: user unknown")
    sms = _standby_sms(
        status=_s("pending"),
        fallback_of=_s("email"),
        fallback_reason=_s(f"email bounced (5.1.1) for {ADDRESS}"),
        fallback_at=_s("2026-01-01T10:05:00+00:00"),
    )
    timeline = build_timeline(SOURCE, "ord_1", [_event(), email, sms])

    # When it is rendered as JSON and as the CLI's table
    from herald_tools.cli import _print_timeline

    as_json = json.dumps(timeline)
    _print_timeline(timeline)
    text = capsys.readouterr().out
    text += "\n".join(
        " ".join(describe(e)) + " ".join(" ".join(h) for h in history_lines(e)) for e in timeline["entries"]
    )

    # Then neither the number nor the address appears anywhere, and no entry carries the message
    for output in (as_json, text):
        assert PHONE not in output
        assert ADDRESS not in output
        assert "Order #1001 confirmed" not in output
    assert all("message" not in e for e in timeline["entries"])
    # And the masked forms still tell the operator who it was for
    assert "j***@example.com" in as_json
    assert "+1*******006" in text
