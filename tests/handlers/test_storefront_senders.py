"""Per-storefront sending: the real senders over moto and the stand-ins, with two storefronts in the registry.

Each storefront has its own SendGrid key (one with a subuser), its own Twilio account, and its own sender:
the stand-ins record which key or account took each message. The registry is the real one (SSM, in moto).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald.handlers import dispatch, send_email, send_sms
from herald.handlers.storefront_senders import UNREGISTERED_CODE
from tests.storefronts import REGISTRY_PATH, storefront

from .conftest import REGION, Env, sample

ACME, BIRCH = "storefront/acme-outdoor", "storefront/birch"
ACME_KEY, BIRCH_KEY = "SG.acme-key-AAAA", "SG.birch-key-BBBB"
ACME_SID, BIRCH_SID = "AC" + "a" * 32, "AC" + "b" * 32
ACME_TOKEN, BIRCH_TOKEN = "acme-token", "birch-token"
ACME_SERVICE = "MG" + "a" * 32
BIRCH_NUMBER = "+15017122661"

ACME_ENTRY = storefront(
    ACME,
    email_from="orders@acme.example",
    email_from_name="Acme Outdoor",
    reply_to="help@acme.example",
    sendgrid_secret_id="herald/sendgrid/acme",
    sendgrid_subuser="acme",
    ses_identity="acme.example",
    twilio_secret_id="herald/twilio/acme",
    twilio_messaging_service_sid=ACME_SERVICE,
    sms_from=None,
)
BIRCH_ENTRY = storefront(
    BIRCH,
    name="Birch & Co",
    email_from="hello@birch.example",
    email_from_name="Birch & Co",
    sendgrid_secret_id="herald/sendgrid/birch",
    ses_identity="birch.example",
    twilio_secret_id="herald/twilio/birch",
    sms_from=BIRCH_NUMBER,
)


@pytest.fixture
def stores(env: Env) -> SsmStorefronts:
    """Two storefronts in the registry, their secrets in Secrets Manager, their keys and accounts at the stand-ins."""
    secrets = boto3.client("secretsmanager", region_name=REGION)
    for secret_id, value in {
        "herald/sendgrid/acme": {"api_key": ACME_KEY},
        "herald/sendgrid/birch": {"api_key": BIRCH_KEY},
        "herald/twilio/acme": {"account_sid": ACME_SID, "auth_token": ACME_TOKEN},
        "herald/twilio/birch": {"account_sid": BIRCH_SID, "auth_token": BIRCH_TOKEN},
    }.items():
        secrets.create_secret(Name=secret_id, SecretString=json.dumps(value))
    env.sendgrid.accept_key(ACME_KEY)
    env.sendgrid.accept_key(BIRCH_KEY)
    env.twilio.add_account(ACME_SID, ACME_TOKEN)
    env.twilio.add_account(BIRCH_SID, BIRCH_TOKEN)
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="birch.example")
    registry = SsmStorefronts(boto3.client("ssm", region_name=REGION), REGISTRY_PATH)
    registry.put(ACME_ENTRY)
    registry.put(BIRCH_ENTRY)
    return registry


def _dispatched(env: Env, *events: dict[str, Any]) -> None:
    env.publish("order-events", [json.dumps(e) for e in events])
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []


def test_each_storefront_sends_with_its_own_sender_through_its_own_credentials(
    env: Env, stores: SsmStorefronts
) -> None:
    # Given an order from each of two storefronts
    _dispatched(
        env,
        sample("order.placed", id="evt_acme_1", source=ACME),
        sample("order.placed", id="evt_birch_1", source=BIRCH),
    )
    # When both senders run
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    # Then each email left as its storefront, with its storefront's key (and Acme's subuser)
    emails = {a["custom_args"]["source"]: a for a in env.sendgrid.accepted}
    acme, birch = emails[ACME], emails[BIRCH]
    assert (acme["from"], acme["from_name"], acme["reply_to"]) == (
        "orders@acme.example",
        "Acme Outdoor",
        "help@acme.example",
    )
    assert (acme["api_key_suffix"], acme["on_behalf_of"]) == (ACME_KEY[-4:], "acme")
    assert (birch["from"], birch["from_name"]) == ("hello@birch.example", "Birch & Co")
    assert (birch["api_key_suffix"], birch["on_behalf_of"]) == (BIRCH_KEY[-4:], None)
    # And each SMS went out on its storefront's Twilio account: Acme's Messaging Service, Birch's number
    sms = {s["account_sid"]: s for s in env.outbox.sms()}
    assert set(sms) == {ACME_SID, BIRCH_SID}
    assert (sms[ACME_SID]["messaging_service_sid"], sms[ACME_SID]["from"]) == (ACME_SERVICE, None)
    assert sms[BIRCH_SID]["from"] == BIRCH_NUMBER
    assert "messaging_service_sid" not in sms[BIRCH_SID]
    # And every notification is sent, once
    assert sorted(n["status"] for n in env.notifications().values()) == ["sent"] * 4
    assert len(env.outbox.emails()) == 2


def test_a_storefront_missing_from_the_registry_at_send_time_is_retried_not_failed(
    env: Env, stores: SsmStorefronts
) -> None:
    # Given an order dispatched for Birch, whose entry is then removed (a configuration race)
    _dispatched(env, sample("order.placed", id="evt_birch_gone", source=BIRCH))
    boto3.client("ssm", region_name=REGION).delete_parameter(Name=stores.name_of(BIRCH))
    # When the senders run
    email = env.deliver("email", send_email.handler)
    sms = env.deliver("sms", send_sms.handler)
    # Then both messages are kept for a retry with the reason, nothing was sent, and no circuit counted it
    assert len(email["batchItemFailures"]) == len(sms["batchItemFailures"]) == 1
    notifications = env.notifications().values()
    assert {(n["status"], n["error_code"]) for n in notifications} == {("retrying", UNREGISTERED_CODE)}
    assert all("no registry entry" in n["reason"] for n in notifications)
    assert env.sendgrid.accepted == []
    assert env.outbox.sms() == []
    circuits = [i for i in env.items() if i["pk"]["S"].startswith("CIRCUIT#")]
    assert circuits == []
    # When the entry is back and the retries come to sandboxes that read it again (a sandbox remembers a missing
    # entry for a minute: new sandboxes stand for that minute passing)
    stores.put(BIRCH_ENTRY)
    send_email.root.reset()
    send_sms.root.reset()
    env.make_visible("email")
    env.make_visible("sms")
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    # Then each went out once, as Birch
    assert [a["from"] for a in env.sendgrid.accepted] == ["hello@birch.example"]
    assert [s["account_sid"] for s in env.outbox.sms()] == [BIRCH_SID]
