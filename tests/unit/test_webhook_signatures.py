"""Webhook signatures (SendGrid ECDSA, Twilio HMAC) against the providers' published vectors, and delivery states."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tests.fixtures import FIXTURES_DIR as FIXTURES  # published payloads: tests/fixtures/SOURCES.md

from herald.domain.delivery_states import (
    FAILED_DELIVERY,
    DeliveryState,
    OptOutSignal,
    is_terminal,
    rank,
    sendgrid_message_ids,
    sendgrid_status,
    twilio_status,
)
from herald.domain.notification import Channel
from herald.webhooks.errors import SignatureInvalid, SignatureMissing, SignatureReplayed, SignatureStale
from herald.webhooks.sendgrid_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SendGridWebhookVerifier,
    load_public_key,
    signature_is_valid,
)
from herald.webhooks.twilio_signature import FormParams, TwilioWebhookVerifier

SENDGRID_VECTORS = json.loads((FIXTURES / "sendgrid_signed_event_webhook_test_vectors.json").read_text())
TWILIO_VECTORS = json.loads((FIXTURES / "twilio_request_validator_test_vectors.json").read_text())


class MemoryGuard:
    """A replay guard in memory: what DynamoDbDelivery.seen / first_use do with a read and a conditional put."""

    def __init__(self) -> None:
        self.records: dict[str, int] = {}

    def seen(self, key: str) -> bool:
        return key in self.records

    def first_use(self, key: str, *, expires_at: int) -> bool:
        if key in self.records:
            return False
        self.records[key] = expires_at
        return True


def _admit(verifier: SendGridWebhookVerifier, guard: MemoryGuard, headers: dict[str, str], body: bytes) -> Any:
    """What the handler does around its apply: check, refuse a replay, (apply,) record."""
    request = verifier.check(headers, body)
    verifier.refuse_replay(request, guard)
    verifier.record(request, guard)
    return request


def _sendgrid_cases() -> list[Any]:
    cases = []
    for number, vector in enumerate(SENDGRID_VECTORS["vectors"]):
        base = {k: vector[k] for k in ("public_key", "signature", "timestamp", "raw_payload")}
        cases.append(pytest.param(base, True, id=f"vector{number}-valid"))
        for negative in vector["negative_cases"]:
            changed = base | {k: v for k, v in negative.items() if k in base}
            cases.append(pytest.param(changed, negative["expected_valid"], id=f"vector{number}-{negative['what']}"))
    return cases


# --- SendGrid ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "expected"), _sendgrid_cases())
def test_sendgrid_published_vectors_verify_exactly_as_published(case: dict[str, str], expected: bool) -> None:
    # Given a published (public key, signature, timestamp, payload) vector or one of its negative variants
    key = load_public_key(case["public_key"])
    # When its signature is checked over timestamp + the exact payload bytes
    valid = signature_is_valid(key, case["signature"], case["timestamp"], case["raw_payload"].encode("utf-8"))
    # Then it verifies only when the vector says so
    assert valid is expected


@pytest.mark.parametrize(("case", "expected"), _sendgrid_cases())
def test_sendgrid_verifier_admits_published_vectors_at_their_time_and_refuses_the_negatives(
    case: dict[str, str], expected: bool
) -> None:
    # Given a verifier whose clock reads the vector's signing time (a non-numeric timestamp: any time)
    now = int(case["timestamp"]) if case["timestamp"].isdigit() else 1_600_000_000
    guard = MemoryGuard()
    verifier = SendGridWebhookVerifier(case["public_key"], clock=lambda: now)
    headers = {SIGNATURE_HEADER: case["signature"], TIMESTAMP_HEADER: case["timestamp"]}
    body = case["raw_payload"].encode("utf-8")
    # When the request is verified
    if expected:
        verified = _admit(verifier, guard, headers, body)
        # Then a valid one is admitted and remembered for the replay window
        assert verified.timestamp == now
        assert list(guard.records) == [verified.replay_key]
    else:
        # Then an invalid one is refused as forged (403) and nothing is remembered
        with pytest.raises(SignatureInvalid) as refused:
            _admit(verifier, guard, headers, body)
        assert refused.value.status_code == 403
        assert guard.records == {}


def test_sendgrid_python_vector_needs_its_trailing_crlf() -> None:
    # Given the sendgrid-python vector, whose signed body ends with CRLF
    vector = SENDGRID_VECTORS["vectors"][0]
    key = load_public_key(vector["public_key"])
    # Then the body without the CRLF (what a JSON re-serialisation would produce) does not verify
    stripped = vector["raw_payload"].rstrip("\r\n").encode()
    assert not signature_is_valid(key, vector["signature"], vector["timestamp"], stripped)
    assert signature_is_valid(key, vector["signature"], vector["timestamp"], vector["raw_payload"].encode())


@pytest.fixture
def signer() -> tuple[str, Any]:
    """A fresh P-256 key pair as SendGrid would hold it: (public key as SendGrid shows it, sign function)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(timestamp: str, body: bytes) -> dict[str, str]:
        signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp}

    return base64.b64encode(der).decode(), sign


