"""The customer's order page end to end over moto: dispatch puts the page link in every message, the page shows
the order's shipments with their history, estimates and proof, and its forms record the customer's answer about
a delivery on the order's timeline, once per form, against forgery and replay (issue 11, sections 1 and 2)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
import pytest

from herald.handlers import dispatch, order_page, send_email, send_sms
from herald.usecases.timeline import order_timeline

from .conftest import REGION, TABLE, Env, FakeContext, sample

BASE_URL = "https://abc123defg.execute-api.us-east-1.amazonaws.com"
KEY = "p" * 40
SOURCE = "storefront/acme-outdoor"


@pytest.fixture
def pages(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A deployment serving the order page at the API's URL, with the page key's secret."""
    monkeypatch.setenv("HERALD_ORDER_PAGE_BASE_URL", BASE_URL)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="herald/order-pages", SecretString=json.dumps({"keys": [KEY]})
    )
    dispatch.root.reset()
    order_page.root.reset()
    return env


def _now(hours: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(hours=48) + timedelta(hours=hours)).isoformat()


def _dispatch(
    env: Env, event_type: str, event_id: str, hours: float, *, locale: str | None = None, **shipment: Any
) -> dict[str, Any]:
    event = sample(event_type, id=event_id, time=_now(hours))
    if locale is not None:
        event["data"]["customer"]["locale"] = locale
    if "shipment" in event["data"]:
        event["data"]["shipment"].update(shipment)
    queue = "shipment-events" if event_type.startswith("shipment.") else "order-events"
    env.publish(queue, [json.dumps(event)])
    assert env.deliver(queue, dispatch.handler)["batchItemFailures"] == []
    return event


def _delivered_story(env: Env, locale: str | None = None) -> None:
    """The sample order placed, shipped (promised the 5th), delayed (now the 6th), then delivered with proof."""
    _dispatch(env, "order.placed", "evt_placed", 0, locale=locale)
    _dispatch(env, "shipment.in_transit", "evt_scan", 2, locale=locale, estimated_delivery="2026-11-05")
    _dispatch(env, "shipment.delayed", "evt_delay", 4, locale=locale, estimated_delivery="2026-11-06")
    _dispatch(env, "shipment.delivered", "evt_delivered", 6, locale=locale)


def request(
    method: str, path: str, body: bytes = b"", *, encode: bool = False, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    route = "POST /o/{token}/delivery" if method == "POST" else "GET /o/{token}"
    token = path.split("/")[2]
    event = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": urlsplit(BASE_URL).netloc,
            "content-type": "application/x-www-form-urlencoded",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": urlsplit(BASE_URL).netloc,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "req-page",
            "routeKey": route,
            "stage": "$default",
            "timeEpoch": 1_800_000_000_000,
        },
        "pathParameters": {"token": token},
        "body": base64.b64encode(body).decode() if encode else body.decode(),
        "isBase64Encoded": encode,
    }
    response: dict[str, Any] = order_page.handler(event, FakeContext())
    return response


