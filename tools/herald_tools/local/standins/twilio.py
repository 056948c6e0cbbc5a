"""A local stand-in for Twilio's Programmable Messaging REST API (2010-04-01 Messages resource).

The official `twilio` SDK is pointed at it by setting `client.api.base_url = standin.url`; every
request then goes to `<url>/2010-04-01/Accounts/<AccountSid>/Messages[...].json` as it would to
api.twilio.com. It answers with Twilio's status codes and `{code, message, more_info, status}` error
bodies, honours the test-credential magic numbers, and appends every accepted SMS to the outbox.

Error messages come from Twilio's error dictionary as vendored in
tests/fixtures/twilio_sms_error_codes.json (tests compare them); 21211 uses the REST body shape
shown in that fixture ("The 'To' number ... is not a valid phone number."). The messages for codes not
in the fixture (21602/21603/21604, 20004, 20500, 20503) are Twilio's usual wording, not verified here.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

from herald_tools.local.standins._http import Reply, Request, StandInServer
from herald_tools.local.standins.callbacks import CallbackSender
from herald_tools.local.standins.faults import FaultPlan
from herald_tools.local.standins.outbox import Outbox

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600

ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20004: "Method not allowed",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service is unavailable. Please try again",
    21211: "The 'To' number {to} is not a valid phone number.",
    21212: "Invalid From Number (caller ID)",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit",
}

# Twilio's test-credential magic numbers (https://www.twilio.com/docs/iam/test-credentials).
MAGIC_TO: dict[str, int] = {
    "+15005550001": 21211,  # invalid number
    "+15005550002": 21612,  # cannot route to this number
    "+15005550003": 21408,  # no international permissions for the region
    "+15005550004": 21610,  # the recipient has blocked (opted out from) the sender
    "+15005550009": 21614,  # not SMS-capable
}
MAGIC_FROM: dict[str, int] = {
    "+15005550001": 21212,  # invalid number
    "+15005550007": 21606,  # a number the account does not own / not SMS-capable
}

# Numbers this stand-in accepts but whose messages the carrier cannot deliver, reported as a status callback
# `undelivered` with the ErrorCode Twilio uses (a local convention: Twilio's test credentials send no callbacks).
UNDELIVERED_TO: dict[str, int] = {
    "+15005550010": 30003,  # unreachable destination handset (switched off, out of coverage)
    "+15005550011": 30005,  # unknown destination handset (the number does not exist)
}
# Numbers whose carrier never confirms: the callbacks stop at `sent` (a local convention, for the deadline
# escalation: nothing says the message arrived, nothing says it failed).
NEVER_CONFIRMED_TO = frozenset({"+15005550012"})

UNDELIVERED_MESSAGES: dict[int, str] = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
}

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")

# GSM 03.38 basic character set, and the extension table whose characters take two septets.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def segments(body: str) -> tuple[int, str]:
    """(number of SMS segments, "GSM-7" or "UCS-2") for a body, as carriers split it."""
    if not body:
        return 1, "GSM-7"
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in body):
        septets = sum(2 if c in _GSM7_EXTENDED else 1 for c in body)
        return (1 if septets <= 160 else math.ceil(septets / 153)), "GSM-7"
    # UCS-2 counts UTF-16 code units: characters outside the BMP (most emoji) take two.
    units = len(body.encode("utf-16-le")) // 2
    return (1 if units <= 70 else math.ceil(units / 67)), "UCS-2"


def error_body(code: int, status: int, **fmt: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": ERROR_MESSAGES[code].format(**fmt),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _fixed_headers(headers: dict[str, str]) -> Callable[[bytes], dict[str, str]]:
    # Twilio's signature has no timestamp: it can be computed when the message is accepted.
    return lambda _body: headers


def _valid_sender(value: str) -> bool:
    return bool(_E164.match(value) or _SHORT_CODE.match(value) or _ALPHANUMERIC_SENDER.match(value))


class TwilioStandIn(StandInServer):
    """Twilio's Messages resource on 127.0.0.1, writing accepted SMS to an `Outbox`."""

    name = "twilio-standin"
    max_body_bytes = 1024 * 1024

    def __init__(
        self,
        outbox: Outbox,
        account_sid: str,
        auth_token: str,
        *,
        faults: FaultPlan | None = None,
        port: int = 0,
        callbacks_enabled: bool = False,
        callback_delay: float = 0.5,
    ) -> None:
        super().__init__(faults=faults, port=port)
        self.outbox = outbox
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.other_accounts: dict[str, str] = {}  # account SID -> auth token: `add_account`
        # Status callbacks (off unless asked for): queued, sent, then delivered or undelivered, posted to
        # each message's StatusCallback URL and signed with the auth token as Twilio signs them.
        self.callbacks_enabled = callbacks_enabled
        self.callback_delay = callback_delay
        self.callbacks = CallbackSender(self.name)
        self._messages: dict[str, dict[str, Any]] = {}
        self._messages_lock = threading.Lock()
        self._server_errors = 0

    def stop(self) -> None:
        self.callbacks.stop()
        super().stop()

    def sign(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature of a form post to `url`: HMAC-SHA1 of the URL and the sorted fields, by the SDK."""
        return str(RequestValidator(self.auth_token).compute_signature(url, params))

    def customer_texts(self, url: str, *, from_number: str, to_number: str, body: str) -> str:
        """A customer's SMS to one of our numbers (STOP, START, HELP...), posted to the messaging webhook `url`
        with the fields and signature Twilio uses for incoming messages. Returns the message's sid."""
        sid = "SM" + uuid.uuid4().hex
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "From": from_number,
            "To": to_number,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
        }
        self._post_signed(url, params, delay=0.0)
        return sid

    def _post_signed(self, url: str, params: dict[str, str], *, delay: float) -> None:
        """Schedule a form post to `url` as Twilio's webhooks post one: signed for the URL with the auth token."""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": self.sign(url, params),
        }
        self.callbacks.schedule(url, urlencode(params).encode("utf-8"), _fixed_headers(headers), delay=delay)

    def _schedule_status_callbacks(self, message: dict[str, Any], url: str) -> None:
        error_code = UNDELIVERED_TO.get(message["to"])
        steps: list[dict[str, str]] = [{"MessageStatus": "queued"}, {"MessageStatus": "sent"}]
        if error_code is None and message["to"] not in NEVER_CONFIRMED_TO:  # (a silent carrier: no final status)
            steps.append({"MessageStatus": "delivered"})
        elif error_code is not None:
            steps.append(
                {
                    "MessageStatus": "undelivered",
                    "ErrorCode": str(error_code),
                    "ErrorMessage": UNDELIVERED_MESSAGES[error_code],
                }
            )
        for number, step in enumerate(steps, start=1):
            # The fields Twilio posts to a status callback (Messaging), SmsSid/SmsStatus kept for old apps.
            params = {
                "AccountSid": message["account_sid"],
                "ApiVersion": API_VERSION,
                "From": message["from"] or "",
                "To": message["to"],
                "MessageSid": message["sid"],
                "SmsSid": message["sid"],
                "SmsStatus": step["MessageStatus"],
                **step,
            }
            if message.get("messaging_service_sid"):
                params["MessagingServiceSid"] = message["messaging_service_sid"]
            self._post_signed(url, params, delay=self.callback_delay * number)

    # -- answers ----------------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
        reply = Reply.json(status, payload, headers)
        reply.headers["Content-Type"] = "application/json; charset=utf-8"
        reply.headers["Twilio-Request-Id"] = "RQ" + secrets.token_hex(16)
        return reply

    def _error(self, code: int, status: int, **fmt: str) -> Reply:
        return self._json(status, error_body(code, status, **fmt))

    def throttle_reply(self) -> Reply:
        return self._error(20429, 429)

    def server_error_reply(self) -> Reply:
        # Alternate 500 and 503 (500 first) so a client's handling of both is exercised.
        with self._messages_lock:
            self._server_errors += 1
            odd = self._server_errors % 2 == 1
        return self._error(20500, 500) if odd else self._error(20503, 503)

    # -- requests ---------------------------------------------------------------------------------

    def _authenticated_user(self, request: Request) -> str | None:
        header = request.headers.get("Authorization") or ""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        token = self.auth_token if user == self.account_sid else self.other_accounts.get(user)
        if not sep or token is None:
            return None
        if not secrets.compare_digest(password.encode(), token.encode()):
            return None
        return user

    def add_account(self, account_sid: str, auth_token: str) -> None:
        """Another Twilio account (another storefront's) whose requests are accepted, each on its own path."""
        self.other_accounts[account_sid] = auth_token

    def handle(self, request: Request) -> Reply:
        user = self._authenticated_user(request)
        if user is None:
            reply = self._error(20003, 401)
            reply.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return reply
        collection = _MESSAGES_PATH.match(request.path)
        single = _MESSAGE_PATH.match(request.path)
        match = collection or single
        if match is None or match["account"] != user:
            return self._error(20404, 404, path=request.path)
        allowed = ("GET", "POST") if collection else ("GET",)
        if request.method not in allowed:
            reply = self._error(20004, 405)
            reply.headers["Allow"] = ", ".join(allowed)
            return reply
        fault = self.inject_fault(request)
        if fault is not None:
            return fault
        if single is not None:
            return self._fetch(single["sid"], request.path)
        if request.method == "GET":
            return self._list(request)
        return self._create(request, user)

    def _fetch(self, sid: str, path: str) -> Reply:
        with self._messages_lock:
            message = self._messages.get(sid)
        if message is None:
            return self._error(20404, 404, path=path)
        return self._json(200, message)

    def _list(self, request: Request) -> Reply:
        # One page, newest first as Twilio lists them, filtered by the To/From parameters Twilio supports.
        raw_size = (request.query.get("PageSize") or ["50"])[0]
        page_size = min(int(raw_size), 1000) if raw_size.isdigit() and int(raw_size) > 0 else 50
        to = request.query["To"][0] if request.query.get("To") else None
        from_ = request.query["From"][0] if request.query.get("From") else None
        with self._messages_lock:
            messages = list(self._messages.values())[::-1]
        selected = [m for m in messages if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)][
            :page_size
        ]
        uri = f"{request.path}?PageSize={page_size}&Page=0"
        return self._json(
            200,
            {
                "messages": selected,
                "end": max(len(selected) - 1, 0),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            },
        )

    def _create(self, request: Request, account_sid: str) -> Reply:
        try:
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            form = {}

        def param(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        to, from_, body = param("To"), param("From"), param("Body")
        service_sid, status_callback = param("MessagingServiceSid"), param("StatusCallback")
        media_urls = [u for u in form.get("MediaUrl", []) if u]
        has_content = bool(media_urls) or bool(param("ContentSid"))

        if not to:
            return self._error(21604, 400)
        if not from_ and not service_sid:
            return self._error(21603, 400)
        if not body and not has_content:
            return self._error(21602, 400)
        if from_ is not None and from_ in MAGIC_FROM:
            return self._error(MAGIC_FROM[from_], 400)
        if from_ is not None and not _valid_sender(from_):
            return self._error(21212, 400)
        if to in MAGIC_TO:
            return self._error(MAGIC_TO[to], 400, to=to)
        if not _E164.match(to):
            return self._error(21211, 400, to=to)
        if body is not None and len(body) > MAX_BODY_CHARS:
            return self._error(21617, 400)

        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC))
        base_uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
        num_segments, _ = segments(body or "")
        message: dict[str, Any] = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": body or "",
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service_sid,
            "num_media": str(len(media_urls)),
            "num_segments": str(num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # With only a Messaging Service, Twilio picks the sender later and reports "accepted".
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {"media": f"{base_uri}/Media.json"},
            "to": to,
            "uri": f"{base_uri}.json",
        }
        record: dict[str, Any] = {"to": to, "from": from_, "body": body or "", "sid": sid, "account_sid": account_sid}
        if status_callback:
            record["status_callback"] = status_callback
        if service_sid:
            record["messaging_service_sid"] = service_sid
        if media_urls:
            record["media_urls"] = media_urls
        record["num_segments"] = num_segments
        record["date_created"] = now
        self.outbox.append_sms(record)
        with self._messages_lock:
            self._messages[sid] = message
        self._record_accepted(
            {
                "sid": sid,
                "to": to,
                "from": from_,
                "body": body or "",
                "status_callback": status_callback,
                "messaging_service_sid": service_sid,
            }
        )
        logger.debug("%s accepted %s", self.name, sid)
        if self.callbacks_enabled and status_callback:
            self._schedule_status_callbacks(message, status_callback)
        return self._json(201, message)
