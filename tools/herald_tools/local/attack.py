"""`make attack`: every attack of issue 9 (and the older ones) against the real local runtime, one JSON line last.

Starts the runtime as `herald demo` does (moto, template.yaml, the provider stand-ins, a second storefront with
its own publisher), publishes one ordinary order as a control (it must go out and be reported delivered, or the
suite proves nothing), then tries each attack and reads what it left behind:

- HTTP cases (webhooks, timeline, unsubscribe): the status, the time to the answer, and every table item the
  request added, changed or removed (a whole-table diff, taken while nothing else is running). A refused request
  records nothing. The client waits up to the function's own timeout: a request still running then is what
  Lambda would cut off, and is not a refusal.
- Publishing cases: each event is published and the suite waits on a condition (its record, event or rejection,
  appears; its notifications settle), never a sleep. A rejection with a reason is a refusal; what counts as
  recorded is any item for the event other than that rejection.
- Content cases (CR/LF, markup): the event may be accepted; refused means what reached the provider stand-in
  carries no injected header (.eml) and nothing executable (.html). Recorded counts what got through.

The last line printed is one JSON object (README "Attack suite"); the exit status is 1 when any case was not
refused or a refused one recorded something.
"""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import json
import shutil
import string
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from twilio.request_validator import RequestValidator

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald.domain.storefront import Storefront
from herald_tools.local.conditions import ConditionNotMet, Deployment, wait_for
from herald_tools.local.demo import (
    DEMO_PARAMETERS,
    LOCAL_TWILIO_FROM,
    SETTLED_STATUSES,
    Providers,
    deployment_of,
    prepare,
    providers,
)
from herald_tools.local.sender_ids import LOCAL_OPERATOR_SENDER_ID
from herald_tools.local.storefronts import SECOND_SOURCE, LocalPublisher, registry_path

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
ACME = "storefront/acme-outdoor"
# P-256's group order: (r, n - s) is the other valid ECDSA signature of the same message (malleability).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
OVERSIZED_BYTES = 200 * 1024
MANY_FIELDS = 16_000
INJECTED_HEADER = "\r\nBcc: x@evil.example"
MARKUP = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
FORM = "application/x-www-form-urlencoded"
TWILIO_STATUS = "/webhooks/twilio/status"
TWILIO_INBOUND = "/webhooks/twilio/inbound"
SENDGRID_EVENTS = "/webhooks/sendgrid/events"
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


@dataclass
class Outcome:
    refused: bool
    status: int | None
    ms: float | None
    recorded: int
    detail: str


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer within the function's timeout
    ms: float
    body: bytes


