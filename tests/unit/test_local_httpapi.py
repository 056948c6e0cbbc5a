"""The local HTTP API: routes read from the translated template, payload 2.0 events, responses."""

from __future__ import annotations

import base64
from pathlib import Path

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from herald.handlers.webhooks import public_url
from herald_tools.local.httpapi import LocalHttpApi, Route, build_event, http_api_routes, served_function, to_response
from herald_tools.local.stack import LocalFunction, translate_template

ROOT = Path(__file__).resolve().parents[2]
STATUS = Route("WebhooksApi", "POST", "/webhooks/twilio/status", "WebhooksFunction")


def test_routes_come_from_the_translated_templates_http_api() -> None:
    # Given template.yaml translated as the local runtime deploys it
    routes = http_api_routes(translate_template(ROOT / "template.yaml"))
    # When its HTTP API routes are read; Then the webhook routes are public and the timeline's is IAM-authorised
    by_key = {route.route_key: route for route in routes}
    for path in ("/webhooks/sendgrid/events", "/webhooks/twilio/status", "/webhooks/twilio/inbound"):
        assert by_key[f"POST {path}"] == Route("WebhooksApi", "POST", path, "WebhooksFunction", iam=False)
    # And the one-click unsubscribe routes (issue 9) are the webhooks function's, so the local API serves them
    for method in ("GET", "POST"):
        route = by_key[f"{method} /unsubscribe/{{token}}"]
        assert (route.function, route.iam) == ("WebhooksFunction", False)
    timeline = by_key["GET /orders/{source}/{order_id}/timeline"]
    assert (timeline.function, timeline.iam) == ("TimelineFunction", True)
    assert served_function(routes) == "WebhooksFunction"


def test_a_route_matches_its_method_and_path_and_captures_parameters() -> None:
    # Given a parameterised route; When requests are matched; Then only its method and shape match
    timeline = Route("Api", "GET", "/orders/{source}/{order_id}/timeline", "TimelineFunction", iam=True)
    assert timeline.match("GET", "/orders/storefront%2Facme/ord_1/timeline") == {
        "source": "storefront/acme",
        "order_id": "ord_1",
    }
    assert timeline.match("POST", "/orders/s/o/timeline") is None
    assert timeline.match("GET", "/orders/s/timeline") is None
    assert STATUS.match("POST", "/webhooks/twilio/status/extra") is None


def test_the_event_carries_what_the_twilio_signature_url_is_rebuilt_from() -> None:
    # Given a form post to the local status route with Herald's link fields in the query
    event = build_event(
        STATUS,
        {},
        method="post",
        target="/webhooks/twilio/status?n=ntf_1&source=storefront%2Facme",
        headers=[("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", "abc")],
        body=b"MessageSid=SM1&MessageStatus=sent",
        domain_name="127.0.0.1:4567",
        source_ip="127.0.0.1",
    )
    # When the webhook handler reads it; Then the URL is the one the caller requested, headers lower-cased
    parsed = APIGatewayProxyEventV2(event)
    assert public_url(parsed) == "http://127.0.0.1:4567/webhooks/twilio/status?n=ntf_1&source=storefront%2Facme"
    assert parsed.headers["x-twilio-signature"] == "abc"
    assert parsed.request_context.http.method == "POST"
    assert (parsed.body, parsed.is_base64_encoded) == ("MessageSid=SM1&MessageStatus=sent", False)
    assert parsed.query_string_parameters == {"n": "ntf_1", "source": "storefront/acme"}


def test_a_binary_body_reaches_the_function_base64_encoded() -> None:
    # Given a body that is not text; When the event is built; Then it is base64 and flagged so
    event = build_event(
        STATUS,
        {},
        method="POST",
        target="/webhooks/twilio/status",
        headers=[("Content-Type", "application/octet-stream")],
        body=b"\xff\x00",
        domain_name="127.0.0.1:1",
        source_ip="127.0.0.1",
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00"


def test_handler_results_become_http_responses_as_api_gateway_makes_them() -> None:
    # Given the shapes a payload 2.0 handler may return; When turned into responses; Then status, headers, body
    plain = to_response({"statusCode": 403, "headers": {"Content-Type": "application/json"}, "body": '{"m":1}'})
    assert (plain.status, plain.headers, plain.body) == (403, [("Content-Type", "application/json")], b'{"m":1}')
    binary = to_response({"statusCode": 200, "body": base64.b64encode(b"\x01").decode(), "isBase64Encoded": True})
    assert binary.body == b"\x01"
    inferred = to_response({"ok": True})
    assert (inferred.status, inferred.body) == (200, b'{"ok": true}')


def test_the_templates_api_urls_are_pointed_at_the_local_api(tmp_path: Path) -> None:
    # Given the local API and a function whose environment names the deployed API (resolved or not by moto)
    function = LocalFunction("F", "f", "m.h", 3, 128, {}, ())
    api = LocalHttpApi(function, [STATUS], log_path=tmp_path / "api.log")
    try:
        api.api_ids = {"${WebhooksApi}", "abc123"}
        environment = {
            "HERALD_WEBHOOKS_BASE_URL": "https://${WebhooksApi}.execute-api.us-east-1.amazonaws.com",
            "OTHER": "https://abc123.execute-api.us-east-1.amazonaws.com/x",
            "UNRELATED": "https://zzz.execute-api.us-east-1.amazonaws.com",
        }
        # When the local environment is derived; Then only the API's URLs are replaced, paths kept
        assert api.local_environment(environment) == {
            "HERALD_WEBHOOKS_BASE_URL": api.url,
            "OTHER": f"{api.url}/x",
        }
    finally:
        api.stop()


def test_the_local_api_invokes_its_function_one_request_at_a_time() -> None:
    # Given a handler that records how many invocations overlap (Powertools' resolver is not re-entrant)
    import threading

    from herald_tools.local.httpapi import _one_at_a_time

    inside, most = 0, 0
    guard = threading.Lock()
    started = threading.Barrier(4)

    def handler(event: dict[str, object]) -> dict[str, object]:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        done = threading.Event()
        done.wait(0.05)  # stay inside long enough for the others to try to enter
        with guard:
            inside -= 1
        return event

    invoke = _one_at_a_time(handler)

    def request(n: int) -> None:
        started.wait()
        assert invoke({"n": n}) == {"n": n}

    # When four requests arrive at once on the server's threads
    threads = [threading.Thread(target=request, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then the function served them one after the other, as one Lambda sandbox does
    assert most == 1