def test_sendgrid_request_without_signature_or_timestamp_is_unauthenticated(signer: tuple[str, Any]) -> None:
    public_key, sign = signer
    guard = MemoryGuard()
    verifier = SendGridWebhookVerifier(public_key, clock=lambda: 1_700_000_000)
    headers = sign("1700000000", b"[]")
    # Given requests missing either header (or both)
    for missing in ({}, {SIGNATURE_HEADER: headers[SIGNATURE_HEADER]}, {TIMESTAMP_HEADER: headers[TIMESTAMP_HEADER]}):
        # Then each is refused as unauthenticated (401), and nothing is remembered
        with pytest.raises(SignatureMissing) as refused:
            _admit(verifier, guard, missing, b"[]")
        assert refused.value.status_code == 401
    assert guard.records == {}


def test_sendgrid_headers_are_found_whatever_their_case(signer: tuple[str, Any]) -> None:
    # Given a correctly signed request whose header names API Gateway lower-cased
    public_key, sign = signer
    headers = {k.lower(): v for k, v in sign("1700000000", b"[]").items()}
    verifier = SendGridWebhookVerifier(public_key, clock=lambda: 1_700_000_000)
    # Then it is admitted
    assert verifier.check(headers, b"[]").timestamp == 1_700_000_000


@pytest.mark.parametrize(("age", "admitted"), [(0, True), (300, True), (301, False), (-300, True), (-301, False)])
def test_sendgrid_timestamp_must_be_within_the_tolerance_either_way(
    signer: tuple[str, Any], age: int, admitted: bool
) -> None:
    # Given a request signed `age` seconds ago (negative: in the future) and the default 300 s tolerance
    public_key, sign = signer
    now = 1_700_000_000
    headers = sign(str(now - age), b"[]")
    guard = MemoryGuard()
    verifier = SendGridWebhookVerifier(public_key, clock=lambda: now)
    # Then it is admitted only inside the tolerance; outside, refused as stale (403) and not remembered
    if admitted:
        _admit(verifier, guard, headers, b"[]")
        assert len(guard.records) == 1
    else:
        with pytest.raises(SignatureStale) as refused:
            _admit(verifier, guard, headers, b"[]")
        assert refused.value.status_code == 403
        assert guard.records == {}


def test_sendgrid_tolerance_is_configurable(signer: tuple[str, Any]) -> None:
    # Given a 60 s tolerance and a request signed 61 s ago
    public_key, sign = signer
    verifier = SendGridWebhookVerifier(public_key, tolerance_seconds=60, clock=lambda: 61)
    # Then it is stale
    with pytest.raises(SignatureStale):
        verifier.check(sign("0", b"[]"), b"[]")


def test_sendgrid_same_signed_request_twice_is_a_replay(signer: tuple[str, Any]) -> None:
    # Given a fresh, correctly signed request that was admitted once
    public_key, sign = signer
    headers = sign("1700000000", b'[{"event":"delivered"}]')
    guard = MemoryGuard()
    verifier = SendGridWebhookVerifier(public_key, clock=lambda: 1_700_000_010)
    verified = _admit(verifier, guard, headers, b'[{"event":"delivered"}]')
    # When it is played again
    with pytest.raises(SignatureReplayed) as refused:
        _admit(verifier, guard, headers, b'[{"event":"delivered"}]')
    # Then it is refused (403), and the guard's record outlives the window in which the timestamp is fresh
    assert refused.value.status_code == 403
    assert guard.records[verified.replay_key] > 1_700_000_000 + 300