class Attack:
    """The running deployment the cases act on, and the readings they take of it."""

    def __init__(self, runtime: Any, setup: Providers, globex: LocalPublisher) -> None:
        self.runtime = runtime
        self.setup = setup
        self.globex = globex
        self.run = uuid.uuid4().hex[:8]  # every id of this run carries it: a second run shares nothing with a first
        self.url = runtime.webhooks_url
        self.table = runtime.stack.outputs["NotificationsTableName"]
        self.dynamodb = runtime.aws.client("dynamodb")
        self.operator = runtime.aws.client("sqs")  # the local operator: Acme Outdoor's publisher
        self.deployment: Deployment = deployment_of(runtime)
        self.token = setup.twilio_secret["auth_token"]
        self.timeout = float(runtime.stack.function("WebhooksFunction").timeout)
        self.control: dict[str, Any] = {}

    # --- readings ------------------------------------------------------------------------------

    def snapshot(self) -> dict[tuple[str, str], dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        items: dict[tuple[str, str], dict[str, Any]] = {}
        while True:
            page = self.dynamodb.scan(**kwargs)
            for item in page.get("Items", []):
                items[(item["pk"]["S"], item["sk"]["S"])] = item
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def changed(before: dict[Any, Any], after: dict[Any, Any]) -> int:
        """Items added, removed or changed between two snapshots."""
        return sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))

    def items_of(self, event_id: str) -> list[dict[str, Any]]:
        return [_plain(item) for item in self.snapshot().values() if item.get("event_id", {}).get("S") == event_id]

    def record(self, event_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until dispatch recorded the event (an event item or a rejection) and its notifications settled."""

        def settled(items: list[dict[str, Any]]) -> bool:
            heads = [i for i in items if i.get("kind") in ("event", "rejection")]
            notes = [i for i in items if i.get("kind") == "notification"]
            if not heads:
                return False
            if heads[0].get("kind") == "rejection":
                return True
            return heads[0].get("status") != "dispatching" and all(n.get("status") in SETTLED_STATUSES for n in notes)

        items = wait_for(f"the record of {event_id}", lambda: self.items_of(event_id), settled, timeout=timeout)
        head = next(i for i in items if i.get("kind") in ("event", "rejection"))
        return {"head": head, "notifications": [i for i in items if i.get("kind") == "notification"]}

    def email_of(self, notification: dict[str, Any]) -> tuple[bytes, str] | None:
        """The .eml the SendGrid stand-in stored for a notification, and its HTML part ('' without one)."""
        message_id = str(notification.get("provider_message_id") or "")
        if not message_id:
            return None
        for path in self.setup.sendgrid.outbox.emails():
            raw = path.read_bytes()
            if f"X-Message-Id: {message_id}".encode() in raw:
                html = path.with_suffix(".html")
                return raw, html.read_text(encoding="utf-8") if html.exists() else ""
        return None

    # --- requests ------------------------------------------------------------------------------

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)  # noqa: S310
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - the loopback API
                status, text = int(response.status), response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        except (TimeoutError, urllib.error.URLError):
            status, text = None, b""
        return Answer(status, round((time.perf_counter() - started) * 1000, 1), text)

    def http_case(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        *,
        refusals: set[int],
        expect: str,
        effect: Callable[[], str | None] | None = None,
    ) -> Outcome:
        """One request; refused when its status is one of `refusals` (and `effect`, when given, finds nothing)."""
        before = self.snapshot()
        answer = self.send(method, path, body, headers)
        recorded = self.changed(before, self.snapshot())
        problem = effect() if effect is not None else None
        if answer.status is None:
            detail = f"no answer within the function's {self.timeout:g} s timeout (expected {expect})"
        else:
            detail = f"answered {answer.status} (expected {expect}): {answer.body[:160].decode(errors='replace')}"
        if problem:
            detail += f"; {problem}"
        refused = answer.status in refusals and problem is None
        return Outcome(refused, answer.status, answer.ms, recorded, detail)

    def twilio_form(
        self, path: str, fields: dict[str, str], *, token: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        url = self.url + path
        signature = RequestValidator(token or self.token).compute_signature(url, fields)
        return urlencode(fields).encode(), {"Content-Type": FORM, "X-Twilio-Signature": signature}

    def sendgrid_signed(self, body: bytes, *, timestamp: str | None = None) -> dict[str, str]:
        """Headers as SendGrid signs a post, with the stand-in's key (the one the webhook verifies)."""
        headers = dict(self.setup.sendgrid.sign_event_webhook(body, timestamp))
        return {"Content-Type": "application/json", **headers}

    # --- publishing ----------------------------------------------------------------------------

    def publish(self, event: dict[str, Any], client: Any = None) -> None:
        queue = "ShipmentEventsQueue" if str(event["type"]).startswith("shipment.") else "OrderEventsQueue"
        (client or self.operator).send_message(QueueUrl=self.runtime.stack.queues[queue], MessageBody=json.dumps(event))

    def event(self, sample: str, name: str, *, source: str = ACME, order_id: str | None = None) -> dict[str, Any]:
        """A sample event with its own ids, emailed only (no SMS: the content cases read the email)."""
        event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / f"{sample}.json").read_text()))
        event_id = f"evt_attack_{name}_{self.run}"
        event.update(source=source, id=event_id, time=_now_iso())
        order = order_id or f"ord_attack_{name}_{self.run}"
        event["data"]["order"]["id"] = order
        event["subject"] = f"order/{order}"
        customer = event["data"]["customer"]
        customer.pop("phone", None)
        customer["sms_consent"] = False
        customer["email"] = f"attack.{name}.{self.run}@example.com"
        if "shipment" in event["data"]:
            event["data"]["shipment"]["id"] = f"shp_attack_{name}_{self.run}"
            event["subject"] = f"shipment/shp_attack_{name}_{self.run}"
        return event


# --- the control ---------------------------------------------------------------------------------


def control(attack: Attack) -> None:
    """An ordinary order (email and SMS) goes out and is reported delivered: the stand-ins, the signing keys and
    the webhooks work, so what the cases see refused is refused for what it is."""
    event = attack.event("order.placed", "control")
    event["data"]["customer"].update(phone="+15005550006", sms_consent=True)
    attack.publish(event)
    record = attack.record(event["id"])
    if record["head"].get("status") != "dispatched":
        raise RuntimeError(f"the control order was not dispatched: {record['head']}")
    for standin in (attack.setup.sendgrid, attack.setup.twilio):
        standin.callbacks.wait_idle(60.0)
    wait_for(
        "the control's email and SMS reported delivered",
        lambda: [n.get("delivery_status") for n in attack.record(event["id"])["notifications"]],
        lambda states: len(states) == 2 and all(state == "delivered" for state in states),
        timeout=60.0,
    )
    sms = next(m for m in attack.setup.twilio.accepted if m["to"] == "+15005550006" and m.get("status_callback"))
    attack.control = {"event_id": event["id"], "sms": sms}