def _page_path(env: Env) -> str:
    """The page link the last email carried, as a path."""
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    message = message_from_bytes(env.outbox.emails()[-1].read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    html = body.get_content()
    match = re.search(r"https://abc123defg[^\s\"'<>]*/o/[A-Za-z0-9_-]{22}", html)
    assert match, "the email carries no order page link"
    return urlsplit(match.group(0)).path


def _form_token(page: str, shipment: str = "shp_1001_1") -> str:
    match = re.search(
        rf'name="shipment" value="{shipment}">\s*<input type="hidden" name="form_token" value="([^"]+)"', page
    )
    assert match, "the page has no delivery form"
    return match.group(1)


def _post(path: str, fields: dict[str, str]) -> dict[str, Any]:
    return request("POST", f"{path}/delivery", urlencode(fields).encode())


def _answers(env: Env) -> list[dict[str, Any]]:
    from herald.adapters.dynamodb_ledger import DynamoDbLedger

    timeline = order_timeline(DynamoDbLedger(env.dynamodb, TABLE, ttl_days=90), SOURCE, "ord_1001")
    return [e for e in timeline["entries"] if e["kind"] in ("delivery_confirmed", "delivery_disputed")]


def test_every_message_links_to_the_orders_page_and_the_sms_carries_it_as_its_link(pages: Env) -> None:
    # Given the order placed
    _dispatch(pages, "order.placed", "evt_placed", 0)
    # Then the email's main button and the SMS both open the order's page, the same link
    path = _page_path(pages)
    assert env_sms_links(pages) == [f"{BASE_URL}{path}"]
    # And a later message of the same order carries the same link
    _dispatch(pages, "shipment.out_for_delivery", "evt_ofd", 1)
    assert _page_path(pages) == path


def env_sms_links(env: Env) -> list[str]:
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    return [link for sms in env.outbox.sms() for link in re.findall(r"https://\S+/o/[A-Za-z0-9_-]{22}", sms["body"])]


def test_the_page_shows_the_history_every_estimate_and_the_proof(pages: Env) -> None:
    # Given a delivered order whose estimate moved once
    _delivered_story(pages)
    path = _page_path(pages)
    # When the customer opens the link
    response = request("GET", path)
    # Then the page is served, uncached, unframed, scripting nothing
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]
    page = response["body"]
    assert "<script" not in page
    # And it shows the order, its items, the status, the tracking link, each estimate, and the proof
    assert "Order #1001" in page
    assert "Trailhead 2-Person Tent" in page
    assert "Delivered" in page
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in page
    assert "Thursday, November 5, 2026" in page  # the first estimate, struck through
    assert "Front porch" in page
    assert "J. Rivera" in page
    assert "https://www.google.com/maps/search/?api=1&amp;query=39.7392,-104.9903" in page
    # And the history lists what the customer was told, newest first
    history = page[page.index("<h3>History</h3>") :]
    assert history.index("Delivered") < history.index("Delayed") < history.index("In transit")


def test_a_customer_confirms_the_delivery_and_the_timeline_keeps_it(pages: Env) -> None:
    # Given the delivered order's page
    _delivered_story(pages)
    path = _page_path(pages)
    page = request("GET", path)["body"]
    # When the customer says they received it
    response = _post(path, {"shipment": "shp_1001_1", "answer": "received", "form_token": _form_token(page)})
    # Then it is recorded on the order's timeline, with the proof it answers
    assert response["statusCode"] == 200
    assert "we have noted that you received it" in response["body"]
    (answer,) = _answers(pages)
    assert answer["kind"] == "delivery_confirmed"
    assert json.loads(answer["evidence"])["proof"]["location"] == "Front porch"


def test_a_dispute_asks_what_happened_then_records_it_with_the_note_masked(pages: Env) -> None:
    # Given the delivered order's page
    _delivered_story(pages)
    path = _page_path(pages)
    page = request("GET", path)["body"]
    # When the customer says they did not receive it
    first = _post(path, {"shipment": "shp_1001_1", "answer": "not_received", "form_token": _form_token(page)})
    # Then they are asked what happened, and nothing is recorded yet
    assert first["statusCode"] == 200
    assert "What happened?" in first["body"]
    assert _answers(pages) == []
    # When they say it was left in the wrong place, with a note that quotes their phone
    details_token = re.search(r'name="form_token" value="([^"]+)"', first["body"])
    assert details_token
    fields = {
        "shipment": "shp_1001_1",
        "answer": "not_received",
        "reason": "wrong_place",
        "note": "Not my porch <b>at all</b>, call me at +1 415 555 0142",
        "form_token": details_token.group(1),
    }
    second = _post(path, fields)
    # Then the dispute is on the timeline with the reason, the note (phone masked) and the evidence
    assert second["statusCode"] == 200
    assert "passed it on to the store" in second["body"]
    (answer,) = _answers(pages)
    assert (answer["kind"], answer["reason"]) == ("delivery_disputed", "wrong_place")
    assert "415 555 0142" not in answer["note"]
    assert "Not my porch" in answer["note"]
    # And the page shows what they said, escaped
    page_after = request("GET", path)["body"]
    assert "you did not receive it (It was left in the wrong place)" in page_after
    assert "<b>at all</b>" not in page_after


