"""The Twilio stand-in, driven through the official `twilio` SDK over loopback."""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.fixtures import FIXTURES_DIR as FIXTURES  # published payloads: tests/fixtures/SOURCES.md
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from herald_tools.local.standins.faults import FaultPlan
from herald_tools.local.standins.outbox import Outbox
from herald_tools.local.standins.twilio import ERROR_MESSAGES, MAGIC_FROM, MAGIC_TO, TwilioStandIn, segments

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "local-auth-token"
SENDER = "+15005550006"  # Twilio's "valid sender" test number
CUSTOMER = "+14155550100"
SID = re.compile(r"^SM[0-9a-f]{32}$")


def _fixture() -> dict[str, Any]:
    return json.loads((FIXTURES / "twilio_sms_error_codes.json").read_text(encoding="utf-8"))


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan(seed=11)


@pytest.fixture
def standin(outbox: Outbox, faults: FaultPlan) -> Iterator[TwilioStandIn]:
    with TwilioStandIn(outbox, ACCOUNT_SID, AUTH_TOKEN, faults=faults) as server:
        yield server


def _client(url: str, token: str = AUTH_TOKEN, timeout: float = 5) -> Client:
    # The SDK has no timeout by default; TwilioHttpClient(timeout=...) sets one for every request.
    client = Client(ACCOUNT_SID, token, http_client=TwilioHttpClient(timeout=timeout))
    # twilio 9.x: the Api domain is created lazily and cached, so setting its base_url redirects
    # client.messages (= client.api.v2010.account.messages) to the stand-in.
    client.api.base_url = url
    return client


@pytest.fixture
def client(standin: TwilioStandIn) -> Client:
    return _client(standin.url)


# -- accepted SMS ------------------------------------------------------------------------------------


def test_a_valid_sms_returns_a_queued_message_instance_and_lands_in_the_outbox(
    standin: TwilioStandIn, outbox: Outbox, client: Client
) -> None:
    # Given an SDK client pointed at the stand-in
    # When it creates a message with a status callback
    message = client.messages.create(
        to=CUSTOMER, from_=SENDER, body="Your order #1001 has shipped.", status_callback="https://h.example/s"
    )

    # Then the SDK returns a MessageInstance shaped as Twilio's 201 answer
    assert SID.match(message.sid or "")
    assert message.account_sid == ACCOUNT_SID
    assert (message.to, message.from_, message.body) == (CUSTOMER, SENDER, "Your order #1001 has shipped.")
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.api_version == "2010-04-01"
    assert (message.num_segments, message.num_media) == ("1", "0")
    assert (message.price, message.error_code, message.error_message) == (None, None, None)
    assert isinstance(message.date_created, datetime.datetime)
    assert message.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"
    assert message.subresource_uris == {
        "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}/Media.json"
    }
    # And the outbox has the SMS as one JSON line, with the callback kept
    [record] = outbox.sms()
    assert {k: record[k] for k in ("to", "from", "body", "sid", "status_callback")} == {
        "to": CUSTOMER,
        "from": SENDER,
        "body": "Your order #1001 has shipped.",
        "sid": message.sid,
        "status_callback": "https://h.example/s",
    }
    assert [a["sid"] for a in standin.accepted] == [message.sid]
    assert standin.request_count == 1


