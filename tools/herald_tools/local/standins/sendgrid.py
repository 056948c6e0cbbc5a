"""A local stand-in for SendGrid's v3 Mail Send API (POST /v3/mail/send).

It answers as the real API does (paths, status codes, headers, error bodies) so the official
`sendgrid` SDK can be pointed at it with `SendGridAPIClient(api_key, host=standin.url)`, and it keeps
every accepted message in an `Outbox` as an .eml (plus an .html copy) that a person can open.

Sources for the answers (see tests/fixtures/sendgrid_v3_error_responses.json):
- status codes and example bodies: twilio/sendgrid-oai `tsg_mail_v3.json` (400/401/404/405/413/500, 202);
- field-level 400 messages, `field` and `help` link: the legacy "Mail Send errors" page (section d);
- 429 body and X-RateLimit-* headers: the legacy "Rate limits" page (section b);
- a wrong key answers "The provided authorization grant is invalid, expired, or revoked" and a body
  that is not JSON (or has the wrong types) answers "Bad Request" with null field and help: both as
  real API responses quoted in sendgrid/sendgrid-php#793 and sendgrid/docs#5060.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from herald_tools.local.standins._http import Reply, Request, StandInServer
from herald_tools.local.standins.callbacks import CallbackSender
from herald_tools.local.standins.faults import FaultPlan
from herald_tools.local.standins.outbox import Outbox

logger = logging.getLogger(__name__)

MAIL_SEND_PATH = "/v3/mail/send"
# "The total size of your email, including attachments, must be less than 30MB." Decimal megabytes:
# the smaller reading, so nothing that passes here can be too large for the real API.
MAX_BODY_BYTES = 30_000_000
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_EMAIL_LENGTH = 320
MAX_CATEGORIES = 10
HELP_URL = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#"
RATE_LIMIT = 600  # the limit advertised in X-RateLimit-Limit on a throttled answer

_EG = '{"email": "example@example.com"} or {"email": "example@example.com", "name": "Example Recipient"}'

# The documented mail/send messages used here, verbatim from the legacy errors page (fixture section d);
# tests check each one against the fixture.
MESSAGES = {
    "too_many_personalizations": (
        "The personalization block is limited to 1000 personalizations per API request. You have provided "
        "X personalizations. Please consider splitting this into multiple requests and resending your request."
    ),
    "no_personalization": "You must have at least one personalization.",
    "too_many_recipients": "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
    "duplicate_recipient": (
        "Each unique email address in the personalizations array should only be included once. "
        "You have included [email address] more than once."
    ),
    "to_required": "The to parameter is required for all personalization objects.",
    "to_invalid": (
        "The to array must at least have an email parameter with a valid email address and it may also "
        f"contain a name parameter. e.g. {_EG}"
    ),
    "to_too_long": "The To email exceeds the maximum total length of 320 characters",
    "cc_invalid": (
        "The cc array, when used, must at least have an email parameter with a valid email address and it "
        f"may also contain a name parameter. e.g. {_EG}"
    ),
    "cc_too_long": "The CC email exceeds the maximum total length of 320 characters",
    "bcc_invalid": (
        "The bcc array, when used, must at least have an email parameter with a valid email address and it "
        f"may also contain a name parameter. e.g. {_EG}"
    ),
    "bcc_too_long": "The BCC email exceeds the maximum total length of 320 characters",
    "custom_args_strings": "All values of custom arguments object must be strings",
    "personalization_subject_invalid": "The subject of your email must be a string at least one character in length.",
    "substitutions_invalid": (
        "The substitution values must be an object of key/value pairs, where the values are all strings."
    ),
    "from_missing": (
        "The from object must be provided for every email send. It is an object that requires the email "
        f"parameter, but may also contain a name parameter. e.g. {_EG}"
    ),
    "from_invalid": (
        "The from object must at least have an email parameter with a valid email address and may also "
        f"contain a name parameter. e.g. {_EG}"
    ),
    "from_too_long": "The From email exceeds the maximum total length of 320 characters",
    "reply_to_invalid": (
        "The reply_to object, when used, must at least have an email parameter with a valid email address "
        f"and it may also contain a name parameter. e.g. {_EG}"
    ),
    "subject_invalid": "The subject of your email must be a string at least one character in length.",
    "subject_required": (
        "The subject is required. You can get around this requirement if you use a template with a subject "
        "defined or if every personalization has a subject defined."
    ),
    "content_required": (
        "The content param is required unless you are using a transactional template and have defined a template_ID."
    ),
    "content_empty": (
        "There must be at least one defined content block. We typically suggest both text/plain and "
        "text/html blocks are included, but only one block is required."
    ),
    "content_type_required": "A content type is required, this tells email clients how to display the email.",
    "content_type_chars": "Cannot contain ';', or CRLF characters.",
    "content_value_required": "A content value is required, this is the content of the email you are sending.",
    "content_value_invalid": "The content value must be a string at least one character in length.",
    "content_order": (
        "Following RFC 1341, section 7.2, if either text/html or text/plain are to be sent in your email: "
        "text/plain needs to be first, followed by text/html, followed by any other content."
    ),
    "categories_too_many": (
        "There is a limit of 10 categories for each email that is sent. You provided X categories."
    ),
    "categories_type": "Categories must be an array of strings.",
    "headers_strings": "The header values must be strings.",
    "headers_reserved": "Header can not be one of the reserved keys.",
    "personalization_headers_strings": "All values of the headers object must be strings.",
    "personalization_headers_reserved": "Header cannot be one of the reserved keys.",
    "attachment_base64": "The attachment content must be base64 encoded.",
    "attachment_content_invalid": "The attachment content must be a string at least one character in length.",
    "attachment_filename_required": "filename is required.",
    "invalid_utf8": "Invalid UTF8 in request",
}

# Addresses are checked for shape only (one @, a dot in the domain, no spaces), as a sender would
# need them to be; deliverability is the real provider's business.
_EMAIL = re.compile(r"^[^@\s\"(),:;<>\[\\\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_BAD_REQUEST = {"message": "Bad Request", "field": None, "help": None}
# Headers SendGrid sets itself and refuses in `headers` (v3 Mail Send reference, "headers" object).
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)


def _error(message_key: str, field: str | None, anchor: str | None) -> dict[str, Any]:
    return {
        "message": MESSAGES[message_key],
        "field": field,
        "help": f"{HELP_URL}{anchor}" if anchor else None,
    }


def _published(message: str) -> dict[str, Any]:
    # The OpenAPI examples print `"field": "null"` (a string); the live API sends JSON null.
    return {"errors": [{"message": message, "field": None, "help": None}]}


class _BadTypes(Exception):
    """A value of the wrong JSON type: the real API answers a bare "Bad Request"."""


def _valid_email(value: object) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def _check_address_object(obj: object, *, allow_missing: bool = False) -> str | None:
    """Return a problem ("invalid" / "too_long") with an address object, or None when it is fine."""
    if obj is None and allow_missing:
        return None
    if not isinstance(obj, dict):
        return "invalid"
    email, name = obj.get("email"), obj.get("name")
    if name is not None and not isinstance(name, str):
        raise _BadTypes
    if email is not None and not isinstance(email, str):
        raise _BadTypes
    if isinstance(email, str) and len(email) > MAX_EMAIL_LENGTH:
        return "too_long"
    if not _valid_email(email):
        return "invalid"
    return None


def validate_mail(payload: object) -> list[dict[str, Any]]:
    """Every validation error of a v3 mail/send body, as the API lists them (empty when it is valid)."""
    try:
        return _validate(payload)
    except _BadTypes:
        return [dict(_BAD_REQUEST)]


def _validate(payload: object) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        raise _BadTypes
    errors: list[dict[str, Any]] = []
    uses_template = isinstance(payload.get("template_id"), str) and bool(payload["template_id"])
    if "template_id" in payload and not isinstance(payload["template_id"], str):
        raise _BadTypes

    personalizations = payload.get("personalizations")
    if personalizations is not None and not isinstance(personalizations, list):
        raise _BadTypes
    every_personalization_has_subject = bool(personalizations)
    if not personalizations:
        errors.append(_error("no_personalization", "personalizations", "message.personalizations"))
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(_error("too_many_personalizations", "personalizations", "message.personalizations"))
    total_recipients = 0
    for i, p in enumerate(personalizations):
        if not isinstance(p, dict):
            raise _BadTypes
        base = f"personalizations.{i}"
        seen: set[str] = set()
        to = p.get("to")
        if to is not None and not isinstance(to, list):
            raise _BadTypes
        if not to:
            errors.append(_error("to_required", f"{base}.to", "message.personalizations"))
        for kind in ("to", "cc", "bcc"):
            recipients = p.get(kind) or []
            if not isinstance(recipients, list):
                raise _BadTypes
            total_recipients += len(recipients)
            for j, recipient in enumerate(recipients):
                problem = _check_address_object(recipient)
                if problem is not None:
                    key = f"{kind}_{problem}"
                    errors.append(_error(key, f"{base}.{kind}.{j}.email", f"message.personalizations.{kind}"))
                    continue
                address = recipient["email"].lower()
                if address in seen:
                    dup = _error("duplicate_recipient", f"{base}.{kind}.{j}.email", "message.personalizations")
                    dup["message"] = dup["message"].replace("[email address]", recipient["email"])
                    errors.append(dup)
                seen.add(address)
        if "subject" in p:
            if not isinstance(p["subject"], str) or not p["subject"]:
                errors.append(
                    _error(
                        "personalization_subject_invalid",
                        f"{base}.subject",
                        "message.personalizations.subject",
                    )
                )
        else:
            every_personalization_has_subject = False
        custom_args = p.get("custom_args")
        if custom_args is not None and (
            not isinstance(custom_args, dict) or not all(isinstance(v, str) for v in custom_args.values())
        ):
            errors.append(_error("custom_args_strings", f"{base}.custom_args", "message.personalizations.custom_args"))
        substitutions = p.get("substitutions")
        if substitutions is not None and (
            not isinstance(substitutions, dict) or not all(isinstance(v, str) for v in substitutions.values())
        ):
            errors.append(
                _error("substitutions_invalid", f"{base}.substitutions", "message.personalizations.substitutions")
            )
        errors.extend(
            _check_headers(p.get("headers"), f"{base}.headers", "message.personalizations.headers", "personalization_")
        )
    if total_recipients > MAX_RECIPIENTS:
        errors.append(_error("too_many_recipients", "personalizations", "message.personalizations"))

    if "from" not in payload or payload["from"] is None:
        errors.append(_error("from_missing", "from", "message.from"))
    else:
        problem = _check_address_object(payload["from"])
        if problem is not None:
            errors.append(_error(f"from_{problem}", "from.email", "message.from"))
    if "reply_to" in payload and _check_address_object(payload["reply_to"], allow_missing=True) is not None:
        errors.append(_error("reply_to_invalid", "reply_to.email", "message.reply_to"))
    reply_to_list = payload.get("reply_to_list")
    if reply_to_list is not None:
        if not isinstance(reply_to_list, list):
            raise _BadTypes
        for k, entry in enumerate(reply_to_list):
            if _check_address_object(entry) is not None:
                errors.append(_error("reply_to_invalid", f"reply_to_list.{k}.email", "message.reply_to"))

    subject = payload.get("subject")
    if "subject" in payload and (not isinstance(subject, str) or not subject):
        errors.append(_error("subject_invalid", "subject", "message.subject"))
    elif "subject" not in payload and not uses_template and not every_personalization_has_subject:
        errors.append(_error("subject_required", "subject", "message.subject"))

    content = payload.get("content")
    if content is None:
        if not uses_template:
            errors.append(_error("content_required", "content", "message.content"))
    elif not isinstance(content, list):
        raise _BadTypes
    elif not content and not uses_template:
        errors.append(_error("content_empty", "content", "message.content"))
    else:
        types: list[str] = []
        for k, block in enumerate(content):
            if not isinstance(block, dict):
                raise _BadTypes
            ctype, value = block.get("type"), block.get("value")
            if ctype is None or ctype == "":
                errors.append(_error("content_type_required", f"content.{k}.type", "message.content.type"))
            elif not isinstance(ctype, str):
                raise _BadTypes
            elif any(c in ctype for c in ";\r\n"):
                errors.append(_error("content_type_chars", f"content.{k}.type", "message.content.type"))
            else:
                types.append(ctype.lower())
            if value is None:
                errors.append(_error("content_value_required", f"content.{k}.value", "message.content.value"))
            elif not isinstance(value, str) or not value:
                errors.append(_error("content_value_invalid", f"content.{k}.value", "message.content.value"))
        order = [t for t in types if t in ("text/plain", "text/html")]
        rank = {"text/plain": 0, "text/html": 1}
        if types[: len(order)] != order or order != sorted(order, key=rank.__getitem__):
            errors.append(_error("content_order", "content", "message.content.value"))

    custom_args = payload.get("custom_args")
    if custom_args is not None and (
        not isinstance(custom_args, dict) or not all(isinstance(v, str) for v in custom_args.values())
    ):
        errors.append(_error("custom_args_strings", "custom_args", "message.personalizations.custom_args"))
    errors.extend(_check_headers(payload.get("headers"), "headers", "message.headers", ""))
    categories = payload.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            errors.append(_error("categories_type", "categories", "message.categories"))
        elif len(categories) > MAX_CATEGORIES:
            too_many = _error("categories_too_many", "categories", "message.categories")
            too_many["message"] = too_many["message"].replace("X categories", f"{len(categories)} categories")
            errors.append(too_many)
    attachments = payload.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            raise _BadTypes
        for k, attachment in enumerate(attachments):
            if not isinstance(attachment, dict):
                raise _BadTypes
            data = attachment.get("content")
            if not isinstance(data, str) or not data:
                errors.append(
                    _error(
                        "attachment_content_invalid",
                        f"attachments.{k}.content",
                        "message.attachments.content",
                    )
                )
            elif _b64decode(data) is None:
                errors.append(_error("attachment_base64", f"attachments.{k}.content", "message.attachments.content"))
            if not isinstance(attachment.get("filename"), str) or not attachment["filename"]:
                errors.append(
                    _error(
                        "attachment_filename_required",
                        f"attachments.{k}.filename",
                        "message.attachments.filename",
                    )
                )
    return errors


def _check_headers(headers: object, field: str, anchor: str, prefix: str) -> list[dict[str, Any]]:
    if headers is None:
        return []
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return [_error(f"{prefix}headers_strings", field, anchor)]
    if any(name.lower() in RESERVED_HEADERS for name in headers):
        return [_error(f"{prefix}headers_reserved", field, anchor)]
    return []


def _b64decode(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _address(obj: dict[str, Any]) -> str:
    return formataddr((obj.get("name") or "", obj["email"]))


def _substitute(text: str, substitutions: dict[str, str]) -> str:
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


def build_eml(
    payload: dict[str, Any],
    personalization: dict[str, Any],
    *,
    message_id: str,
    index: int,
    now: datetime,
) -> tuple[EmailMessage, str | None]:
    """The RFC 5322 message SendGrid would deliver for one personalization, and its HTML part."""
    substitutions: dict[str, str] = personalization.get("substitutions") or {}
    msg = EmailMessage()
    for name, value in {**(payload.get("headers") or {}), **(personalization.get("headers") or {})}.items():
        msg[name] = value
    msg["From"] = _address(payload["from"])
    msg["To"] = ", ".join(_address(r) for r in personalization["to"])
    if personalization.get("cc"):
        msg["Cc"] = ", ".join(_address(r) for r in personalization["cc"])
    subject = personalization.get("subject", payload.get("subject"))
    if subject is not None:
        msg["Subject"] = _substitute(subject, substitutions)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{message_id}.{index}@sendgrid.standin.invalid>"
    reply_to = payload.get("reply_to_list") or ([payload["reply_to"]] if payload.get("reply_to") else [])
    if reply_to:
        msg["Reply-To"] = ", ".join(_address(r) for r in reply_to)
    msg["X-Message-Id"] = message_id
    custom_args = {**(payload.get("custom_args") or {}), **(personalization.get("custom_args") or {})}
    if custom_args:
        # Not a SendGrid header: it lets a person see which notification an .eml belongs to.
        msg["X-Standin-Custom-Args"] = json.dumps(custom_args, sort_keys=True)

    html: str | None = None
    blocks = payload.get("content") or []
    if not blocks and payload.get("template_id"):
        # The stand-in cannot render SendGrid-hosted templates; keep what would have been rendered.
        data = personalization.get("dynamic_template_data") or {}
        blocks = [
            {
                "type": "text/plain",
                "value": f"[template {payload['template_id']}]\n{json.dumps(data, indent=2, sort_keys=True)}",
            }
        ]
    first = True
    for block in blocks:
        maintype, _, subtype = block["type"].partition("/")
        value = _substitute(block["value"], substitutions)
        if block["type"].lower() == "text/html" and html is None:
            html = value
        if maintype.lower() == "text":
            if first:
                msg.set_content(value, subtype=subtype or "plain")
            else:
                msg.add_alternative(value, subtype=subtype or "plain")
        elif first:
            msg.set_content(value.encode("utf-8"), maintype=maintype, subtype=subtype or "octet-stream")
        else:
            msg.add_alternative(value.encode("utf-8"), maintype=maintype, subtype=subtype or "octet-stream")
        first = False
    for attachment in payload.get("attachments") or []:
        maintype, _, subtype = (attachment.get("type") or "application/octet-stream").partition("/")
        msg.add_attachment(
            _b64decode(attachment["content"]) or b"",
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment["filename"],
            disposition=attachment.get("disposition", "attachment"),
            cid=f"<{attachment['content_id']}>" if attachment.get("content_id") else None,
        )
    return msg, html


EVENT_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
EVENT_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

# Amazon SES's mailbox simulator (https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html):
# the local part says what happens to the message; the same convention works for both email providers.
MAILBOX_SIMULATOR_DOMAIN = "simulator.amazonses.com"
MAILBOX_SIMULATOR_EVENTS = {
    "success": "delivered",
    "bounce": "bounce",
    "complaint": "spamreport",
    "suppressionlist": "dropped",
}


def mailbox_simulator_outcome(email: str) -> str:
    """The SendGrid event that follows `processed` for a recipient: `delivered` but for the simulator's addresses."""
    local, _, domain = email.lower().partition("@")
    if domain != MAILBOX_SIMULATOR_DOMAIN:
        return "delivered"
    # "bounce+label@" is the simulator's address too (labels tell tests apart).
    return MAILBOX_SIMULATOR_EVENTS.get(local.split("+", 1)[0], "delivered")