def test_a_french_canadian_customers_page_and_its_answers_are_in_french(pages: Env) -> None:
    # Given an order of a fr-CA customer, delivered, and its page's link from the (French) email
    _delivered_story(pages, locale="fr-CA")
    path = _page_path(pages)

    # When the customer opens it (their browser asking for English: the order's language comes first)
    page = request("GET", path, headers={"accept-language": "en-US,en;q=0.9"})["body"]

    # Then the page is in French, says so, and writes its dates as Quebec does
    assert '<html lang="fr-CA">' in page
    assert "Commande #1001" in page
    assert "Preuve de livraison" in page
    assert "Oui, je l'ai reçu" in page
    assert re.search(r"(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d{1,2} \w+ 20\d\d", page)
    assert "Proof of delivery" not in page

    # And the dispute's question, and the answer to it, are in French too
    asked = _post(path, {"shipment": "shp_1001_1", "answer": "not_received", "form_token": _form_token(page)})
    assert "Que s'est-il passé?" in asked["body"]
    details_token = re.search(r'name="form_token" value="([^"]+)"', asked["body"])
    assert details_token
    fields = {"shipment": "shp_1001_1", "answer": "not_received", "reason": "damaged", "form_token": details_token[1]}
    answered = _post(path, fields)["body"]
    assert "Merci de nous avoir prévenus" in answered
    assert "ne pas l'avoir reçu (Le colis est arrivé endommagé)" in answered