@pytest.mark.parametrize("signature", ["not base64!", "", "AAAA", base64.b64encode(b"\x30\x02\x00\x00").decode()])
def test_sendgrid_malformed_signature_is_forged_not_an_error(signer: tuple[str, Any], signature: str) -> None:
    public_key, _ = signer
    verifier = SendGridWebhookVerifier(public_key, clock=lambda: 1_700_000_000)
    headers = {SIGNATURE_HEADER: signature or " ", TIMESTAMP_HEADER: "1700000000"}
    # Then a signature that is not base64 DER of an ECDSA signature is refused, never raised as a crash
    with pytest.raises(SignatureInvalid):
        verifier.check(headers, b"[]")


def test_sendgrid_key_must_be_a_p256_public_key() -> None:
    # Given keys that are not P-256 public keys: RSA, P-384, garbage
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    p384_pem = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    # Then each is refused as configuration, before any request is checked
    for text in (base64.b64encode(rsa_der).decode(), p384_pem, "not a key"):
        with pytest.raises(ValueError, match=r"P-256|base64|key"):
            load_public_key(text)
    # And a PEM P-256 key is accepted as well as SendGrid's base64 DER
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert isinstance(load_public_key(pem).curve, ec.SECP256R1)


# --- Twilio -----------------------------------------------------------------------------------------

TOKEN = TWILIO_VECTORS["auth_token"]
URL = TWILIO_VECTORS["url"]
PARAMS = TWILIO_VECTORS["params"]


def _twilio(url: str, params: Any, signature: str | None, token: str = TOKEN) -> None:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    TwilioWebhookVerifier(token).verify(url, params, headers)


def test_twilio_published_vector_verifies() -> None:
    # Given the SDK's own vector: Then it verifies as a dict and as parsed form data, with any header case
    _twilio(URL, PARAMS, TWILIO_VECTORS["expected_signature"])
    form = FormParams(list(PARAMS.items()))
    TwilioWebhookVerifier(TOKEN).verify(URL, form, {"x-twilio-signature": TWILIO_VECTORS["expected_signature"]})


@pytest.mark.parametrize(
    "variant", TWILIO_VECTORS["port_variants"], ids=[v["note"] for v in TWILIO_VECTORS["port_variants"]]
)
def test_twilio_port_variants_verify(variant: dict[str, str]) -> None:
    # Given a URL with or without its port and the signature Twilio may have computed over the other form
    url = variant.get("url") or variant["signed_url"]
    signature = variant.get("expected_valid_with") or variant["signature"]
    if "signed_url" in variant and variant["signed_url"].startswith("https://mycompany.com:443"):
        url = URL  # "validate(original https url) also accepts the signature of the url with :443 added"
    elif "signed_url" in variant and variant["signed_url"].startswith("http://mycompany.com:80/"):
        url = URL.replace("https://", "http://")
    # Then it verifies
    _twilio(url, PARAMS, signature)


def test_twilio_repeated_form_fields_are_each_signed() -> None:
    # Given the vector whose form repeats a field
    vector = TWILIO_VECTORS["duplicate_params"]
    body = "&".join(f"{k}={v}" for k, v in vector["params_ordered"]).encode()
    # Then the parsed form (keeping both values) verifies, and keeping only one value does not
    _twilio(URL, FormParams.parse(body), vector["expected_signature"])
    with pytest.raises(SignatureInvalid):
        _twilio(URL, dict(vector["params_ordered"]), vector["expected_signature"])


@pytest.mark.parametrize(
    ("url", "params", "token"),
    [
        pytest.param(URL, PARAMS | {"Digits": "9999"}, TOKEN, id="tampered parameter"),
        pytest.param(URL, PARAMS | {"Extra": "1"}, TOKEN, id="added parameter"),
        pytest.param(URL.replace("foo=1", "foo=2"), PARAMS, TOKEN, id="other query string"),
        pytest.param(URL.replace("mycompany.com", "attacker.example"), PARAMS, TOKEN, id="other host"),
        pytest.param(URL, PARAMS, "54321", id="other auth token"),
    ],
)
def test_twilio_changed_request_is_forged(url: str, params: dict[str, str], token: str) -> None:
    # Given the published signature on a request that differs from what was signed
    with pytest.raises(SignatureInvalid) as refused:
        _twilio(url, params, TWILIO_VECTORS["expected_signature"], token)
    # Then it is refused as forged (403)
    assert refused.value.status_code == 403


@pytest.mark.parametrize("signature", [None, ""])
def test_twilio_request_without_signature_is_unauthenticated(signature: str | None) -> None:
    with pytest.raises(SignatureMissing) as refused:
        _twilio(URL, PARAMS, signature)
    assert refused.value.status_code == 401


