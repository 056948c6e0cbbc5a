"""The intake function over moto: a carrier's signed webhook reaches the customer of the order it belongs to;
forged, unsigned and unknown requests are refused and recorded nowhere."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from herald.handlers import dispatch, intake
from tests.fixtures import FIXTURES_DIR
from tests.storefronts import REGISTRY_PATH, SAMPLE_SOURCE, seed_registry, storefront

from .conftest import REGION, Env, FakeContext, sample
from .signing import http_event, snapshot

VECTOR = json.loads((FIXTURES_DIR / "easypost_webhook_hmac_test_vector.json").read_text())
# EasyPost's official fixture, as signed: the file without its one trailing newline (tests/fixtures/SOURCES.md).
EASYPOST_BODY = (FIXTURES_DIR / "easypost_tracker_updated_event.json").read_bytes().removesuffix(b"\n")
EASYPOST_SIGNATURE = VECTOR["expected_header_value"]
SLUG = "acme-outdoor"
EASYPOST_PATH = f"/intake/easypost/{SLUG}"


@pytest.fixture
def intake_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    # The intake's entry: the sample storefront, with its EasyPost secret (EasyPost's published vector's)
    monkeypatch.setenv("HERALD_ORDER_EVENTS_QUEUE_URL", env.queues["order-events"])
    monkeypatch.setenv("HERALD_SHIPMENT_EVENTS_QUEUE_URL", env.queues["shipment-events"])
    entry = storefront(SAMPLE_SOURCE, intake={"slug": SLUG, "easypost_secret_id": "herald/acme/easypost"})
    seed_registry(boto3.client("ssm", region_name=REGION), REGISTRY_PATH, entry)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="herald/acme/easypost", SecretString=VECTOR["webhook_secret"])
    intake.root.reset()
    dispatch.root.reset()
    return env


def _post(path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    event = http_event(path, body, headers)
    response: dict[str, Any] = intake.handler(event, FakeContext())
    return response


def _shipment_with_the_fixtures_tracking_number(env: Env) -> dict[str, Any]:
    event = sample("shipment.created", id="evt_easypost_shipment")
    event["data"]["shipment"].update({"carrier": "FedEx", "tracking_number": "1", "id": "shp_easypost"})
    env.publish("shipment-events", [json.dumps(event)])
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    return event


def test_a_signed_easypost_scan_reaches_the_customer_of_the_shipment_it_names(intake_env: Env) -> None:
    # Given the storefront told Herald about the shipment EasyPost's published event tracks
    env = intake_env
    shipment = _shipment_with_the_fixtures_tracking_number(env)
    # When EasyPost posts its published tracker.updated, signed as its test vector says
    response = _post(EASYPOST_PATH, EASYPOST_BODY, {"X-Hmac-Signature": EASYPOST_SIGNATURE})
    # Then it is accepted and one Herald event is published for that shipment
    assert response["statusCode"] == 200, response
    answer = json.loads(response["body"])
    assert answer["published"] == ["easypost-evt_1"]
    # And dispatch takes it as that order's in-transit notice, for that customer
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    notifications = [
        n for n in env.notifications().values() if n.get("event_id") == "easypost-evt_1" and n.get("channel") == "email"
    ]
    (email,) = notifications
    assert email["order_id"] == shipment["data"]["order"]["id"]
    assert email["status"] == "pending"


def test_a_scan_before_its_shipment_is_kept_and_told_when_the_shipment_arrives(intake_env: Env) -> None:
    # Given EasyPost reports the parcel before the storefront reported the shipment
    env = intake_env
    response = _post(EASYPOST_PATH, EASYPOST_BODY, {"X-Hmac-Signature": EASYPOST_SIGNATURE})
    assert json.loads(response["body"])["published"] == []
    assert env.depth("shipment-events") == 0
    # When the shipment is reported
    _shipment_with_the_fixtures_tracking_number(env)
    # Then the kept scan is published, and dispatch records its notice
    assert env.depth("shipment-events") == 1
    assert env.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    assert any(n.get("event_id") == "easypost-evt_1" for n in env.notifications().values())


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (EASYPOST_PATH, {}, 401),  # unsigned
        (EASYPOST_PATH, {"X-Hmac-Signature": "hmac-sha256-hex=" + "0" * 64}, 403),  # forged
        ("/intake/easypost/no-such-store", {"X-Hmac-Signature": EASYPOST_SIGNATURE}, 403),  # unknown slug
        # A platform the entry has no secret for
        (f"/intake/aftership/{SLUG}", {"aftership-hmac-sha256": "c2lnbmF0dXJl"}, 403),
    ],
)
def test_unsigned_forged_and_unknown_requests_are_refused_and_recorded_nowhere(
    intake_env: Env, path: str, headers: dict[str, str], status: int
) -> None:
    # Given the shipment is known and the table as it is
    env = intake_env
    _shipment_with_the_fixtures_tracking_number(env)
    before = snapshot(env)
    # When the request comes
    response = _post(path, EASYPOST_BODY, headers)
    # Then it is refused, nothing is recorded and nothing is published
    assert response["statusCode"] == status
    assert snapshot(env) == before
    assert env.depth("shipment-events") == 0


def test_a_tampered_body_is_refused(intake_env: Env) -> None:
    env = intake_env
    tampered = EASYPOST_BODY.replace(b'"in_transit"', b'"delivered"', 1)
    assert tampered != EASYPOST_BODY
    before = snapshot(env)
    assert _post(EASYPOST_PATH, tampered, {"X-Hmac-Signature": EASYPOST_SIGNATURE})["statusCode"] == 403
    assert snapshot(env) == before


def test_an_oversized_body_is_refused_unread(intake_env: Env) -> None:
    body = b"{" + b" " * (600 * 1024) + b"}"
    assert _post(EASYPOST_PATH, body, {"X-Hmac-Signature": EASYPOST_SIGNATURE})["statusCode"] == 413


def test_onfleets_registration_check_is_echoed_for_a_known_slug_only(intake_env: Env) -> None:
    def check(slug: str, value: str) -> dict[str, Any]:
        event = http_event(f"/intake/onfleet/{slug}", b"", {}, query=f"check={value}")
        event["routeKey"] = f"GET /intake/onfleet/{slug}"
        event["requestContext"]["http"]["method"] = "GET"
        event["queryStringParameters"] = {"check": value}
        response: dict[str, Any] = intake.handler(event, FakeContext())
        return response

    known = check(SLUG, "d2be6f1a")
    assert (known["statusCode"], known["body"]) == (200, "d2be6f1a")
    assert check("no-such-store", "d2be6f1a")["statusCode"] == 404
