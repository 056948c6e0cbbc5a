"""The demo plays Shopify, EasyPost, AfterShip and Onfleet: what it sends must be what Herald's intake verifies and
reads, and its story's platform files must be payloads the translators take (offline: no runtime)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures import load_fixture

from herald.domain.storefront import SmsConsentRule, Storefront, StorefrontIntake
from herald.intake import authentication
from herald.intake.shopify import is_eventbridge_envelope, unwrap_eventbridge
from herald.intake.translate import translate
from herald_tools.local.conditions import Deployment
from herald_tools.local.directives import directive_of
from herald_tools.local.intake_stage import IntakeDirectiveError, IntakeStage, act_eventbridge, act_webhook
from herald_tools.local.platforms import (
    SIGNED_PLATFORMS,
    eventbridge_envelope,
    https_delivery,
    signature_headers,
)
from herald_tools.local.storefronts import LocalIntake, second_storefront

DEMO = Path(__file__).resolve().parents[2] / "events" / "demo"
LIFECYCLE = DEMO / "lifecycle.jsonl"
SECRETS = {"shopify": "shpss_demo", "easypost": "sécret", "aftership": "as-demo", "onfleet": "ab" * 32}
BODY = b'{"id": 1, "status": "in_transit"}'


@pytest.mark.parametrize("platform", SIGNED_PLATFORMS)
def test_a_demo_webhook_verifies_with_herald_and_a_changed_body_does_not(platform: Any) -> None:
    """Given the storefront's secret for the platform, When the demo signs a body as the platform does,
    Then Herald's check accepts it, and the same signature over a body one byte longer is refused."""
    headers = {k.lower(): v for k, v in signature_headers(platform, BODY, SECRETS[platform]).items()}
    assert authentication.signed(platform, headers, {})
    assert authentication.verified(platform, BODY, headers, {}, SECRETS[platform])
    assert not authentication.verified(platform, BODY + b" ", headers, {}, SECRETS[platform])


def test_the_demos_easypost_signature_is_easyposts_own_published_vector() -> None:
    """Given EasyPost's official vector (secret "sécret", NFKD), When the demo signs its body, Then the header is
    the published one: the demo signs as EasyPost does, not merely as Herald checks."""
    vector = load_fixture("easypost_webhook_hmac_test_vector.json")
    from tests.fixtures import fixture_path

    body = fixture_path("easypost_tracker_updated_event.json").read_bytes().removesuffix(b"\n")
    assert signature_headers("easypost", body, vector["webhook_secret"]) == {
        "X-Hmac-Signature": vector["expected_header_value"]
    }


def test_webhooks_go_to_each_platforms_route_and_shopify_names_its_topic_and_shop() -> None:
    shopify = https_delivery(
        "shopify",
        BODY,
        secret="s",
        slug="globex-garden",
        shop_domain="g.myshopify.com",
        topic="orders/create",
        name="x",
    )
    assert shopify.path == "/intake/shopify"
    assert (shopify.headers["X-Shopify-Topic"], shopify.headers["X-Shopify-Shop-Domain"]) == (
        "orders/create",
        "g.myshopify.com",
    )
    again = https_delivery(
        "shopify",
        BODY,
        secret="s",
        slug="globex-garden",
        shop_domain="g.myshopify.com",
        topic="orders/create",
        name="x",
    )
    assert again.headers["X-Shopify-Webhook-Id"] == shopify.headers["X-Shopify-Webhook-Id"]  # a retry keeps its id
    onfleet = https_delivery("onfleet", BODY, secret="ab", slug="globex-garden", shop_domain=None, topic=None, name="x")
    assert onfleet.path == "/intake/onfleet/globex-garden"
    with pytest.raises(ValueError, match="topic"):
        https_delivery("shopify", BODY, secret="s", slug="g", shop_domain="g.myshopify.com", topic=None, name="x")


def test_the_eventbridge_envelope_is_what_the_shopify_events_function_unwraps() -> None:
    """Given a Shopify body and topic, When wrapped as the partner source's rule delivers it, Then the function's
    reader finds the topic, the body unchanged and the shop in the metadata."""
    payload = load_fixture("shopify_orders_create.json")
    envelope = eventbridge_envelope(
        "orders/create", payload, shop_domain="g.myshopify.com", name="x", region="us-east-1", account="123456789012"
    )
    assert is_eventbridge_envelope(envelope)
    topic, body, metadata = unwrap_eventbridge(json.loads(json.dumps(envelope)))
    assert (topic, body) == ("orders/create", payload)
    assert metadata["X-Shopify-Shop-Domain"] == "g.myshopify.com"


def _platform_directives() -> list[dict[str, Any]]:
    found = []
    for line in LIFECYCLE.read_text().splitlines():
        directive = directive_of(line)
        if directive is not None and ("webhook" in directive or "eventbridge" in directive):
            found.append(directive)
    return found


def test_every_platform_file_of_the_story_is_a_payload_its_translator_reads_as_news() -> None:
    """Given the story's platform directives, When each file is translated as the intake will, Then each is read
    (none refused) and says something a customer hears (a Herald type), for the storefront that takes it."""
    entry = second_storefront("AIDAEXAMPLEPUBLISHER")
    assert entry.intake is not None
    directives = _platform_directives()
    assert len(directives) == 8
    for directive in directives:
        spec = directive.get("webhook") or directive["eventbridge"]
        assert spec["storefront"] == entry.intake.slug
        platform = spec.get("platform", "shopify")
        headers = {"x-shopify-topic": spec.get("topic", ""), "x-shopify-webhook-id": "demo"}
        payload = json.loads((DEMO / spec["file"]).read_bytes())
        translation = translate(platform, payload, entry, received_at=datetime.now(UTC), headers=headers)
        types = [e["type"] for e in translation.events]
        types += [u.event_type for u in (*translation.order_updates, *translation.updates) if u.event_type]
        assert types, (spec["file"], translation)