# --- webhooks: forged, unsigned, stale, replayed ---------------------------------------------------


def _status_fields(attack: Attack, status: str) -> dict[str, str]:
    sms = attack.control["sms"]
    return {
        "AccountSid": attack.setup.twilio.account_sid,
        "ApiVersion": "2010-04-01",
        "From": sms["from"] or "",
        "To": sms["to"],
        "MessageSid": sms["sid"],
        "SmsSid": sms["sid"],
        "SmsStatus": status,
        "MessageStatus": status,
    }


def _status_path(attack: Attack) -> str:
    """The control SMS's status-callback path and query (Herald's link fields), as the SMS function built it."""
    callback = str(attack.control["sms"]["status_callback"])
    return callback[len(attack.url) :] if callback.startswith(attack.url) else TWILIO_STATUS


def twilio_status_forged(attack: Attack) -> Outcome:
    path = _status_path(attack)
    body, headers = attack.twilio_form(path, _status_fields(attack, "undelivered"), token="not-the-auth-token")  # noqa: S106
    return attack.http_case("POST", path, body, headers, refusals={403}, expect="403")


def twilio_status_unsigned(attack: Attack) -> Outcome:
    path = _status_path(attack)
    body, _ = attack.twilio_form(path, _status_fields(attack, "undelivered"))
    return attack.http_case("POST", path, body, {"Content-Type": FORM}, refusals={401, 403}, expect="401")


def twilio_status_replayed(attack: Attack) -> Outcome:
    """Twilio's own `delivered` callback for the control SMS, posted again byte for byte (its HMAC carries no
    time): the webhook may answer, but must record nothing a second time."""
    path = _status_path(attack)
    body, headers = attack.twilio_form(path, _status_fields(attack, "delivered"))
    return _no_effect(attack.http_case("POST", path, body, headers, refusals=_ANY_ANSWER, expect="no new record"))


def twilio_status_stale(attack: Attack) -> Outcome:
    """A genuinely signed `sent` for the control SMS after its `delivered` (an old callback held back): it must
    not take the notification back."""
    path = _status_path(attack)
    body, headers = attack.twilio_form(path, _status_fields(attack, "sent"))

    def regressed() -> str | None:
        sms = [n for n in attack.items_of(attack.control["event_id"]) if n.get("channel") == "sms"]
        state = sms[0].get("delivery_status") if sms else None
        return None if state == "delivered" else f"the SMS's delivery status is now {state!r}"

    outcome = attack.http_case("POST", path, body, headers, refusals=_ANY_ANSWER, expect="no change", effect=regressed)
    return _no_effect(outcome)


def _inbound_fields(attack: Attack, sid: str, sender: str, body: str) -> dict[str, str]:
    return {
        "AccountSid": attack.setup.twilio.account_sid,
        "ApiVersion": "2010-04-01",
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "From": sender,
        "To": LOCAL_TWILIO_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
    }


def _customer_number(attack: Attack, salt: int) -> str:
    return "+1415555" + f"{(int(attack.run, 16) + salt) % 10_000:04d}"


def twilio_inbound_forged(attack: Attack) -> Outcome:
    fields = _inbound_fields(attack, "SM" + uuid.uuid4().hex, _customer_number(attack, 1), "STOP")
    body, headers = attack.twilio_form(TWILIO_INBOUND, fields, token="not-the-auth-token")  # noqa: S106
    return attack.http_case("POST", TWILIO_INBOUND, body, headers, refusals={403}, expect="403")


def twilio_inbound_unsigned(attack: Attack) -> Outcome:
    fields = _inbound_fields(attack, "SM" + uuid.uuid4().hex, _customer_number(attack, 2), "STOP")
    body = urlencode(fields).encode()
    return attack.http_case("POST", TWILIO_INBOUND, body, {"Content-Type": FORM}, refusals={401, 403}, expect="401")