def test_a_created_message_can_be_fetched_and_an_unknown_sid_is_20404(client: Client) -> None:
    # Given a message created through the SDK
    created = client.messages.create(to=CUSTOMER, from_=SENDER, body="hello")

    # When it is fetched by sid / Then the same resource comes back
    fetched = client.messages(created.sid).fetch()
    assert (fetched.sid, fetched.body, fetched.status) == (created.sid, "hello", "queued")

    # And an unknown sid raises 404 with Twilio's code 20404
    with pytest.raises(TwilioRestException) as caught:
        client.messages("SM" + "f" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_listing_messages_filters_by_recipient(client: Client) -> None:
    # Given two messages to two customers
    first = client.messages.create(to=CUSTOMER, from_=SENDER, body="one")
    client.messages.create(to="+14155550199", from_=SENDER, body="two")

    # When the SDK lists messages to the first customer / Then only that message is returned
    assert [m.sid for m in client.messages.list(to=CUSTOMER)] == [first.sid]


def test_a_messaging_service_without_from_is_accepted_not_queued(outbox: Outbox, client: Client) -> None:
    # Given only a Messaging Service sid (Twilio chooses the sender)
    message = client.messages.create(to=CUSTOMER, messaging_service_sid="MG" + "1" * 32, body="hi")

    # Then the answer is "accepted" with no from yet, and the outbox records the service
    assert (message.status, message.from_) == ("accepted", None)
    assert outbox.sms()[0]["messaging_service_sid"] == "MG" + "1" * 32


def test_a_long_unicode_body_reports_its_ucs2_segments(client: Client) -> None:
    # Given a 71-character body with a non-GSM character (one UCS-2 segment holds 70)
    body = "ü" * 70 + "✓"

    # When it is sent / Then Twilio's count of two segments is reported
    assert client.messages.create(to=CUSTOMER, from_=SENDER, body=body).num_segments == "2"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", (1, "GSM-7")),
        ("a" * 160, (1, "GSM-7")),
        ("a" * 161, (2, "GSM-7")),
        ("a" * 306, (2, "GSM-7")),
        ("a" * 307, (3, "GSM-7")),
        ("€" * 80, (1, "GSM-7")),  # extension characters take two septets each
        ("€" * 81, (2, "GSM-7")),
        ("é£ñ" * 10, (1, "GSM-7")),
        ("ê" * 70, (1, "UCS-2")),
        ("ê" * 71, (2, "UCS-2")),
        ("😀" * 35, (1, "UCS-2")),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, (2, "UCS-2")),
    ],
)
def test_segments_follow_gsm7_and_ucs2_limits(body: str, expected: tuple[int, str]) -> None:
    # Given a body / When its segments are counted / Then the 160/153 and 70/67 limits apply
    assert segments(body) == expected


# -- request errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("to", "code"), sorted(MAGIC_TO.items()))
def test_each_magic_to_number_raises_its_twilio_error(outbox: Outbox, client: Client, to: str, code: int) -> None:
    # Given one of Twilio's test-credential magic To numbers
    # When a message is sent to it
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=to, from_=SENDER, body="hello")

    # Then the SDK raises with that code and HTTP 400, and nothing is sent
    assert (caught.value.code, caught.value.status) == (code, 400)
    assert outbox.sms() == []


@pytest.mark.parametrize(("from_", "code"), sorted(MAGIC_FROM.items()))
def test_each_magic_from_number_raises_its_twilio_error(client: Client, from_: str, code: int) -> None:
    # Given a magic From number / When a message is sent from it / Then the SDK raises with its code
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=CUSTOMER, from_=from_, body="hello")
    assert (caught.value.code, caught.value.status) == (code, 400)


def test_the_magic_numbers_are_the_ones_the_fixture_lists() -> None:
    # Given the fixture's test-credential table / Then the stand-in uses the same number -> code map
    magic = _fixture()["test_credentials_magic_numbers_sms"]
    assert magic["to"] == MAGIC_TO
    assert {n: c for n, c in magic["from"].items() if isinstance(c, int)} == MAGIC_FROM


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "", "from_": SENDER, "body": "hi"}, 21604),
        ({"to": CUSTOMER, "body": "hi"}, 21603),
        ({"to": CUSTOMER, "from_": SENDER}, 21602),
        ({"to": "415-555-0100", "from_": SENDER, "body": "hi"}, 21211),
        ({"to": CUSTOMER, "from_": "not a sender!", "body": "hi"}, 21212),
        ({"to": CUSTOMER, "from_": SENDER, "body": "x" * 1601}, 21617),
    ],
)
def test_missing_or_malformed_parameters_are_rejected_with_twilio_codes(
    client: Client, kwargs: dict[str, Any], code: int
) -> None:
    # Given a create call missing or mangling one parameter / When it is sent / Then Twilio's code comes back
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(**kwargs)
    assert (caught.value.code, caught.value.status) == (code, 400)


