"""Credentials that rotate: the real senders over moto's Secrets Manager and the stand-ins, keys changed mid-run.

A sandbox keeps its provider client (and Powertools' cached secret) between invocations; the stand-ins then
accept only the new key, as SendGrid and Twilio do after a rotation or revocation.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from herald.handlers import dispatch, send_email, send_sms

from .conftest import REGION, TWILIO_FROM, TWILIO_SID, Env, sample

NEW_SENDGRID_KEY = "SG.rotated-key"
NEW_TWILIO_TOKEN = "rotated-auth-token"


def _dispatched(env: Env, event_ids: list[str]) -> None:
    env.publish("order-events", [json.dumps(sample("order.placed", id=event_id)) for event_id in event_ids])
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []


def _rotate_at_providers(env: Env) -> None:
    """The old keys stop working at SendGrid and Twilio (rotated or revoked there)."""
    env.sendgrid.api_key = NEW_SENDGRID_KEY
    env.twilio.auth_token = NEW_TWILIO_TOKEN


def _rotate_secrets() -> None:
    """The new keys are put in Secrets Manager (what a rotation function does)."""
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(SecretId="herald/sendgrid", SecretString=json.dumps({"api_key": NEW_SENDGRID_KEY}))
    twilio = {"account_sid": TWILIO_SID, "auth_token": NEW_TWILIO_TOKEN, "from_number": TWILIO_FROM}
    secrets.put_secret_value(SecretId="herald/twilio", SecretString=json.dumps(twilio))


def _statuses(env: Env) -> Counter[tuple[str, str]]:
    return Counter((n["channel"], n["status"]) for n in env.notifications().values())


def _auth_failure_metrics(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if "ProviderAuthFailures" in line]


def test_a_secret_rotated_mid_run_loses_no_message_and_sends_each_once(env: Env, capsys: Any) -> None:
    # Given senders that already sent with the old keys (their clients and cached secrets live on)
    _dispatched(env, ["evt_rot_1", "evt_rot_2", "evt_rot_3"])
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    # When the keys are rotated at the providers and in Secrets Manager, and more orders come
    _rotate_at_providers(env)
    _rotate_secrets()
    _dispatched(env, ["evt_rot_4", "evt_rot_5", "evt_rot_6"])
    email = env.deliver("email", send_email.handler)
    sms = env.deliver("sms", send_sms.handler)
    # Then every message of the second batch went out at once, none retried, none failed
    assert (email["batchItemFailures"], email["records"]) == ([], 3)
    assert (sms["batchItemFailures"], sms["records"]) == ([], 3)
    assert _statuses(env) == Counter({("email", "sent"): 6, ("sms", "sent"): 6})
    # And each was sent exactly once, through the primary (the stand-ins' outbox holds one of each)
    accepted = Counter(a["custom_args"]["notification_id"] for a in env.sendgrid.accepted)
    assert len(accepted) == 6
    assert set(accepted.values()) == {1}
    assert len(env.outbox.emails()) == 6
    assert Counter(s["body"] for s in env.outbox.sms()).total() == 6
    assert {n["provider"] for n in env.notifications().values()} == {"sendgrid", "twilio"}
    # And a rotation that healed itself raises no alarm
    assert _auth_failure_metrics(capsys.readouterr().out) == []


def test_a_revoked_key_with_no_new_one_retries_and_fails_over_never_failing_a_message(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Given a failover threshold of 2, and keys revoked at both providers with nothing new in Secrets Manager
    monkeypatch.setenv("HERALD_FAILOVER_THRESHOLD", "2")
    monkeypatch.setenv("HERALD_FAILOVER_PROBE_SECONDS", "3600")
    _rotate_at_providers(env)
    _dispatched(env, ["evt_rev_1", "evt_rev_2", "evt_rev_3"])
    # When the senders try
    email = env.deliver("email", send_email.handler)
    sms = env.deliver("sms", send_sms.handler)
    # Then every message is kept for a retry with the provider's code, none failed for good
    assert len(email["batchItemFailures"]) == len(sms["batchItemFailures"]) == 3
    codes = Counter((n["channel"], n["status"], n["error_code"]) for n in env.notifications().values())
    assert codes == Counter({("email", "retrying", "401"): 3, ("sms", "retrying", "20003"): 3})
    # And each refusal was counted for the alarm, by provider
    metrics = _auth_failure_metrics(capsys.readouterr().out)
    by_provider = Counter(m["provider"] for m in metrics)
    assert by_provider == Counter({"sendgrid": 3, "twilio": 3})
    # When the retries come back
    env.make_visible("email")
    env.make_visible("sms")
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    # Then the auth failures opened each circuit and the secondary providers carried every message, once
    notifications = env.notifications().values()
    assert Counter((n["channel"], n["status"], n["provider"]) for n in notifications) == Counter(
        {("email", "sent", "ses"): 3, ("sms", "sent", "sns"): 3}
    )
    assert env.outbox.emails() == []
    assert list(env.outbox.sms()) == []
    assert boto3.client("ses", region_name=REGION).get_send_quota()["SentLast24Hours"] == 3
