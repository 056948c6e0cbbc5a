"""`herald stores add | list | show | check` against a stack's registry in moto (SSM, Secrets Manager, SESv2)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from tests.storefronts import seed_registry, storefront
from typer.testing import CliRunner

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald_tools.cli import app
from herald_tools.ops.stores import registry_path

REGION = "us-east-1"
STACK = "herald-stores-test"
PATH = registry_path(STACK)
SECOND = "storefront/bramble-books"
SENDGRID_KEY = "SG.never-printed-value"
TWILIO_TOKEN = "twilio-token-never-printed"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """moto with a deployed stack of that name (`--stack` reads its outputs), run from an empty folder (so no
    .herald/local.json is found)."""
    monkeypatch.chdir(tmp_path)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with mock_aws():
        template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stores-test"}}},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        yield {name: boto3.client(name, region_name=REGION) for name in ("ssm", "secretsmanager", "sesv2")}


def herald(*args: str, columns: int = 200) -> Any:
    runner = CliRunner(env={"COLUMNS": str(columns)})
    return runner.invoke(app, ["stores", *args, "--stack", STACK, "--region", REGION], catch_exceptions=False)


def stored(ssm: Any) -> dict[str, dict[str, Any]]:
    parameters = ssm.get_parameters_by_path(Path=PATH, Recursive=True)["Parameters"]
    return {p["Name"]: json.loads(p["Value"]) for p in parameters}


def sendable(aws: dict[str, Any], entry: Any = None) -> Any:
    """An entry whose secrets exist with their keys and whose SES identity is verified for sending."""
    entry = entry or storefront()
    secrets = aws["secretsmanager"]
    secrets.create_secret(Name=entry.sendgrid_secret_id, SecretString=json.dumps({"api_key": SENDGRID_KEY}))
    secrets.create_secret(
        Name=entry.twilio_secret_id,
        SecretString=json.dumps({"account_sid": "AC" + "0" * 32, "auth_token": TWILIO_TOKEN}),
    )
    verify(aws, entry.ses_sending_identity)
    seed_registry(aws["ssm"], PATH, entry)
    return entry


def verify(aws: dict[str, Any], identity: str) -> None:
    aws["sesv2"].create_email_identity(EmailIdentity=identity)
    # moto creates every identity "SUCCESS" but never verified for sending; a real one becomes so once its DNS
    # records are found. The test stands for that step.
    from moto.ses.models import ses_backends

    ses_backends[DEFAULT_ACCOUNT_ID][REGION].email_identities[identity].verified_for_sending_status = True


def plain(output: str) -> str:
    return re.sub(r"[\s│┃║|─━┏┓┗┛┡┩└┘┌┐╇╈┼┬┴├┤]+", " ", output)


SECOND_OPTIONS = [
    "--source", SECOND,
    "--name", "Bramble Books",
    "--email-from", "hello@bramble.example",
    "--sendgrid-secret-id", "herald/bramble/sendgrid",
    "--twilio-secret-id", "herald/bramble/twilio",
    "--messaging-service-sid", "MG" + "a" * 32,
    "--publisher", "AIDAEXAMPLEBRAMBLE01",
    "--publisher", "AROAEXAMPLEBRAMBLE02:orders",
]  # fmt: skip


# --- add ---------------------------------------------------------------------------------------------


def test_add_from_options_writes_the_entry_under_the_stacks_registry_path(aws: dict[str, Any]) -> None:
    # Given a stack with no second storefront
    # When the operator adds one from options
    result = herald("add", *SECOND_OPTIONS)
    # Then it is written at /herald/<stack>/storefronts/<source>, with both publishers, and reads back as an entry
    assert result.exit_code == 0, result.output
    entries = stored(aws["ssm"])
    assert list(entries) == [f"{PATH}/{SECOND}"]
    assert entries[f"{PATH}/{SECOND}"]["publishers"] == ["AIDAEXAMPLEBRAMBLE01", "AROAEXAMPLEBRAMBLE02:orders"]
    entry = SsmStorefronts(aws["ssm"], PATH).get(SECOND)
    assert entry is not None
    assert entry.twilio_messaging_service_sid == "MG" + "a" * 32


def test_add_from_a_yaml_file_keeps_unquoted_times_as_times_and_options_win(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    # Given a YAML entry whose quiet hours are written unquoted (YAML 1.1 reads 21:30 as the number 1290)
    file = tmp_path / "bramble.yaml"
    file.write_text(
        f"source: {SECOND}\nname: Bramble\nemail_from: hello@bramble.example\n"
        "sendgrid_secret_id: herald/bramble/sendgrid\ntwilio_secret_id: herald/bramble/twilio\n"
        "sms_from: '+15005550006'\nquiet_hours:\n  start: 21:30\n  end: 07:00\npublishers: [AIDAEXAMPLEBRAMBLE01]\n",
        encoding="utf-8",
    )
    # When it is added with a name given on the command line too
    result = herald("add", "--file", str(file), "--name", "Bramble Books")
    # Then the window is 21:30-07:00, not 00:21:30, and the option's name replaced the file's
    assert result.exit_code == 0, result.output
    entry = stored(aws["ssm"])[f"{PATH}/{SECOND}"]
    assert entry["quiet_hours"] == {"start": "21:30:00", "end": "07:00:00"}
    assert entry["name"] == "Bramble Books"


def test_add_refuses_an_invalid_entry_with_one_line_per_field_and_writes_nothing(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    # Given a JSON entry with a bad address, a bad publisher and no SMS sender
    file = tmp_path / "bad.json"
    file.write_text(
        json.dumps(
            {
                "source": SECOND,
                "name": "Bramble",
                "email_from": "not-an-address",
                "sendgrid_secret_id": "herald/bramble/sendgrid",
                "twilio_secret_id": "herald/bramble/twilio",
                "sms_from": "5550006",
                "publishers": ["someone"],
            }
        ),
        encoding="utf-8",
    )
    # When the operator adds it
    result = herald("add", "--file", str(file))
    # Then it exits 2, naming each field on its own line, and the registry is still empty
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert any(line.strip().startswith("email_from:") and "not-an-address" in line for line in lines), lines
    assert any(line.strip().startswith("sms_from:") for line in lines), lines
    assert any(line.strip().startswith("publishers.0:") for line in lines), lines
    assert stored(aws["ssm"]) == {}


def test_add_refuses_to_overwrite_an_existing_entry_unless_replace(aws: dict[str, Any]) -> None:
    # Given the second storefront already registered
    assert herald("add", *SECOND_OPTIONS).exit_code == 0
    renamed = [*SECOND_OPTIONS]
    renamed[renamed.index("Bramble Books")] = "Bramble & Co"
    # When it is added again with another name
    refused = herald("add", *renamed)
    # Then it exits 1 saying --replace, and the entry is unchanged
    assert refused.exit_code == 1
    assert "--replace" in refused.stderr
    assert stored(aws["ssm"])[f"{PATH}/{SECOND}"]["name"] == "Bramble Books"
    # And with --replace it is overwritten
    assert herald("add", *renamed, "--replace").exit_code == 0
    assert stored(aws["ssm"])[f"{PATH}/{SECOND}"]["name"] == "Bramble & Co"


# --- list, show -----------------------------------------------------------------------------------------


def test_list_shows_every_entry_and_a_broken_one_with_its_problems_at_80_columns(aws: dict[str, Any]) -> None:
    # Given two valid entries and one an operator broke by hand (put-parameter, outside `herald stores add`)
    seed_registry(aws["ssm"], PATH, storefront(), storefront(SECOND, name="Bramble Books", publishers=()))
    aws["ssm"].put_parameter(
        Name=f"{PATH}/storefront/broken", Value=json.dumps({"source": "storefront/broken"}), Type="String"
    )
    # When the operator lists them on an 80-column terminal
    result = herald("list", columns=80)
    text = plain(result.stdout)
    words = set(text.split())  # cells fold at 80 columns: their words are still whole
    # Then both valid entries are rows, the broken one is listed with what it lacks, and it exits 1
    assert result.exit_code == 1
    assert {"Acme", "Outdoor", "Bramble", "Books", "+15005550006", "INVALID"} <= words
    assert f"INVALID {PATH}/storefront/broken:" in result.stdout
    assert "  email_from: Field required" in result.stdout.splitlines()
    assert "3 entries, 1 invalid" in text
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_show_prints_the_entry_as_json_and_no_secret_value(aws: dict[str, Any]) -> None:
    # Given a registered storefront whose secrets exist
    sendable(aws)
    # When the operator shows it
    result = herald("show", "storefront/acme-outdoor")
    # Then the JSON is the entry, naming the secret, never holding its value
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["source"] == "storefront/acme-outdoor"
    assert shown["sendgrid_secret_id"] == "herald/sendgrid"
    assert SENDGRID_KEY not in result.output
    assert TWILIO_TOKEN not in result.output


def test_show_of_an_unknown_source_exits_1_with_a_clear_message(aws: dict[str, Any]) -> None:
    # Given a registry without that source
    seed_registry(aws["ssm"], PATH)
    # When the operator shows it
    result = herald("show", "storefront/nobody")
    # Then it exits 1 naming the source and where it looked
    assert result.exit_code == 1
    assert "no storefront 'storefront/nobody'" in result.stderr
    assert f"{PATH}/storefront/nobody" in result.stderr


# --- check --------------------------------------------------------------------------------------------


def lines_of(result: Any) -> dict[str, str]:
    """`PASS|FAIL source: what: detail` lines, by what."""
    found = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^(PASS|FAIL) [^:]+: ([^:]+): (.*)$", line)
        if match:
            found[match[2]] = f"{match[1]} {match[3]}"
    return found


def test_check_passes_every_check_of_a_sendable_entry(aws: dict[str, Any]) -> None:
    # Given an entry whose secrets have their keys, whose identity is verified, and which has a publisher
    sendable(aws)
    # When the operator checks it
    result = herald("check", "storefront/acme-outdoor")
    # Then every check passes, it exits 0, and no secret value is printed
    assert result.exit_code == 0, result.output
    assert {what: line.split()[0] for what, line in lines_of(result).items()} == {
        "SendGrid secret": "PASS",
        "Twilio secret": "PASS",
        "SES identity": "PASS",
        "publishers": "PASS",
    }
    assert SENDGRID_KEY not in result.output
    assert TWILIO_TOKEN not in result.output


def test_check_fails_a_missing_secret(aws: dict[str, Any]) -> None:
    # Given a sendable entry whose SendGrid secret is then deleted
    entry = sendable(aws)
    aws["secretsmanager"].delete_secret(SecretId=entry.sendgrid_secret_id, ForceDeleteWithoutRecovery=True)
    # When the operator checks every entry
    result = herald("check")
    # Then the SendGrid check fails naming the secret, the others pass, and it exits 1
    assert result.exit_code == 1
    checks = lines_of(result)
    assert checks["SendGrid secret"] == "FAIL herald/sendgrid: no such secret"
    assert checks["Twilio secret"].startswith("PASS")


def test_check_fails_a_secret_lacking_a_key_without_printing_the_others(aws: dict[str, Any]) -> None:
    # Given a Twilio secret holding an account_sid but no auth_token
    entry = sendable(aws)
    aws["secretsmanager"].put_secret_value(
        SecretId=entry.twilio_secret_id, SecretString=json.dumps({"account_sid": "AC-secret-sid-value"})
    )
    # When the operator checks it
    result = herald("check", entry.source)
    # Then the Twilio check fails naming the missing key, not the value it holds
    assert result.exit_code == 1
    assert lines_of(result)["Twilio secret"] == "FAIL herald/twilio: lacks auth_token"
    assert "AC-secret-sid-value" not in result.output


def test_check_fails_an_identity_not_verified_for_sending_and_an_entry_without_publishers(
    aws: dict[str, Any],
) -> None:
    # Given a second storefront with secrets, whose SES domain exists but is not verified, and no publisher yet
    sendable(aws)
    entry = storefront(SECOND, email_from="hello@bramble.example", publishers=())
    seed_registry(aws["ssm"], PATH, entry)
    aws["sesv2"].create_email_identity(EmailIdentity="bramble.example")  # moto: never verified for sending
    # When the operator checks it
    result = herald("check", SECOND)
    # Then the SES and publishers checks fail, and it exits 1
    assert result.exit_code == 1
    checks = lines_of(result)
    assert checks["SES identity"].startswith("FAIL bramble.example: not verified for sending")
    assert checks["publishers"].startswith("FAIL")
    assert checks["SendGrid secret"].startswith("PASS")


def test_check_of_every_entry_fails_one_the_model_refuses(aws: dict[str, Any]) -> None:
    # Given a sendable entry and a broken one
    sendable(aws)
    aws["ssm"].put_parameter(Name=f"{PATH}/storefront/broken", Value="{}", Type="String")
    # When the operator checks every entry
    result = herald("check")
    # Then the broken one fails as an entry, and it exits 1
    assert result.exit_code == 1
    assert f"FAIL {PATH}/storefront/broken: entry: the model refuses it" in result.stdout


# --- check: the intake ----------------------------------------------------------------------------------------

EASYPOST_SIGNING = "easypost-signing-secret-never-printed"


def with_intake(aws: dict[str, Any], source: str = "storefront/acme-outdoor", **intake: Any) -> Any:
    """A sendable entry with these intake fields; the entries after the first share its sending secrets."""
    entry = storefront(source, intake={"slug": "acme-outdoor", **intake})
    if not stored(aws["ssm"]):
        return sendable(aws, entry)
    seed_registry(aws["ssm"], PATH, entry)
    return entry


def test_check_passes_an_intake_signing_secret_that_holds_a_value_and_never_prints_it(aws: dict[str, Any]) -> None:
    """Given an entry whose intake names an EasyPost signing secret that exists and holds a value
    When the operator checks it
    Then the EasyPost intake secret check passes, it exits 0, and the value is not printed."""
    aws["secretsmanager"].create_secret(Name="herald/acme/easypost", SecretString=EASYPOST_SIGNING)
    entry = with_intake(aws, easypost_secret_id="herald/acme/easypost")
    result = herald("check", entry.source)
    assert result.exit_code == 0, result.output
    assert lines_of(result)["easypost intake secret"] == "PASS herald/acme/easypost: holds a signing secret"
    assert EASYPOST_SIGNING not in result.output


def test_check_fails_each_intake_secret_that_is_missing_blank_or_binary(aws: dict[str, Any]) -> None:
    """Given an entry whose intake names a Shopify secret that does not exist, an AfterShip secret holding only
    blanks, a Shippo secret held as SecretBinary, and a good Onfleet one
    When the operator checks every entry
    Then each bad one fails naming the secret and why, the good one passes, and it exits 1."""
    secrets = aws["secretsmanager"]
    secrets.create_secret(Name="herald/acme/aftership", SecretString="   ")
    secrets.create_secret(Name="herald/acme/shippo", SecretBinary=b"binary-never-printed")
    secrets.create_secret(Name="herald/acme/onfleet", SecretString="onfleet-never-printed")
    with_intake(
        aws,
        shopify_shop_domain="acme.myshopify.com",
        shopify_secret_id="herald/acme/shopify",
        aftership_secret_id="herald/acme/aftership",
        shippo_secret_id="herald/acme/shippo",
        onfleet_secret_id="herald/acme/onfleet",
    )
    result = herald("check")
    assert result.exit_code == 1
    checks = lines_of(result)
    assert checks["shopify intake secret"] == "FAIL herald/acme/shopify: no such secret"
    assert checks["aftership intake secret"] == "FAIL herald/acme/aftership: its SecretString is empty"
    assert checks["shippo intake secret"].startswith("FAIL herald/acme/shippo: holds no SecretString")
    assert checks["onfleet intake secret"].startswith("PASS")
    assert "easypost intake secret" not in checks  # the entry names no EasyPost secret: nothing to check
    assert "never-printed" not in result.output


def _conflicts(result: Any) -> list[str]:
    return sorted(line for line in result.stdout.splitlines() if "also claimed by" in line)


def test_check_names_both_entries_that_claim_one_intake_slug_or_one_shop_domain(aws: dict[str, Any]) -> None:
    """Given two entries claiming the slug "acme-outdoor" and the shop acme.myshopify.com, and a third with its own
    When the operator checks every entry
    Then each of the two fails once for the slug and once for the shop, naming the other; the third is not named;
    and it exits 1, though every secret check passes."""
    shop = {"shopify_shop_domain": "acme.myshopify.com"}
    with_intake(aws, **shop)
    with_intake(aws, SECOND, **shop)
    seed_registry(aws["ssm"], PATH, storefront("storefront/third", intake={"slug": "third"}))
    result = herald("check")
    assert result.exit_code == 1
    assert _conflicts(result) == [
        "FAIL storefront/acme-outdoor: Shopify shop domain: acme.myshopify.com is also claimed by "
        "storefront/bramble-books: the intake serves neither entry",
        "FAIL storefront/acme-outdoor: intake slug: acme-outdoor is also claimed by storefront/bramble-books: "
        "the intake serves neither entry",
        "FAIL storefront/bramble-books: Shopify shop domain: acme.myshopify.com is also claimed by "
        "storefront/acme-outdoor: the intake serves neither entry",
        "FAIL storefront/bramble-books: intake slug: acme-outdoor is also claimed by storefront/acme-outdoor: "
        "the intake serves neither entry",
    ]
    assert not [line for line in result.stdout.splitlines() if line.startswith("FAIL") and "claimed" not in line]


def test_check_of_one_source_reports_its_slug_claimed_by_an_entry_not_checked(aws: dict[str, Any]) -> None:
    """Given two entries claiming one slug
    When the operator checks only the second
    Then the conflict is reported for it, naming the first, and it exits 1 (the first is not checked)."""
    with_intake(aws)
    with_intake(aws, SECOND)
    result = herald("check", SECOND)
    assert result.exit_code == 1
    assert _conflicts(result) == [
        "FAIL storefront/bramble-books: intake slug: acme-outdoor is also claimed by storefront/acme-outdoor: "
        "the intake serves neither entry"
    ]
    assert "FAIL storefront/acme-outdoor" not in result.stdout


# --- outbound webhooks (issue 11) -------------------------------------------------------------------------------

SIGNING_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"  # base64 of 24 bytes: never printed


def test_add_from_a_file_writes_the_outbound_webhook_and_refuses_a_plain_http_url(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    # Given an entry file with an outbound webhook over plain HTTP
    file = tmp_path / "bramble.json"
    values = {
        "source": SECOND,
        "name": "Bramble Books",
        "email_from": "hello@bramble.example",
        "sendgrid_secret_id": "herald/bramble/sendgrid",
        "twilio_secret_id": "herald/bramble/twilio",
        "sms_from": "+15005550006",
        "outbound": {"url": "http://bramble.example/hooks", "secret_id": "herald/bramble/outbound"},
    }
    file.write_text(json.dumps(values))
    # When the operator adds it, Then it is refused naming the field, and nothing is written
    refused = herald("add", "--file", str(file))
    assert refused.exit_code == 2
    assert "outbound.url" in refused.output
    assert stored(aws["ssm"]) == {}
    # When the URL is https, Then the entry is written with its outbound webhook
    values["outbound"]["url"] = "https://bramble.example/hooks"  # type: ignore[index]
    file.write_text(json.dumps(values))
    assert herald("add", "--file", str(file)).exit_code == 0
    entry = SsmStorefronts(aws["ssm"], PATH).get(SECOND)
    assert entry is not None
    assert entry.outbound is not None
    assert entry.outbound.url == "https://bramble.example/hooks"


def test_check_passes_an_outbound_signing_secret_holding_keys_without_printing_them(aws: dict[str, Any]) -> None:
    # Given a sendable entry with an outbound webhook whose secret holds a rotation of two keys
    entry = sendable(
        aws, storefront(outbound={"url": "https://acme.example/hooks", "secret_id": "herald/acme/outbound"})
    )
    aws["secretsmanager"].create_secret(
        Name="herald/acme/outbound", SecretString=json.dumps({"keys": [SIGNING_SECRET, SIGNING_SECRET]})
    )
    # When the operator checks it
    result = herald("check", entry.source)
    # Then the signing secret passes with its count of keys, and its value is nowhere in the output
    assert result.exit_code == 0, result.output
    assert lines_of(result)["outbound signing secret"] == "PASS herald/acme/outbound: 2 signing keys"
    assert SIGNING_SECRET[6:] not in result.output


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (None, "FAIL herald/acme/outbound: no such secret"),
        ("not-a-whsec-value-at-all-0123456789", "FAIL herald/acme/outbound: a signing secret starts with whsec_"),
    ],
)
def test_check_fails_a_missing_or_unusable_outbound_signing_secret(
    aws: dict[str, Any], value: str | None, detail: str
) -> None:
    # Given an entry whose outbound signing secret is missing, or is not a Standard Webhooks secret
    entry = sendable(
        aws, storefront(outbound={"url": "https://acme.example/hooks", "secret_id": "herald/acme/outbound"})
    )
    if value is not None:
        aws["secretsmanager"].create_secret(Name="herald/acme/outbound", SecretString=value)
    # When the operator checks it
    result = herald("check", entry.source)
    # Then that check fails naming the problem, not the value, and it exits 1
    assert result.exit_code == 1
    assert lines_of(result)["outbound signing secret"] == detail
    if value is not None:
        assert value not in result.output