def test_a_link_that_does_not_work_answers_in_the_browsers_language(pages: Env) -> None:
    # Given no order behind a link, When a Spanish-speaking browser opens it
    response = request("GET", "/o/" + "A" * 22, headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"})
    # Then the 404 page is in Spanish (no order to take the language from)
    assert response["statusCode"] == 404
    assert '<html lang="es-US">' in response["body"]
    assert "Este enlace no funciona" in response["body"]


def test_a_replayed_form_records_nothing_and_a_new_answer_keeps_both(pages: Env) -> None:
    # Given a confirmation posted
    _delivered_story(pages)
    path = _page_path(pages)
    page = request("GET", path)["body"]
    fields = {"shipment": "shp_1001_1", "answer": "received", "form_token": _form_token(page)}
    assert _post(path, fields)["statusCode"] == 200
    # When the same form is posted again (a replay, a double click)
    again = _post(path, fields)
    # Then nothing more is recorded
    assert "We already have this answer" in again["body"]
    assert len(_answers(pages)) == 1
    # When the customer later answers again from a fresh page
    fresh = request("GET", path)["body"]
    _post(
        path,
        {"shipment": "shp_1001_1", "answer": "not_received", "reason": "damaged", "form_token": _form_token(fresh)},
    )
    # Then the timeline keeps both answers
    assert sorted(a["kind"] for a in _answers(pages)) == ["delivery_confirmed", "delivery_disputed"]


@pytest.mark.parametrize(
    "form_token",
    [
        "",  # none
        "1800000000.AAAAAAAAAAAAAAAA." + "A" * 43,  # forged
    ],
)
def test_a_forged_form_is_refused_and_records_nothing(pages: Env, form_token: str) -> None:
    _delivered_story(pages)
    path = _page_path(pages)
    response = _post(path, {"shipment": "shp_1001_1", "answer": "received", "form_token": form_token})
    assert response["statusCode"] == 400
    assert _answers(pages) == []


def test_a_form_token_of_another_order_is_refused(pages: Env) -> None:
    # Given two orders' pages
    _delivered_story(pages)
    path = _page_path(pages)
    page = request("GET", path)["body"]
    other = sample("shipment.delivered", id="evt_other_delivered", time=_now(7))
    other["data"]["order"]["id"] = "ord_2002"
    other["data"]["shipment"]["id"] = "shp_2002_1"
    pages.publish("shipment-events", [json.dumps(other)])
    assert pages.deliver("shipment-events", dispatch.handler)["batchItemFailures"] == []
    other_path = _page_path(pages)
    assert other_path != path
    # When the first page's form token is posted to the second order's page
    response = _post(other_path, {"shipment": "shp_1001_1", "answer": "received", "form_token": _form_token(page)})
    # Then it is refused
    assert response["statusCode"] == 400
    assert _answers(pages) == []


@pytest.mark.parametrize("path", ["/o/AAAAAAAAAAAAAAAAAAAAAA", "/o/short", "/o/" + "x" * 200])
def test_an_unknown_or_malformed_link_gets_the_same_404(pages: Env, path: str) -> None:
    _dispatch(pages, "order.placed", "evt_placed", 0)
    get = request("GET", path)
    post = _post(path, {"answer": "received"})
    assert get["statusCode"] == post["statusCode"] == 404
    assert "not valid or has expired" in get["body"]


def test_an_oversized_post_is_refused_before_it_is_read(pages: Env) -> None:
    _delivered_story(pages)
    path = _page_path(pages)
    response = request("POST", f"{path}/delivery", b"note=" + b"x" * 10_000)
    assert response["statusCode"] == 413
    assert _answers(pages) == []


def test_an_order_without_delivery_has_no_answer_form(pages: Env) -> None:
    _dispatch(pages, "order.placed", "evt_placed", 0)
    _dispatch(pages, "shipment.in_transit", "evt_scan", 2, estimated_delivery="2026-11-05")
    page = request("GET", _page_path(pages))["body"]
    assert 'name="answer"' not in page
    assert "Estimated delivery: <strong>Thursday, November 5, 2026</strong>" in page


def test_without_the_page_key_the_message_still_goes_without_its_link(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a deployment serving pages whose key secret an operator forgot to create
    monkeypatch.setenv("HERALD_ORDER_PAGE_BASE_URL", BASE_URL)
    dispatch.root.reset()
    # When an order is placed
    _dispatch(env, "order.placed", "evt_placed", 0)
    # Then the confirmation is sent all the same, without the page link, and an operator is told why
    assert env.deliver("email", send_email.handler)["batchItemFailures"] == []
    (sent,) = env.outbox.emails()
    assert "/o/" not in sent.read_text(errors="replace")
    assert any("order page key unavailable" in record.getMessage() for record in caplog.records)
    assert '"OrderPageLinksUnavailable"' in capsys.readouterr().out


def test_the_evidence_pack_gathers_proof_scans_notifications_and_the_dispute(pages: Env) -> None:
    from .ops_support import deploy_outputs_stack, herald

    # Given a delivered order the customer disputed
    _delivered_story(pages)
    path = _page_path(pages)
    page = request("GET", path)["body"]
    first = _post(path, {"shipment": "shp_1001_1", "answer": "not_received", "form_token": _form_token(page)})
    details = re.search(r'name="form_token" value="([^"]+)"', first["body"])
    assert details
    fields = {"shipment": "shp_1001_1", "answer": "not_received", "reason": "nothing_arrived"}
    _post(path, fields | {"form_token": details.group(1)})
    deploy_outputs_stack(pages)
    # When the operator asks for its evidence pack
    result = herald("evidence", "ord_1001", "--source", SOURCE, "--json")
    # Then it has the proof with its map link, every scan with its estimate, the notifications, and the answer
    assert result.exit_code == 0, result.output
    pack = json.loads(result.stdout)
    (shipment,) = pack["shipments"]
    assert shipment["proof"]["photo_url"] == "https://pod.carrier.example/photos/1Z999AA10123456784.jpg"
    assert shipment["proof"]["map_url"].endswith("query=39.7392,-104.9903")
    assert [s["type"] for s in shipment["scans"]] == ["shipment.in_transit", "shipment.delayed", "shipment.delivered"]
    assert shipment["estimates"] == ["2026-11-05", "2026-11-06"]
    sent = {(n["event_type"], n["channel"]): n["status"] for n in pack["notifications"]}
    assert sent[("order.placed", "email")] == "sent"
    (answer,) = pack["answers"]
    assert (answer["kind"], answer["reason"]) == ("delivery_disputed", "nothing_arrived")
    # And the customer's contact stays out of it
    assert "jordan.rivera@example.com" not in result.stdout
    # And the text form tells the same story
    text = herald("evidence", "ord_1001", "--source", SOURCE)
    assert text.exit_code == 0
    assert "Front porch" in text.stdout
    assert "not_received (nothing_arrived)" in text.stdout


class CarrierPhotos:
    """The carrier's photo server, as the order page's fetcher port sees it: counts its fetches."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def fetch(self, url: str) -> Any:
        from herald.usecases.ports import Photo

        self.fetched.append(url)
        return Photo("image/jpeg", b"\xff\xd8\xff\xe0 the porch")


def test_the_proof_photo_is_served_from_heralds_copy_fetched_once(pages: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from herald.handlers.wiring import PORT_PHOTO_FETCHER, decorate_ports

    # Given a deployment keeping photos in its bucket, and the carrier's photo server
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="herald-proof-photos")
    monkeypatch.setenv("HERALD_PROOF_PHOTOS_BUCKET", "herald-proof-photos")
    carrier = CarrierPhotos()
    uninstall = decorate_ports(lambda name, port: carrier if name == PORT_PHOTO_FETCHER else port)
    order_page.root.reset()
    try:
        _delivered_story(pages)
        path = _page_path(pages)
        page = request("GET", path)["body"]
        # Then the page shows the photo from Herald's own route, never the carrier's URL
        assert f'src="{path}/photo/shp_1001_1"' in page
        assert "pod.carrier.example" not in page
        # When the customer's browser loads it twice
        first = photo_request(f"{path}/photo/shp_1001_1")
        second = photo_request(f"{path}/photo/shp_1001_1")
    finally:
        uninstall()
    # Then it is the carrier's photo, fetched from the carrier once and kept
    assert first["statusCode"] == second["statusCode"] == 200
    assert first["headers"]["Content-Type"] == "image/jpeg"
    assert base64.b64decode(first["body"]) == b"\xff\xd8\xff\xe0 the porch"
    assert carrier.fetched == ["https://pod.carrier.example/photos/1Z999AA10123456784.jpg"]
    kept = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="herald-proof-photos")["Contents"]
    assert len(kept) == 1
    assert kept[0]["Key"].startswith("proof-photos/")
    # And another shipment, or a token that opens nothing, has no photo
    assert photo_request(f"{path}/photo/shp_other")["statusCode"] == 404
    assert photo_request("/o/AAAAAAAAAAAAAAAAAAAAAA/photo/shp_1001_1")["statusCode"] == 404


def photo_request(path: str) -> dict[str, Any]:
    parts = path.split("/")
    event = {
        "version": "2.0",
        "routeKey": "GET /o/{token}/photo/{shipment_id}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": urlsplit(BASE_URL).netloc},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
            "requestId": "req-photo",
            "routeKey": "GET /o/{token}/photo/{shipment_id}",
            "stage": "$default",
        },
        "pathParameters": {"token": parts[2], "shipment_id": parts[4]},
        "isBase64Encoded": False,
    }
    response: dict[str, Any] = order_page.handler(event, FakeContext())
    return response


def test_a_dispute_is_told_to_the_storefront_as_a_signed_outbound_event(
    pages: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the deployment's outbound webhooks queue (the outbound-webhooks function signs and delivers it)
    url = pages.sqs.create_queue(QueueName="outbound-webhooks")["QueueUrl"]
    monkeypatch.setenv("HERALD_OUTBOUND_WEBHOOKS_QUEUE_URL", url)
    order_page.root.reset()
    _delivered_story(pages)
    path = _page_path(pages)
    page = request("GET", path)["body"]
    first = _post(path, {"shipment": "shp_1001_1", "answer": "not_received", "form_token": _form_token(page)})
    details = re.search(r'name="form_token" value="([^"]+)"', first["body"])
    assert details
    # When the customer disputes the delivery, with a note
    fields = {"shipment": "shp_1001_1", "answer": "not_received", "reason": "damaged", "note": "Box crushed"}
    _post(path, fields | {"form_token": details.group(1)})
    # Then one delivery.disputed CloudEvent is queued for the storefront, about the order, with the evidence
    messages = pages.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    (message,) = messages
    event = json.loads(message["Body"])
    assert (event["specversion"], event["type"], event["subject"]) == ("1.0", "delivery.disputed", "ord_1001")
    assert event["source"].endswith(SOURCE)
    assert event["data"]["reason"] == "damaged"
    assert event["data"]["note"] == "Box crushed"
    assert event["data"]["evidence"]["proof"]["location"] == "Front porch"
    # And the "what happened?" step told nothing: only the recorded answer is
    assert (len(_answers(pages)), len(messages)) == (1, 1)