def test_form_params_refuse_what_is_not_form_data() -> None:
    # Given bodies that are not UTF-8 form data; Then parsing refuses them
    for body in (b"\xff\xfe", b"a=%ff", b"no-equals-sign"):
        with pytest.raises(ValueError):  # noqa: PT011 - UnicodeDecodeError and parse_qsl's error alike
            FormParams.parse(body)
    assert FormParams.parse(b"").first() == {}


# --- states -----------------------------------------------------------------------------------------

ALL_EVENTS = json.loads((FIXTURES / "sendgrid_event_webhook_all_events.json").read_text())
BLOCKED = json.loads((FIXTURES / "sendgrid_event_webhook_bounce_blocked.json").read_text())[0]

EXPECTED_SENDGRID = {
    "processed": (DeliveryState.ACCEPTED, None),
    "deferred": (DeliveryState.DEFERRED, None),
    "delivered": (DeliveryState.DELIVERED, None),
    "open": (DeliveryState.DELIVERED, None),
    "click": (DeliveryState.DELIVERED, None),
    "bounce": (DeliveryState.BOUNCED, None),
    "dropped": (DeliveryState.DROPPED, None),
    "spamreport": (DeliveryState.DELIVERED, OptOutSignal.SPAM_REPORT),
    "unsubscribe": (DeliveryState.DELIVERED, OptOutSignal.UNSUBSCRIBE),
    "group_unsubscribe": (DeliveryState.DELIVERED, OptOutSignal.GROUP_UNSUBSCRIBE),
    "group_resubscribe": (DeliveryState.DELIVERED, OptOutSignal.GROUP_RESUBSCRIBE),
}


def test_every_published_sendgrid_event_type_has_its_state() -> None:
    # Given SendGrid's published sample with one event of each type
    assert {e["event"] for e in ALL_EVENTS} == set(EXPECTED_SENDGRID)
    for event in ALL_EVENTS:
        status = sendgrid_status(event)
        # Then each maps to its delivery state and opt-out signal, on the email channel
        assert (status.state, status.opt_out) == EXPECTED_SENDGRID[event["event"]], event["event"]
        assert status.channel is Channel.EMAIL
        assert status.event == event["event"]
        assert status.occurred_at == 1513299569
    # And bounces and drops keep SendGrid's reason and SMTP status; deferrals the server's response
    by_type = {e["event"]: sendgrid_status(e) for e in ALL_EVENTS}
    assert (by_type["bounce"].error_code, by_type["bounce"].reason) == ("5.0.0", "500 unknown recipient")
    assert (by_type["dropped"].error_code, by_type["dropped"].reason) == ("5.0.0", "Bounced Address")
    assert by_type["deferred"].reason == "400 try again later"


def test_bounce_of_type_blocked_is_blocked_not_bounced() -> None:
    status = sendgrid_status(BLOCKED)
    assert status.state is DeliveryState.BLOCKED
    assert status.event_key == "sendgrid:6g4ZI7SA-xmRDv57GoPIPw=="
    assert status.state in FAILED_DELIVERY


def test_unknown_sendgrid_event_has_no_state() -> None:
    assert sendgrid_status({"event": "machine_opened", "sg_event_id": "x"}).state is None


