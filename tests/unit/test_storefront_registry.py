"""The storefront registry: the entry model, its SSM names, the cached adapter, and dispatch's admission rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError
from tests.memory_ledger import MemoryLedger, MemoryQueue
from tests.storefronts import MOTO_SENDER_ID, REGISTRY_PATH, SAMPLE_SOURCE, storefront

from herald.adapters.ssm_storefronts import SsmStorefronts, StorefrontEntryInvalid
from herald.domain.phone import to_e164
from herald.domain.storefront import StaticStorefronts, Storefront, parameter_leaf
from herald.rendering.renderer import Renderer
from herald.usecases.dispatch import Dispatcher, Outcome
from herald_tools.local.ports import accepting_twilio_test_numbers

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
OTHER_PUBLISHER = "AIDAOTHERPUBLISHER0001"


# --- the entry -------------------------------------------------------------------------------------------


def test_an_entry_without_an_sms_sender_is_refused_with_the_reason() -> None:
    # Given an entry with neither a Messaging Service nor a From number; When it is validated; Then it is refused
    with pytest.raises(ValidationError, match="twilio_messaging_service_sid or sms_from"):
        storefront(sms_from=None)


def test_the_templates_default_entry_reads_empty_parameters_as_absent_and_publishers_as_a_list() -> None:
    # Given the JSON the template writes from its parameters (an empty help text, two publishers in one string)
    written = {
        "source": "storefront/default",
        "name": "Our store",
        "email_from": "orders@herald.example",
        "sendgrid_secret_id": "herald/sendgrid",
        "twilio_secret_id": "herald/twilio",
        "sms_from": "+15551234567",
        "help_text": "",
        "publishers": "AIDAEXAMPLEUSER00001,AROAEXAMPLEROLE00001",
    }
    # When it is read
    entry = Storefront.model_validate_json(json.dumps(written))
    # Then the empty value is absent and the publishers are two
    assert entry.help_text is None
    assert entry.publishers == ("AIDAEXAMPLEUSER00001", "AROAEXAMPLEROLE00001")


def test_a_role_admits_each_of_its_sessions_and_a_session_only_itself() -> None:
    # Given an entry naming a role, and one naming one session of another role
    entry = storefront(publishers=("AROAEXAMPLEROLE00001", "AROAOTHERROLE0000002:deploy"))
    # Then every session of the first role may publish, only that session of the second, and nobody else
    assert entry.publisher_allowed("AROAEXAMPLEROLE00001:any-session")
    assert entry.publisher_allowed("AROAOTHERROLE0000002:deploy")
    assert not entry.publisher_allowed("AROAOTHERROLE0000002:other")
    assert not entry.publisher_allowed("AIDASOMEONEELSE00001")
    assert not entry.publisher_allowed(None)


def test_markup_and_script_urls_are_refused_in_branding() -> None:
    # Given a logo that is not an https URL and a colour that is not #rrggbb; Then neither is accepted
    with pytest.raises(ValidationError):
        storefront(branding={"logo_url": "javascript:alert(1)"})
    with pytest.raises(ValidationError):
        storefront(branding={"primary_colour": "red;background:url(x)"})


@pytest.mark.parametrize(
    ("source", "leaf"),
    [
        ("storefront/acme-outdoor", "storefront/acme-outdoor"),
        ("https://shop.example/a", "https_3A_2F_2Fshop.example_2Fa"),
        ("a_b", "a_5Fb"),
        ("a//b", "a_2F_2Fb"),
    ],
)
def test_a_source_becomes_a_readable_parameter_name_when_it_can(source: str, leaf: str) -> None:
    assert parameter_leaf(source) == leaf


def test_two_sources_never_share_a_parameter_name() -> None:
    # Given sources that a naive encoding would confuse (an escape written literally, a slash, an empty part)
    sources = ["a_2Fb", "a/b", "a_b", "a_5Fb", "a//b", "a/_2Fb", "shop#a", "shop_23a", "é", "_C3_A9"]
    # Then each has its own name
    assert len({parameter_leaf(source) for source in sources}) == len(sources)


# --- the adapter -----------------------------------------------------------------------------------------


class CountingSsm:
    def __init__(self, client: Any) -> None:
        self._client, self.gets = client, 0

    def get_parameter(self, **kwargs: Any) -> Any:
        self.gets += 1
        return self._client.get_parameter(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_an_entry_written_is_read_back_and_cached(ssm: Any) -> None:
    # Given an entry in the registry
    counting = CountingSsm(ssm)
    directory = SsmStorefronts(counting, REGISTRY_PATH)
    directory.put(storefront(name="Acme Outdoor"))
    # When it is read twice
    first, second = directory.get(SAMPLE_SOURCE), directory.get(SAMPLE_SOURCE)
    # Then it is the entry, and SSM was asked once (Powertools' cache)
    assert first == second == storefront(name="Acme Outdoor")
    assert counting.gets == 1
    assert ssm.get_parameter(Name=f"{REGISTRY_PATH}/{SAMPLE_SOURCE}")["Parameter"]["Type"] == "String"


def test_an_unknown_source_is_not_registered_and_asking_again_soon_costs_nothing(ssm: Any) -> None:
    # Given a registry without the source and a clock
    counting, now = CountingSsm(ssm), [0.0]
    directory = SsmStorefronts(counting, REGISTRY_PATH, missing_max_age=60, clock=lambda: now[0])
    # When it is asked for it three times within the minute, then after it
    assert directory.get("storefront/unknown") is None
    now[0] = 30.0
    assert directory.get("storefront/unknown") is None
    assert counting.gets == 1
    now[0] = 61.0
    assert directory.get("storefront/unknown") is None
    # Then SSM was asked once per minute, not once per event
    assert counting.gets == 2


def test_an_entry_the_model_refuses_fails_loudly_instead_of_refusing_the_storefronts_events(ssm: Any) -> None:
    # Given an operator's broken entry (no email_from)
    ssm.put_parameter(
        Name=f"{REGISTRY_PATH}/{SAMPLE_SOURCE}", Value=json.dumps({"source": SAMPLE_SOURCE}), Type="String"
    )
    # When dispatch asks for it; Then it raises (the event is retried, and lands in the DLQ, never rejected)
    with pytest.raises(StorefrontEntryInvalid, match="email_from"):
        SsmStorefronts(ssm, REGISTRY_PATH).get(SAMPLE_SOURCE)


def test_an_entry_stored_under_another_sources_name_is_refused(ssm: Any) -> None:
    # Given an entry for storefront/other written under the sample storefront's name
    other = storefront("storefront/other")
    ssm.put_parameter(Name=f"{REGISTRY_PATH}/{SAMPLE_SOURCE}", Value=other.model_dump_json(), Type="String")
    # Then reading the sample storefront's entry fails rather than sending as the other storefront
    with pytest.raises(StorefrontEntryInvalid, match="names source"):
        SsmStorefronts(ssm, REGISTRY_PATH).get(SAMPLE_SOURCE)


# --- dispatch's admission ----------------------------------------------------------------------------------


def _dispatcher(directory: StaticStorefronts, ledger: MemoryLedger, queue: MemoryQueue) -> Dispatcher:
    return Dispatcher(
        ledger,
        queue,
        Renderer(),
        storefronts=directory,
        phone=accepting_twilio_test_numbers(to_e164),
        clock=lambda: NOW,
    )


def _placed(**changes: Any) -> str:
    event = json.loads((EVENTS / "order.placed.json").read_text())
    event.update(changes)
    return json.dumps(event)


def test_an_event_from_an_unregistered_storefront_is_rejected_and_claims_nothing() -> None:
    # Given a registry without the sample storefront
    ledger, queue = MemoryLedger(), MemoryQueue()
    dispatcher = _dispatcher(StaticStorefronts(), ledger, queue)
    # When its order confirmation arrives
    result = dispatcher.plan(_placed(), "m1", MOTO_SENDER_ID)
    # Then it is rejected with the reason, nothing is queued and the event is not claimed
    assert result.outcome is Outcome.REJECTED
    assert result.reason == f"source {SAMPLE_SOURCE!r} is not a registered storefront (herald stores add)"
    assert ledger.events == {}
    assert ledger.rejections[0].reason == result.reason


def test_a_storefront_may_not_publish_as_another_and_the_real_event_still_goes_out() -> None:
    # Given two storefronts, each published by its own principal
    directory = StaticStorefronts([storefront(), storefront("storefront/globex", publishers=(OTHER_PUBLISHER,))])
    ledger, queue = MemoryLedger(), MemoryQueue()
    dispatcher = _dispatcher(directory, ledger, queue)
    # When globex's publisher sends an event as acme, with acme's event id
    forged = dispatcher.plan(_placed(), "m1", OTHER_PUBLISHER)
    # Then it is rejected with the reason, and acme's own event with that id is still dispatched
    assert forged.outcome is Outcome.REJECTED
    assert forged.reason == f"publisher {OTHER_PUBLISHER} may not publish as {SAMPLE_SOURCE!r}"
    real = dispatcher.plan(_placed(), "m2", MOTO_SENDER_ID)
    assert real.outcome is Outcome.DISPATCHED


def test_messages_are_rendered_with_the_storefronts_sender_and_branding() -> None:
    # Given an entry with its own sender, reply-to, colour and an event that names no store
    entry = storefront(
        name="Globex Garden",
        email_from="hello@globex.example",
        email_from_name="Globex",
        reply_to="care@globex.example",
        branding={"primary_colour": "#0a7d34"},
    )
    document = json.loads(_placed())
    document["data"].pop("store", None)
    ledger, queue = MemoryLedger(), MemoryQueue()
    result = _dispatcher(StaticStorefronts([entry]), ledger, queue).plan(json.dumps(document), "m1", MOTO_SENDER_ID)
    # Then the email is from the storefront, answers to it, and carries its colour and name
    (email,) = [m.email for m in result.messages if m.email is not None]
    assert (email.from_email, email.from_name, email.reply_to) == (
        "hello@globex.example",
        "Globex",
        "care@globex.example",
    )
    assert "#0a7d34" in email.html
    assert "Globex Garden" in email.subject


def test_a_storefronts_template_override_replaces_only_the_files_it_has() -> None:
    # Given the example override folder (it has order.placed's subject only)
    entry = storefront(template_overrides="example-gift-shop")
    document = json.loads(_placed())
    document["data"].pop("store", None)
    result = _dispatcher(StaticStorefronts([entry]), MemoryLedger(), MemoryQueue()).plan(
        json.dumps(document), "m1", MOTO_SENDER_ID
    )
    (email,) = [m.email for m in result.messages if m.email is not None]
    # Then the subject is the storefront's own and the body the default one
    assert "gift order" in email.subject
    assert "Acme Outdoor" in email.html


def test_the_storefronts_locale_is_the_language_of_a_customer_herald_has_no_templates_for() -> None:
    # Given a Quebec storefront (registry locale fr-CA) and an order from a customer whose locale is German
    entry = storefront(locale="fr-CA")
    document = json.loads(_placed())
    document["data"]["customer"]["locale"] = "de-DE"
    result = _dispatcher(StaticStorefronts([entry]), MemoryLedger(), MemoryQueue()).plan(
        json.dumps(document), "m1", MOTO_SENDER_ID
    )
    # Then dispatch renders the email in the storefront's French, not in English
    (email,) = [m.email for m in result.messages if m.email is not None]
    assert email.subject.startswith("Votre commande ")
    assert '<html lang="fr-CA">' in email.html


def test_an_override_for_one_locale_leaves_the_other_locales_default() -> None:
    # Given the example override folder (en-US's order.placed subject only) and a Spanish-speaking customer
    entry = storefront(template_overrides="example-gift-shop")
    document = json.loads(_placed())
    document["data"]["customer"]["locale"] = "es-US"
    result = _dispatcher(StaticStorefronts([entry]), MemoryLedger(), MemoryQueue()).plan(
        json.dumps(document), "m1", MOTO_SENDER_ID
    )
    # Then the Spanish email has es-US's own subject: an English override never reaches a Spanish reader
    (email,) = [m.email for m in result.messages if m.email is not None]
    assert email.subject.startswith("Su pedido ")
    assert "gift order" not in email.subject


def test_the_storefronts_quiet_hours_and_time_zone_hold_a_night_sms() -> None:
    # Given a storefront in Tokyo with quiet hours 22:00-09:00, a customer with no time zone, and 23:30 in Tokyo
    entry = storefront(timezone="Asia/Tokyo", quiet_hours={"start": time(22, 0), "end": time(9, 0)})
    event = json.loads((EVENTS / "shipment.in_transit.json").read_text())
    event["data"]["customer"].pop("timezone", None)
    night = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 23:30 in Tokyo
    ledger = MemoryLedger()
    dispatcher = Dispatcher(
        ledger,
        MemoryQueue(),
        Renderer(),
        storefronts=StaticStorefronts([entry]),
        phone=accepting_twilio_test_numbers(to_e164),
        clock=lambda: night,
    )
    dispatcher.plan(json.dumps(event), "m1", MOTO_SENDER_ID)
    # Then the SMS waits until 09:00 in Tokyo (00:00 UTC) (read from the plan: the SMS of a shipment update is the
    # email's standby, recorded but not queued)
    (sms,) = [p.message for p in ledger.planned if p.message is not None and p.message.sms is not None]
    assert sms.not_before == datetime(2026, 12, 2, 0, 0, tzinfo=UTC).isoformat()


def test_a_throttled_read_is_raised_and_not_remembered_as_a_missing_entry() -> None:
    """Given SSM throttling the first GetParameter of an entry (botocore's Stubber: moto never throttles)
    When dispatch asks for the entry, then asks again once SSM answers
    Then the first ask raises (the event is retried, not refused as unregistered) and the second finds the entry:
    throttling was not cached as "no entry"."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.stub import Stubber

    client = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    directory = SsmStorefronts(client, REGISTRY_PATH)
    name = directory.name_of(SAMPLE_SOURCE)
    with Stubber(client) as stub:
        stub.add_client_error("get_parameter", service_error_code="ThrottlingException", http_status_code=400)
        stub.add_response(
            "get_parameter",
            {"Parameter": {"Name": name, "Type": "String", "Value": storefront().model_dump_json(), "Version": 1}},
        )
        with pytest.raises(GetParameterError, match="ThrottlingException"):
            directory.get(SAMPLE_SOURCE)
        found = directory.get(SAMPLE_SOURCE)
        stub.assert_no_pending_responses()
    assert found == storefront()


def test_a_source_ending_in_a_newline_is_encoded_not_written_as_it_is() -> None:
    # Given a source whose last part ends in a newline; When it becomes a parameter name
    leaf = parameter_leaf("storefront/acme\n")
    # Then it is the encoded form (a newline is no character of an SSM name), distinct from storefront/acme's
    assert leaf == "storefront_2Facme_0A"