def stop_replay(attack: Attack) -> Outcome:
    """START (SM1), STOP (SM2), then SM1 posted again with its valid signature: the customer stays suppressed."""
    sender = _customer_number(attack, 3)
    sm1, sm2 = "SM" + uuid.uuid4().hex, "SM" + uuid.uuid4().hex
    for sid, word in ((sm1, "START"), (sm2, "STOP")):
        answer = attack.send(
            "POST", TWILIO_INBOUND, *attack.twilio_form(TWILIO_INBOUND, _inbound_fields(attack, sid, sender, word))
        )
        if answer.status != 200:
            return Outcome(False, answer.status, answer.ms, 0, f"the genuine {word} was answered {answer.status}")
    if not attack.deployment.suppressed("sms", sender):
        return Outcome(False, None, None, 0, "the genuine STOP recorded no suppression: nothing to replay against")

    def lifted() -> str | None:
        return None if attack.deployment.suppressed("sms", sender) else "the replayed START lifted the STOP"

    body, headers = attack.twilio_form(TWILIO_INBOUND, _inbound_fields(attack, sm1, sender, "START"))
    outcome = attack.http_case(
        "POST", TWILIO_INBOUND, body, headers, refusals=_ANY_ANSWER, expect="still suppressed", effect=lifted
    )
    return _no_effect(outcome)


def _sendgrid_body(attack: Attack, name: str) -> bytes:
    event = {
        "event": "delivered",
        "email": f"attack.{name}.{attack.run}@example.com",
        "sg_message_id": f"attack{name}{attack.run}.filterdrecv-0-0.0",
        "sg_event_id": uuid.uuid4().hex,
        "timestamp": int(time.time()),
    }
    return json.dumps([event]).encode()


def sendgrid_forged(attack: Attack) -> Outcome:
    body = _sendgrid_body(attack, "forged")
    timestamp = str(int(time.time()))
    other = ec.generate_private_key(ec.SECP256R1()).sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        SENDGRID_SIGNATURE: base64.b64encode(other).decode(),
        SENDGRID_TIMESTAMP: timestamp,
    }
    return attack.http_case("POST", SENDGRID_EVENTS, body, headers, refusals={403}, expect="403")


def sendgrid_unsigned(attack: Attack) -> Outcome:
    body = _sendgrid_body(attack, "unsigned")
    headers = {"Content-Type": "application/json"}
    return attack.http_case("POST", SENDGRID_EVENTS, body, headers, refusals={401, 403}, expect="401")


def sendgrid_stale(attack: Attack) -> Outcome:
    body = _sendgrid_body(attack, "stale")
    headers = attack.sendgrid_signed(body, timestamp=str(int(time.time()) - 3600))
    return attack.http_case("POST", SENDGRID_EVENTS, body, headers, refusals={403}, expect="403 (an hour old)")


def _genuine_sendgrid_post(attack: Attack, name: str) -> tuple[bytes, dict[str, str]] | Outcome:
    body = _sendgrid_body(attack, name)
    headers = attack.sendgrid_signed(body)
    answer = attack.send("POST", SENDGRID_EVENTS, body, headers)
    if answer.status != 200:
        return Outcome(False, answer.status, answer.ms, 0, f"the genuine post was answered {answer.status}")
    return body, headers


def sendgrid_replayed(attack: Attack) -> Outcome:
    genuine = _genuine_sendgrid_post(attack, "replayed")
    if isinstance(genuine, Outcome):
        return genuine
    return attack.http_case("POST", SENDGRID_EVENTS, *genuine, refusals={403}, expect="403 (a replay)")


def sendgrid_replayed_malleated(attack: Attack) -> Outcome:
    """The same signed post with the other valid ECDSA form of its signature, (r, n - s)."""
    genuine = _genuine_sendgrid_post(attack, "malleated")
    if isinstance(genuine, Outcome):
        return genuine
    body, headers = genuine
    r, s = decode_dss_signature(base64.b64decode(headers[SENDGRID_SIGNATURE]))
    other_form = base64.b64encode(encode_dss_signature(r, P256_ORDER - s)).decode()
    malleated = {**headers, SENDGRID_SIGNATURE: other_form}
    return attack.http_case("POST", SENDGRID_EVENTS, body, malleated, refusals={403}, expect="403 (a replay)")


# --- webhooks: size -----------------------------------------------------------------------------


def _oversized_form() -> bytes:
    """200 KiB of form: an inbound message's fields with a Body no SMS can have."""
    head = urlencode({"MessageSid": "SM" + "0" * 32, "From": "+14155550100", "To": LOCAL_TWILIO_FROM}) + "&Body="
    return (head + "A" * (OVERSIZED_BYTES - len(head))).encode()


def _many_fields_form() -> bytes:
    """16,000 distinct fields (the Twilio signature check compared every name with every other) in under 64 KiB:
    names of one to three letters and digits, no values, so a field-count bound is what refuses it, not size."""
    alphabet = string.ascii_letters + string.digits
    names = [*alphabet, *(a + b for a in alphabet for b in alphabet)]
    names += [a + b + c for a in alphabet for b in alphabet for c in alphabet][: MANY_FIELDS - len(names)]
    return "&".join(names).encode()