@pytest.mark.parametrize(
    ("sg_message_id", "first"),
    [
        ("LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0", "LRzXl_NHStOGhQ4kofSm_A"),
        ("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "14c5d75ce93.dfd.64b469"),
        ("abc123.recvd-5f8d-1-0", "abc123"),
        ("sg_message_id", "sg_message_id"),
    ],
)
def test_sendgrid_message_id_candidates_start_with_the_x_message_id(sg_message_id: str, first: str) -> None:
    candidates = sendgrid_message_ids(sg_message_id)
    assert candidates[0] == first
    assert len(candidates) == len(set(candidates))


def test_email_states_rank_accepted_below_deferred_below_every_terminal_state() -> None:
    terminal = [DeliveryState.DELIVERED, DeliveryState.BOUNCED, DeliveryState.BLOCKED, DeliveryState.DROPPED]
    assert rank(DeliveryState.ACCEPTED) < rank(DeliveryState.DEFERRED) < min(rank(s) for s in terminal)
    assert len({rank(s) for s in terminal}) == 1
    assert all(is_terminal(s) for s in terminal)
    assert not is_terminal(DeliveryState.DEFERRED)


def test_sms_states_rank_queued_below_sent_below_every_terminal_state() -> None:
    terminal = [DeliveryState.DELIVERED, DeliveryState.UNDELIVERED, DeliveryState.FAILED]
    assert rank(DeliveryState.QUEUED) < rank(DeliveryState.SENDING) < rank(DeliveryState.SENT)
    assert rank(DeliveryState.SENT) < min(rank(s) for s in terminal)
    assert all(is_terminal(s) for s in terminal)


def test_twilio_published_status_callback_is_sent() -> None:
    # Given Twilio's published status callback for a message that became "sent"
    sample = json.loads((FIXTURES / "twilio_sms_status_callback_sent_docs_example.json").read_text())["fields"]
    status = twilio_status(sample)
    # Then it is the SMS channel's "sent", identified by message and status
    assert (status.channel, status.state, status.error_code) == (Channel.SMS, DeliveryState.SENT, None)
    assert status.event_key == "twilio:SM1342fe1b2c904d1ab04f0fc7a58abca9:sent"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("queued", DeliveryState.QUEUED),
        ("sending", DeliveryState.SENDING),
        ("delivered", DeliveryState.DELIVERED),
        ("undelivered", DeliveryState.UNDELIVERED),
        ("failed", DeliveryState.FAILED),
    ],
)
def test_twilio_statuses_map_to_states_with_their_error_code(status: str, state: DeliveryState) -> None:
    fields = {"MessageSid": "SM1", "MessageStatus": status}
    if state in FAILED_DELIVERY:
        fields["ErrorCode"] = "30003"
    result = twilio_status(fields)
    assert result.state is state
    assert result.error_code == ("30003" if state in FAILED_DELIVERY else None)


# --- bounds and linear time ---------------------------------------------------------------------------


def test_twilio_signature_is_the_sdks_for_repeated_and_many_fields() -> None:
    # Given a form with repeated names, shared prefixes, unicode and empty values, and 500 more fields
    from twilio.request_validator import RequestValidator

    pairs = [("To", "+1"), ("Body", "é ok"), ("B", ""), ("Body", "a"), ("Bo", "dy")]
    pairs += [(f"F{i}", str(i % 7)) for i in range(500)]
    form = FormParams(pairs)
    # When the SDK computes its signature over the same URL and form
    expected = RequestValidator(TOKEN).compute_signature(URL, form)
    # Then Herald's verifier admits exactly that signature, and refuses it for a changed value
    _twilio(URL, form, expected)
    with pytest.raises(SignatureInvalid):
        _twilio(URL, FormParams([*pairs[:-1], ("F499", "x")]), expected)


@pytest.mark.parametrize(
    ("size", "encoded", "refused"),
    [(1024, False, False), (1025, False, True), (1024, True, False), (1025, True, True), (1022, True, False)],
)
def test_body_bound_is_read_from_the_encoded_length(size: int, encoded: bool, refused: bool) -> None:
    from herald.webhooks.limits import BodyLimits, BodyTooLarge, bounded_body

    limits = BodyLimits(max_bytes=1024)
    raw = b"x" * size
    body = base64.b64encode(raw).decode() if encoded else raw.decode()
    # Given a body of `size` bytes against a 1 KiB bound; Then it is admitted whole or refused with 413
    if refused:
        with pytest.raises(BodyTooLarge) as error:
            bounded_body(body, base64_encoded=encoded, limits=limits)
        assert error.value.status_code == 413
    else:
        assert bounded_body(body, base64_encoded=encoded, limits=limits) == raw


def test_multibyte_text_is_bounded_by_its_bytes_not_its_characters() -> None:
    from herald.webhooks.limits import BodyLimits, BodyTooLarge, bounded_body

    # Given 600 two-byte characters (1,200 bytes) against a 1 KiB bound; Then they are too large
    with pytest.raises(BodyTooLarge):
        bounded_body("é" * 600, base64_encoded=False, limits=BodyLimits(max_bytes=1024))


def test_field_bound_counts_form_fields() -> None:
    from herald.webhooks.limits import BodyLimits, BodyTooLarge, bounded_body

    limits = BodyLimits(max_bytes=4096, max_fields=3)
    # Given three fields, then four; Then three are admitted and four refused
    assert bounded_body("a=1&b=2&c=3", base64_encoded=False, limits=limits) == b"a=1&b=2&c=3"
    with pytest.raises(BodyTooLarge, match="3 form fields"):
        bounded_body("a=1&b=2&c=3&d=4", base64_encoded=False, limits=limits)