def test_an_invalid_to_error_body_has_twilios_rest_shape(standin: TwilioStandIn) -> None:
    # Given a raw request with a non-E.164 To
    response = requests.post(
        f"{standin.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"To": "+invalid", "From": SENDER, "Body": "hi"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )

    # Then the body is exactly the fixture's published example
    assert response.status_code == 400
    assert response.json() == _fixture()["rest_error_response_shape"]["example_body"]


def test_error_messages_are_the_fixture_dictionarys_records() -> None:
    # Given Twilio's error dictionary records in the fixture
    records = {r["code"]: r["message"] for r in _fixture()["errors"]}

    # Then every code the stand-in shares with it uses the record's message, except the three whose live
    # REST message differs from the dictionary title: 20003 "Authenticate", 20404 "The requested resource
    # ... was not found" and 21211 (the fixture's REST example body, checked above)
    rest_wording = (20003, 20404, 21211)
    shared = {code: text for code, text in ERROR_MESSAGES.items() if code in records and code not in rest_wording}
    assert shared == {code: records[code] for code in shared}
    assert set(shared) >= {20429, 21212, 21408, 21606, 21610, 21612, 21614, 21617}


# -- authentication ----------------------------------------------------------------------------------------


def test_a_wrong_auth_token_raises_401_code_20003(standin: TwilioStandIn, outbox: Outbox) -> None:
    # Given a client with the right account sid and a wrong token
    client = _client(standin.url, token="wrong")

    # When it sends / Then the SDK raises 401 with code 20003 and nothing is sent
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert "Authenticate" in caught.value.msg
    assert outbox.sms() == []


def test_the_401_body_is_twilios(standin: TwilioStandIn) -> None:
    # Given a raw request without credentials / When it posts / Then the body is Twilio's 20003 shape
    response = requests.post(f"{standin.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", timeout=5)
    assert response.status_code == 401
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


def test_another_accounts_path_is_404_code_20404(client: Client) -> None:
    # Given valid credentials / When the SDK posts under a different AccountSid
    with pytest.raises(TwilioRestException) as caught:
        client.api.v2010.accounts("AC" + "9" * 32).messages.create(to=CUSTOMER, from_=SENDER, body="hi")

    # Then it is not found, as Twilio answers for a resource outside the account
    assert (caught.value.status, caught.value.code) == (404, 20404)


# -- faults --------------------------------------------------------------------------------------------------


def test_a_throttle_fault_raises_429_code_20429(faults: FaultPlan, outbox: Outbox, client: Client) -> None:
    # Given a plan that throttles every request
    faults.throttle_rate = 1.0

    # When a message is sent / Then the SDK raises 429 with code 20429 and nothing is sent
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")
    assert (caught.value.status, caught.value.code) == (429, 20429)
    assert outbox.sms() == []


def test_server_error_faults_alternate_500_and_503_with_twilio_bodies(faults: FaultPlan, client: Client) -> None:
    # Given a plan that fails every request with a 5xx
    faults.server_error_rate = 1.0

    # When two messages are sent
    seen = []
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")
        seen.append((caught.value.status, caught.value.code))

    # Then the first is a 500 and the second a 503, each with Twilio's code
    assert seen == [(500, 20500), (503, 20503)]


def test_a_timeout_fault_trips_the_sdk_timeout(faults: FaultPlan, standin: TwilioStandIn, outbox: Outbox) -> None:
    # Given a plan that hangs every request for 30 s, and a client with a 0.3 s timeout
    faults.update(timeout_rate=1.0, hang_seconds=30)
    client = _client(standin.url, timeout=0.3)

    # When a message is sent
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")

    # Then the requests timeout (not a TwilioException) surfaces within the limit, and nothing was sent
    assert time.monotonic() - started < 2
    assert outbox.sms() == []


def test_forced_faults_then_success_model_a_retry_that_recovers(faults: FaultPlan, client: Client) -> None:
    # Given a plan that throttles the next two calls only
    faults.force_next("throttle", "throttle")

    # When a sender retries until it succeeds
    codes = []
    for _ in range(3):
        try:
            message = client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")
        except TwilioRestException as exc:
            codes.append(exc.code)
        else:
            codes.append(message.sid)

    # Then two 20429s come back and the third call succeeds
    assert codes[:2] == [20429, 20429]
    assert SID.match(str(codes[2]))