_BAD_TWILIO = {"Content-Type": FORM, "X-Twilio-Signature": base64.b64encode(b"\0" * 20).decode()}
# Twilio's form posts are a few hundred bytes: any documented bound refuses these as too large (413).
_TWILIO_TOO_LARGE = "413 (over the documented size or field count, refused before parsing)"


def _size_case(path: str, body: bytes) -> Callable[[Attack], Outcome]:
    def case(attack: Attack) -> Outcome:
        return attack.http_case("POST", path, body, _BAD_TWILIO, refusals={413}, expect=_TWILIO_TOO_LARGE)

    return case


def _sendgrid_size_case(make: Callable[[], bytes]) -> Callable[[Attack], Outcome]:
    """SendGrid posts batches of events (its documented bound may be above 200 KiB): 413, or 403 for the bad
    signature, both before anything is parsed."""

    def case(attack: Attack) -> Outcome:
        headers = {
            "Content-Type": "application/json",
            SENDGRID_SIGNATURE: base64.b64encode(b"\0" * 70).decode(),
            SENDGRID_TIMESTAMP: str(int(time.time())),
        }
        return attack.http_case("POST", SENDGRID_EVENTS, make(), headers, refusals={403, 413}, expect="413 or 403")

    return case


def _sendgrid_oversized() -> bytes:
    event = {"event": "open", "email": "a@example.com", "sg_message_id": "x"}
    one = json.dumps(event)
    return ("[" + ",".join([one] * (OVERSIZED_BYTES // (len(one) + 1) + 1)) + "]").encode()


def _sendgrid_many_fields() -> bytes:
    return json.dumps([{f"f{i}": "v" for i in range(MANY_FIELDS)}]).encode()


# --- other routes -------------------------------------------------------------------------------


def timeline_unsigned(attack: Attack) -> Outcome:
    path = f"/orders/{ACME.replace('/', '%2F')}/ord_attack_control_{attack.run}/timeline"
    return attack.http_case("GET", path, None, {}, refusals={403}, expect="403 (IAM-authorised route)")


def unsubscribe_route() -> str | None:
    """The template's one-click unsubscribe route (section 5), if it has one."""
    for line in TEMPLATE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("Path:") and stripped.split(":", 1)[1].strip().startswith("/unsubscribe"):
            return stripped.split(":", 1)[1].strip()
    return None


def unsubscribe_forged(attack: Attack) -> Outcome:
    """A token Herald never signed (a Fernet token under another key, for a plausible grant)."""
    from cryptography.fernet import Fernet

    route = unsubscribe_route() or "/unsubscribe/{token}"
    grant = {"source": ACME, "channel": "email", "recipient": "victim@example.com", "scope": ACME}
    token = Fernet(Fernet.generate_key()).encrypt(json.dumps(grant).encode()).decode()
    path = route.replace("{token}", token) if "{token}" in route else f"{route}?token={token}"
    body = b"List-Unsubscribe=One-Click"
    return attack.http_case("POST", path, body, {"Content-Type": FORM}, refusals={403}, expect="403")


# --- publishing ---------------------------------------------------------------------------------


def _publish_case(attack: Attack, event: dict[str, Any], client: Any = None, *, reason: str = "") -> Outcome:
    """Refused when dispatch rejected the event with a reason (containing `reason`); recorded: its other items."""
    started = time.perf_counter()
    attack.publish(event, client)
    try:
        record = attack.record(event["id"])
    except ConditionNotMet as error:
        return Outcome(False, None, None, 0, str(error))
    ms = round((time.perf_counter() - started) * 1000, 1)
    head = record["head"]
    others = [i for i in attack.items_of(event["id"]) if i.get("kind") != "rejection"]
    if head.get("kind") == "rejection":
        text = str(head.get("reason", ""))
        refused = bool(text) and reason in text
        return Outcome(refused, None, ms, len(others), f"rejected: {text}")
    return Outcome(False, None, ms, len(others), f"accepted: {head.get('status')}")


def globex_as_acme(attack: Attack) -> Outcome:
    event = attack.event("order.placed", "globex_as_acme")
    return _publish_case(attack, event, attack.globex.client(attack.runtime), reason="may not publish")


def acme_as_globex(attack: Attack) -> Outcome:
    event = attack.event("order.placed", "acme_as_globex", source=SECOND_SOURCE)
    return _publish_case(attack, event, reason="may not publish")


def unregistered_source(attack: Attack) -> Outcome:
    event = attack.event("order.placed", "unregistered", source=f"storefront/nobody-{attack.run}")
    return _publish_case(attack, event)


def future_delivered(attack: Attack) -> Outcome:
    """A shipment.delivered dated 2099 would freeze the shipment's later events as superseded."""
    event = attack.event("shipment.delivered", "delivered_2099")
    event["time"] = "2099-01-01T00:00:00Z"
    event["data"]["proof"]["delivered_at"] = "2099-01-01T00:00:00Z"
    return _publish_case(attack, event)


def key_collision(attack: Attack) -> Outcome:
    """Source `shop` order `a#b` and source `shop#a` order `b`, same event id: joined with `#` they are one key."""
    sources = (f"shop{attack.run}", f"shop{attack.run}#a")
    registry = SsmStorefronts(attack.runtime.aws.client("ssm"), registry_path(attack.runtime))
    registered = []
    for source in sources:
        try:
            registry.put(_storefront(source))
            registered.append(source)
        except ValueError as error:  # the registry may refuse the separator in a source: that is a refusal too
            registered.append(f"refused: {error}")
    first = attack.event("order.placed", "collision", source=sources[0], order_id="a#b")
    second = {**copy.deepcopy(first), "source": sources[1]}
    second["data"]["order"]["id"] = "b"
    second["subject"] = "order/b"
    second["data"]["customer"]["email"] = f"attack.collision2.{attack.run}@example.com"
    attack.publish(first)
    try:
        first_record = attack.record(first["id"])["head"]
    except ConditionNotMet as error:
        return Outcome(False, None, None, 0, str(error))
    if first_record.get("kind") == "rejection":
        return Outcome(bool(first_record.get("reason")), None, None, 0, f"rejected: {first_record.get('reason')}")
    # The first's delivery reports land before the snapshot: what changes after it is the second event's doing.
    attack.setup.sendgrid.callbacks.wait_idle(60.0)
    started = time.perf_counter()
    before = {k: v for k, v in attack.snapshot().items() if v.get("source", {}).get("S") == sources[0]}
    attack.publish(second)

    def seen() -> list[dict[str, Any]]:
        items = attack.items_of(first["id"])
        return [i for i in items if i.get("source") == sources[1] or i.get("kind") == "rejection"]

    try:
        # The second event's own record (event or rejection), or, if it collided, its outcome on the first's item.
        wait_for(
            "the second event's record, or its queue drained",
            lambda: (seen(), attack.runtime.queue_depths().get("OrderEventsQueue", 0)),
            lambda got: bool(got[0]) or not got[1],
            timeout=90.0,
        )
        attack.runtime.wait_until_settled(quiet_seconds=1.0, timeout=90.0)
    except ConditionNotMet as error:
        return Outcome(False, None, None, 0, str(error))
    ms = round((time.perf_counter() - started) * 1000, 1)
    after = {k: v for k, v in attack.snapshot().items() if v.get("source", {}).get("S") == sources[0]}
    touched = attack.changed(before, after)  # what the second event did to the first storefront's items
    own = seen()
    rejection = next((i for i in own if i.get("kind") == "rejection" and i.get("source") == sources[1]), None)
    event_item = next((i for i in own if i.get("kind") == "event"), None)
    if rejection is not None:
        detail = f"the second was rejected: {rejection.get('reason')}"
        return Outcome(bool(rejection.get("reason")), None, ms, touched, detail)
    if event_item is not None and (event_item["pk"], event_item["sk"]) != (first_record["pk"], first_record["sk"]):
        detail = f"two items: {first_record['pk']} and {event_item['pk']} (registry: {registered})"
        return Outcome(True, None, ms, touched, detail)
    return Outcome(False, None, ms, touched, f"one item for both: {first_record['pk']} {first_record['sk']}")


def _storefront(source: str) -> Storefront:
    return Storefront(
        source=source,
        name="Attack Shop",
        email_from="orders@herald.example",
        sendgrid_secret_id="herald/sendgrid",  # noqa: S106 - a secret's name (the default storefront's)
        twilio_secret_id="herald/twilio",  # noqa: S106 - a secret's name
        sms_from=LOCAL_TWILIO_FROM,
        publishers=(LOCAL_OPERATOR_SENDER_ID,),
    )


# --- content: CR/LF in header fields, markup in customer-typed text ---------------------------------


def _content_case(attack: Attack, event: dict[str, Any], check: Callable[[bytes, str], list[str]]) -> Outcome:
    started = time.perf_counter()
    attack.publish(event)
    try:
        record = attack.record(event["id"])
    except ConditionNotMet as error:
        return Outcome(False, None, None, 0, str(error))
    ms = round((time.perf_counter() - started) * 1000, 1)
    if record["head"].get("kind") == "rejection":
        return Outcome(bool(record["head"].get("reason")), None, ms, 0, f"rejected: {record['head'].get('reason')}")
    emails = [n for n in record["notifications"] if n.get("channel") == "email"]
    sent = [n for n in emails if n.get("status") == "sent"]
    if not sent:
        states = [(n.get("status"), n.get("reason")) for n in emails]
        return Outcome(True, None, ms, 0, f"accepted, no email sent: {states}")
    problems: list[str] = []
    stored = 0
    for notification in sent:
        found = attack.email_of(notification)
        if found is None:
            # Sent through the secondary provider (SES in the emulator): what it stored cannot be read here.
            problems.append(f"sent through {notification.get('provider')}, not in the stand-in's outbox: unchecked")
            continue
        stored += 1
        problems.extend(check(*found))
    detail = "; ".join(problems) if problems else f"{stored} email(s) stored, nothing injected"
    return Outcome(not problems, None, ms, len(problems), detail)


def _injected_headers(raw: bytes, _html: str) -> list[str]:
    """Headers the CR/LF made: a Bcc header, or any header line of the stored message that starts `Bcc:`
    (a folded line starts with white space and is part of the header before it: text, not a header)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if message.get_all("Bcc"):
        return [f"a Bcc header: {message.get_all('Bcc')}"]
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return [
        f"header line {line.decode(errors='replace')!r}"
        for line in head.split(b"\n")
        if line.lower().startswith(b"bcc:")
    ]


def _crlf_case(where: str) -> Callable[[Attack], Outcome]:
    def case(attack: Attack) -> Outcome:
        event = attack.event("order.placed", f"crlf_{where}")
        data = event["data"]
        if where == "customer_name":
            data["customer"]["name"] = "Jordan Rivera" + INJECTED_HEADER
        elif where == "store_name":
            data["store"]["name"] = "Acme Outdoor" + INJECTED_HEADER
        else:
            data["customer"]["email"] = data["customer"]["email"] + INJECTED_HEADER
        return _content_case(attack, event, _injected_headers)

    return case


class _Executable(HTMLParser):
    """Elements and attributes of the HTML that would run: script elements, on* handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.found.append("a <script> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"an {name} handler on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"a javascript: URL in <{tag} {name}>")


def _executable_markup(_raw: bytes, html: str) -> list[str]:
    parser = _Executable()
    parser.feed(html)
    parser.close()
    return parser.found


def _marked(field: str) -> str:
    return f"{field} {MARKUP}"


# Every customer-typed field the contract carries, per event type. (The contract has no address lines: a
# delivery's location is the one address-like text; customer.address is sent too, and ignored by the contract.)
def _markup_fields(event: dict[str, Any]) -> None:
    data = event["data"]
    data["customer"]["name"] = _marked("customer.name")
    data["customer"]["address"] = {"line1": _marked("address.line1"), "line2": _marked("address.line2")}
    if data.get("store"):
        data["store"]["name"] = _marked("store.name")
    for index, item in enumerate(data["order"].get("items", [])):
        item["name"] = _marked(f"item{index}.name")
    for block, fields in {
        "cancellation": ("reason",),
        "backorder": ("reason",),
        "delay": ("detail",),
        "proof": ("location", "received_by"),
        "attempt": ("reason",),
        "exception": ("detail",),
        "return": ("reason",),
    }.items():
        if isinstance(data.get(block), dict):
            for name in fields:
                data[block][name] = _marked(f"{block}.{name}")
            for index, item in enumerate(data[block].get("items", [])):
                if "name" in item:
                    item["name"] = _marked(f"{block}.item{index}.name")


def _markup_case(sample: str) -> Callable[[Attack], Outcome]:
    def case(attack: Attack) -> Outcome:
        event = attack.event(sample, "markup_" + sample.replace(".", "_"))
        _markup_fields(event)
        return _content_case(attack, event, _executable_markup)

    return case


_ANY_ANSWER = set(range(200, 500))


def _no_effect(outcome: Outcome) -> Outcome:
    """An idempotent route may answer a replay; it is refused only if it recorded nothing."""
    if outcome.recorded:
        outcome.refused = False
        outcome.detail += f"; {outcome.recorded} item(s) changed"
    return outcome


# The order the cases run in: the webhooks first, while nothing else runs (their table diffs see only them),
# the bodies that may keep the function busy last among them.
HTTP_CASES: dict[str, Callable[[Attack], Outcome]] = {
    "twilio_status_forged": twilio_status_forged,
    "twilio_status_unsigned": twilio_status_unsigned,
    "twilio_status_replayed": twilio_status_replayed,
    "twilio_status_stale": twilio_status_stale,
    "twilio_inbound_forged": twilio_inbound_forged,
    "twilio_inbound_unsigned": twilio_inbound_unsigned,
    "stop_replay": stop_replay,
    "sendgrid_forged": sendgrid_forged,
    "sendgrid_unsigned": sendgrid_unsigned,
    "sendgrid_stale": sendgrid_stale,
    "sendgrid_replayed": sendgrid_replayed,
    "sendgrid_replayed_malleated": sendgrid_replayed_malleated,
    "timeline_unsigned": timeline_unsigned,
    "sendgrid_oversized": _sendgrid_size_case(_sendgrid_oversized),
    "sendgrid_many_fields": _sendgrid_size_case(_sendgrid_many_fields),
    "twilio_status_oversized": _size_case(TWILIO_STATUS, _oversized_form()),
    "twilio_inbound_oversized": _size_case(TWILIO_INBOUND, _oversized_form()),
    "twilio_status_many_fields": _size_case(TWILIO_STATUS, _many_fields_form()),
    "twilio_inbound_many_fields": _size_case(TWILIO_INBOUND, _many_fields_form()),
}
PUBLISH_CASES: dict[str, Callable[[Attack], Outcome]] = {
    "globex_publishes_as_acme": globex_as_acme,
    "acme_publishes_as_globex": acme_as_globex,
    "unregistered_source": unregistered_source,
    "key_collision": key_collision,
    "shipment_delivered_2099": future_delivered,
    "markup_order_placed": _markup_case("order.placed"),
    "markup_order_cancelled": _markup_case("order.cancelled"),
    "markup_order_backordered": _markup_case("order.backordered"),
    "markup_shipment_delayed": _markup_case("shipment.delayed"),
    "markup_shipment_delivered": _markup_case("shipment.delivered"),
    "markup_return_requested": _markup_case("return.requested"),
    # Last: a header the stand-in cannot write fails its send, and failures count toward the email circuit.
    "crlf_customer_name": _crlf_case("customer_name"),
    "crlf_store_name": _crlf_case("store_name"),
    "crlf_email": _crlf_case("email"),
}


def cases() -> dict[str, Callable[[Attack], Outcome]]:
    found = dict(HTTP_CASES)
    if unsubscribe_route() is not None:
        found["unsubscribe_forged"] = unsubscribe_forged
    # The many-field and oversized bodies go after every other webhook case: on a build without the bounds
    # they keep the one local sandbox busy past their answer.
    ordered = {k: v for k, v in found.items() if "oversized" not in k and "many_fields" not in k}
    ordered |= {k: v for k, v in found.items() if k not in ordered}
    return {**ordered, **PUBLISH_CASES}


def run_cases(attack: Attack, selected: dict[str, Callable[[Attack], Outcome]] | None = None) -> dict[str, Any]:
    """Run every case (in order) against a prepared deployment; the summary the suite prints."""
    control(attack)
    by_case: dict[str, dict[str, Any]] = {}
    for name, case in (selected or cases()).items():
        by_case[name] = asdict(case(attack))
    refused = [c for c in by_case.values() if c["refused"]]
    timed = [c["ms"] for c in refused if c["status"] is not None and c["ms"] is not None]
    return {
        "tried": len(by_case),
        "refused": len(refused),
        "recorded_from_refused": sum(c["recorded"] for c in refused),
        "slowest_refusal_ms": max(timed, default=0),
        "not_refused": [name for name, c in by_case.items() if not c["refused"]],
        "by_case": by_case,
    }


@contextmanager
def deployment(work_dir: Path) -> Iterator[Attack]:
    """The local runtime as `herald demo` starts it, prepared, with both storefronts."""
    from herald_tools.local.runtime import LocalRuntime

    with (
        providers(work_dir / "outbox") as setup,
        LocalRuntime(
            TEMPLATE,
            parameters=DEMO_PARAMETERS,
            extra_env={**setup.env, "HERALD_RETRY_BASE_SECONDS": "1", "HERALD_RETRY_MAX_SECONDS": "4"},
            log_dir=work_dir / "logs",
            stack_name="herald-attack",
        ) as runtime,
    ):
        if setup.sendgrid is None or setup.twilio is None:
            raise RuntimeError("the attack suite runs against the stand-ins: unset SENDGRID_API_KEY and TWILIO_*")
        globex = prepare(runtime, setup)
        yield Attack(runtime, setup, globex)


def main() -> int:
    work_dir = Path(tempfile.mkdtemp(prefix="herald-attack-"))
    try:
        with deployment(work_dir) as attack:
            summary = run_cases(attack)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    for name, case in summary["by_case"].items():
        mark = "refused " if case["refused"] else "NOT REFUSED"
        print(f"{mark:11} {name}: {case['detail']}", file=sys.stderr)
    print(json.dumps(summary))
    return 0 if not summary["not_refused"] and summary["recorded_from_refused"] == 0 else 1


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: next(iter(value.values())) for key, value in item.items()}


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


if __name__ == "__main__":
    raise SystemExit(main())