def _event(name: str, email: str, sg_message_id: str, custom_args: dict[str, Any]) -> dict[str, Any]:
    """One Event Webhook event as SendGrid posts it: custom_args ride as top-level fields."""
    event: dict[str, Any] = {
        **{str(k): v for k, v in custom_args.items()},
        "email": email,
        "timestamp": int(time.time()),
        "event": name,
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": sg_message_id,
        "smtp-id": f"<{sg_message_id.split('.', 1)[0]}@ismtpd-local>",
    }
    if name == "bounce":
        event |= {"type": "bounce", "status": "5.1.1", "reason": "550 5.1.1 The email account does not exist."}
    elif name == "dropped":
        event |= {"reason": "Unsubscribed Address", "status": "5.0.0"}
    elif name == "delivered":
        event["response"] = "250 2.0.0 OK"
    return event


class SendGridStandIn(StandInServer):
    """SendGrid's /v3/mail/send on 127.0.0.1, writing accepted messages to an `Outbox`."""

    name = "sendgrid-standin"
    # Read (and drain) bodies a little over the limit so the 413 is ours, not a reset connection.
    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        outbox: Outbox,
        api_key: str,
        *,
        faults: FaultPlan | None = None,
        port: int = 0,
        callbacks_enabled: bool = False,
        events_webhook_url: str | None = None,
        callback_delay: float = 0.5,
    ) -> None:
        super().__init__(faults=faults, port=port)
        self.outbox = outbox
        self.api_key = api_key  # the account's key; `accept_key` adds others (one account's keys, subusers' keys)
        self.other_keys: set[str] = set()
        # Event Webhook (off unless asked for): after accepting a message, post its events, signed with
        # a key pair of our own, to `events_webhook_url` (settable once the webhook's URL is known).
        self.callbacks_enabled = callbacks_enabled
        self.events_webhook_url = events_webhook_url
        self.callback_delay = callback_delay
        self._signing_key = ec.generate_private_key(ec.SECP256R1())
        self.callbacks = CallbackSender(self.name)

    @property
    def webhook_public_key(self) -> str:
        """The verification key as SendGrid's Mail Settings show it: base64 DER (SubjectPublicKeyInfo)."""
        der = self._signing_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode("ascii")

    def sign_event_webhook(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """SendGrid's Signed Event Webhook headers: ECDSA P-256/SHA-256 over timestamp + body, base64 DER."""
        timestamp = timestamp if timestamp is not None else str(int(time.time()))
        signature = self._signing_key.sign(timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "User-Agent": "SendGrid Event API",
            EVENT_SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            EVENT_TIMESTAMP_HEADER: timestamp,
        }

    def stop(self) -> None:
        self.callbacks.stop()
        super().stop()

    # -- fault answers ----------------------------------------------------------------------------

    def throttle_reply(self) -> Reply:
        # Legacy docs show X-RateLimit-Reset as a Unix timestamp (the OpenAPI spec says "seconds until
        # reset"); the timestamp form is what the published 429 example carries.
        reset = int(time.time() // 60 + 1) * 60
        return Reply.json(
            429,
            {"errors": [{"field": None, "message": "too many requests"}]},
            {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
            },
        )

    def server_error_reply(self) -> Reply:
        return Reply.json(500, {"errors": [{"message": "internal server error", "field": None, "help": None}]})

    # -- requests ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path.rstrip("/") != MAIL_SEND_PATH:
            return Reply.json(404, _published("not found"))
        if request.method != "POST":
            return Reply.json(405, _published("method not allowed"), {"Allow": "POST"})
        auth = request.headers.get("Authorization")
        if not auth or not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            return Reply.json(401, _published("authorization required"))
        key = auth[len("Bearer ") :].strip()
        if not any(secrets.compare_digest(key, known) for known in (self.api_key, *self.other_keys)):
            return Reply.json(401, _published("The provided authorization grant is invalid, expired, or revoked"))
        fault = self.inject_fault(request)
        if fault is not None:
            return fault
        if request.too_large:
            return Reply.json(413, _published("content too large"))
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return Reply.json(415, _published(MESSAGES["invalid_utf8"]))
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            return Reply.json(400, {"errors": [dict(_BAD_REQUEST)]})
        errors = validate_mail(payload)
        if errors:
            return Reply.json(400, {"errors": errors})
        message_id = secrets.token_urlsafe(16)  # 22 characters of [A-Za-z0-9_-], like SendGrid's ids
        if ((payload.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable") is True:
            # Sandbox mode: validated, not sent; the real API answers 200 with an empty body.
            return Reply(200)
        self._accept(payload, message_id, key=key, on_behalf_of=request.headers.get("On-Behalf-Of"))
        return Reply(202, b"", {"X-Message-Id": message_id})

    def accept_key(self, api_key: str) -> None:
        """Accept `api_key` too (another storefront's key, or a subuser's)."""
        self.other_keys.add(api_key)

    def _accept(self, payload: dict[str, Any], message_id: str, *, key: str, on_behalf_of: str | None) -> None:
        now = datetime.now(UTC)
        personalizations: list[dict[str, Any]] = payload["personalizations"]
        for index, personalization in enumerate(personalizations):
            msg, html = build_eml(payload, personalization, message_id=message_id, index=index, now=now)
            custom_args = {**(payload.get("custom_args") or {}), **(personalization.get("custom_args") or {})}
            name = custom_args.get("notification_id") or (
                message_id if len(personalizations) == 1 else f"{message_id}-{index}"
            )
            path = self.outbox.write_email(name, msg.as_bytes(), html)
            self._record_accepted(
                {
                    "message_id": message_id,
                    "to": [r["email"] for r in personalization["to"]],
                    "from": payload["from"]["email"],
                    "from_name": payload["from"].get("name"),
                    "reply_to": (payload.get("reply_to") or {}).get("email"),
                    # Which key sent it, as its last four characters (SendGrid shows keys by id, never whole).
                    "api_key_suffix": key[-4:],
                    "on_behalf_of": on_behalf_of,
                    "subject": personalization.get("subject", payload.get("subject")),
                    "custom_args": custom_args,
                    "name": path.stem,
                    "path": str(path),
                }
            )
            logger.debug("%s accepted %s as %s", self.name, message_id, path.name)
            if self.callbacks_enabled and self.events_webhook_url:
                self._schedule_events(personalization, custom_args, message_id, index)

    def _schedule_events(
        self, personalization: dict[str, Any], custom_args: dict[str, Any], message_id: str, index: int
    ) -> None:
        """Two Event Webhook posts per recipient, as SendGrid makes them: `processed`, then the outcome."""
        url = self.events_webhook_url
        if url is None:
            return
        for recipient in personalization["to"]:
            email = str(recipient["email"])
            # SendGrid's sg_message_id is the X-Message-Id plus a per-recipient filter suffix.
            sg_message_id = f"{message_id}.filterdrecv-{index}-{secrets.token_hex(4)}.0"
            outcome = mailbox_simulator_outcome(email)
            batches = [[_event("processed", email, sg_message_id, custom_args)]]
            if outcome != "processed":
                batches.append([_event(outcome, email, sg_message_id, custom_args)])
            for step, batch in enumerate(batches, start=1):
                body = json.dumps(batch).encode("utf-8")
                # Signed when posted, not now: the timestamp must be fresh when the webhook checks it.
                self.callbacks.schedule(url, body, self.sign_event_webhook, delay=self.callback_delay * step)