def _stage(tmp_path: Path, sent: list[str]) -> IntakeStage:
    intake = LocalIntake("storefront/globex-garden", "globex-garden", "globex-garden.myshopify.com", SECRETS)
    return IntakeStage(
        base_dir=tmp_path,
        api_url="http://127.0.0.1:9",
        storefronts={"globex-garden": intake},
        deployment=Deployment(dynamodb=None, table="t", probe_seconds=1),
        queue_depths=dict,
        send_to_shopify_events=lambda body: sent.append(body) or "m-1",
        region="us-east-1",
        account="123456789012",
    )


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ({"webhook": {"platform": "shippo", "storefront": "globex-garden", "file": "a.json"}}, "platform 'shippo'"),
        ({"webhook": {"platform": "easypost", "storefront": "acme", "file": "a.json"}}, "no storefront 'acme'"),
        ({"webhook": {"platform": "easypost", "storefront": "globex-garden", "file": "../a.json"}}, "a payload file"),
        ({"webhook": {"platform": "easypost", "storefront": "globex-garden", "file": "missing.json"}}, "no such"),
        ({"eventbridge": {"storefront": "globex-garden", "file": "a.json"}}, "names its topic"),
    ],
)
def test_a_platform_directive_the_demo_cannot_act_out_is_refused_before_anything_is_sent(
    tmp_path: Path, directive: dict[str, Any], message: str
) -> None:
    """Given a wrong platform directive (an unsigned platform, an unknown storefront, a file outside the events
    folder or missing, a Shopify event without its topic), Then it is refused naming what is wrong, and nothing
    reached the queue or the API (the API's port is closed: a post would fail differently)."""
    (tmp_path / "a.json").write_text("{}")
    sent: list[str] = []
    act = act_webhook if "webhook" in directive else act_eventbridge
    with pytest.raises(IntakeDirectiveError, match=message):
        act(directive, _stage(tmp_path, sent))
    assert sent == []


def test_the_storefront_that_takes_webhooks_names_a_secret_for_every_platform_the_demo_signs_for() -> None:
    entry: Storefront = second_storefront("AIDAEXAMPLEPUBLISHER")
    intake = entry.intake
    assert isinstance(intake, StorefrontIntake)
    assert all(getattr(intake, f"{platform}_secret_id") for platform in SIGNED_PLATFORMS)
    assert intake.sms_consent is SmsConsentRule.SHOPIFY_SMS_CONSENT


def test_set_puts_dates_of_the_run_where_the_directive_points_and_refuses_a_value_the_file_lacks() -> None:
    """Given a tracker whose estimate is a sample's old date, When the directive sets it to {today+3} (and one
    field to {today-1}), Then the payload carries those days of the run and nothing else changed; a pointer to
    a value the file does not have is refused (set changes what the platform sent, it adds nothing)."""
    from datetime import date

    from herald_tools.local.intake_stage import resolve_set, with_values

    payload = {"result": {"est_delivery_date": "2024-08-05T00:00:00Z", "details": [{"at": "x"}], "id": "trk_1"}}
    spec = {"set": {"/result/est_delivery_date": "{today+3}T00:00:00Z", "/result/details/0/at": "{today-1}"}}
    changed = resolve_set(spec, today=date(2026, 12, 30))
    assert changed == {"/result/est_delivery_date": "2027-01-02T00:00:00Z", "/result/details/0/at": "2026-12-29"}
    result = with_values(payload, changed, Path("tracker.json"))
    assert result == {
        "result": {"est_delivery_date": "2027-01-02T00:00:00Z", "details": [{"at": "2026-12-29"}], "id": "trk_1"}
    }
    with pytest.raises(IntakeDirectiveError, match="has no such value"):
        with_values(payload, {"/result/eta": "2027-01-02"}, Path("tracker.json"))
    with pytest.raises(IntakeDirectiveError, match="text values"):
        resolve_set({"set": {"/result/id": 3}})


def test_the_report_reads_a_deliverys_proof_from_the_email_the_customer_got(tmp_path: Path) -> None:
    """Given the stand-in's HTML copy of a delivered email (named after its notification), When the report reads
    it, Then it names the images the email showed and its map link; no copy (a real provider) reads as None."""
    from herald.domain.notification import notification_id
    from herald_tools.local.demo import shown_proof
    from herald_tools.local.standins.outbox import safe_name

    source, event_id = "storefront/globex-garden", "onfleet-task:taskCompleted"
    (tmp_path / "email").mkdir()
    html = (
        '<p>The driver took this photo at delivery:</p><a href="https://p.example/1.png">'
        '<img src="https://p.example/1.png" alt="Photo"></a>'
        '<p><a href="https://www.google.com/maps/search/?api=1&amp;query=38.2527,-85.7585">map</a></p>'
    )
    name = safe_name(notification_id(source, event_id, "email"))
    (tmp_path / "email" / f"{name}.html").write_text(html)
    assert shown_proof(tmp_path, source, event_id) == {
        "images": ["https://p.example/1.png"],
        "map_url": "https://www.google.com/maps/search/?api=1&query=38.2527,-85.7585",
    }
    assert shown_proof(tmp_path, source, "another-event") is None
