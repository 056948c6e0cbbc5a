"""The storefront registry's entry: who a storefront is, what it sends as, and who may publish for it.

One entry per event `source`, kept in SSM Parameter Store (adapters.ssm_storefronts; docs/decisions.md says why)
and validated by this model wherever it is read: by the functions, and by `herald stores add` before it is
written, so an operator's typo is refused at the keyboard and not at the first send.

Secrets are never in an entry: it names the Secrets Manager secrets that hold them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# The contract's source (docs/contract.md): a URI-reference without whitespace, at most 256 characters.
SOURCE_PATTERN = r"^[^\s\x00-\x1f]{1,256}$"
# What may appear in a parameter name as it is (adapters.ssm_storefronts); anything else is written `_XX`.
_NAME_SAFE = re.compile(r"[A-Za-z0-9.\-]+")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# A folder name under rendering/templates/overrides/: one path part, so an entry cannot point outside it.
_FOLDER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# An SQS SenderId: an IAM user's or role's unique id (AIDA..., AROA...), an account id, or a role session
# ("AROA...:session"). Which one Herald compares is in `publisher_allowed`.
_PUBLISHER = re.compile(r"^[A-Z0-9]{12,128}(:[\w+=,.@-]{2,64})?$")


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


EmailAddress = Annotated[str, _matching(_EMAIL, "an email address")]
SecretName = Annotated[str, _matching(_SECRET_NAME, "a Secrets Manager secret name")]
Colour = Annotated[str, _matching(_COLOUR, "a colour as #rrggbb")]
PublisherId = Annotated[str, _matching(_PUBLISHER, "an SQS SenderId (an IAM unique id, optionally :session)")]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone") from None
    return value


class QuietHoursWindow(BaseModel):
    """When a non-urgent SMS waits for the morning, in the customer's time (the store's when unknown)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = time(21, 0)
    end: time = time(8, 0)


class StoreBranding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    logo_url: Annotated[str, Field(pattern=r"^https://[^\s\"'<>]{1,2000}$")] | None = None
    primary_colour: Colour = "#1f2937"
    accent_colour: Colour = "#2563eb"


class SmsConsentRule(StrEnum):
    """Whether an order that came through intake may be told by SMS: a Shopify order has no transactional-SMS
    consent field, so the storefront says which of its own rules stands for one (docs/connect.md)."""

    NEVER = "never"  # email only
    # The customer's Shopify SMS marketing consent is `subscribed` (or the checkout's buyer_accepts_sms_marketing)
    SHOPIFY_SMS_CONSENT = "shopify_sms_consent"
    # The store's checkout tells the customer that the phone they give is for order and delivery texts
    CHECKOUT_PHONE = "checkout_phone"


_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")


class StorefrontIntake(BaseModel):
    """How the storefront's platforms reach Herald's intake routes, and the secrets that prove it is them.

    Each secret named here is a Secrets Manager secret whose SecretString is the platform's signing secret (the
    Shopify app's client secret, the EasyPost webhook secret, ...). A platform without a secret is refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The carriers' URL part, `/intake/<platform>/<slug>`: a carrier payload names no storefront.
    slug: Annotated[str, _matching(_SLUG, "a slug (a-z, 0-9 and -, at most 63)")]
    # The storefront's `X-Shopify-Shop-Domain` (shop.myshopify.com): Shopify names the shop, not the source.
    shopify_shop_domain: Annotated[str, _matching(_SHOP_DOMAIN, "a shop's myshopify.com domain")] | None = None
    shopify_secret_id: SecretName | None = None
    easypost_secret_id: SecretName | None = None
    aftership_secret_id: SecretName | None = None
    shippo_secret_id: SecretName | None = None
    onfleet_secret_id: SecretName | None = None
    sms_consent: SmsConsentRule = SmsConsentRule.NEVER


# An HTTPS URL without whitespace, quotes or angle brackets (it is written into a request line and into HTML).
_HTTPS_URL = r"^https://[^\s\"'<>]{1,2000}$"
# An EventBridge event bus ARN (any partition, region and account: a storefront's own bus in its own account).
_EVENT_BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._\-/]{1,256}$")


class StorefrontOutbound(BaseModel):
    """Where Herald tells the storefront what only Herald learns (docs/outbound-webhooks.md): a customer disputed
    or confirmed a delivery, or started a return on Herald's order page.

    The secret named here holds the Standard Webhooks signing secret (`whsec_` + base64 of 24 to 64 random bytes),
    or `{"keys": ["whsec_...", ...]}` while rotating: the first key is the newest, and every key signs each request.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # HTTPS only: the body carries the customer's answers, and the signature proves only who sent it.
    url: Annotated[str, Field(pattern=_HTTPS_URL)]
    secret_id: SecretName
    # Also put each event on this bus (PutEvents, Source `herald`, DetailType the event's type), for storefronts
    # on AWS. The bus's resource policy must allow Herald's account to put events on it.
    event_bus_arn: Annotated[str, _matching(_EVENT_BUS_ARN, "an EventBridge event bus ARN")] | None = None
    # The storefront's own returns portal: Herald's order page links there instead of showing its return form.
    returns_portal_url: Annotated[str, Field(pattern=_HTTPS_URL)] | None = None


class Storefront(BaseModel):
    """One storefront's entry in the registry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Annotated[str, Field(pattern=SOURCE_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    email_from: EmailAddress
    email_from_name: Annotated[str, Field(max_length=100)] | None = None
    reply_to: EmailAddress | None = None
    sendgrid_secret_id: SecretName
    # A SendGrid subuser the parent account's key sends on behalf of (SendGrid's `on-behalf-of` header).
    sendgrid_subuser: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None
    # The SES identity the backup provider sends as (a verified domain or address); None: email_from's domain.
    ses_identity: Annotated[str, Field(pattern=r"^[^@\s]+(@[^@\s]+)?$", max_length=320)] | None = None
    twilio_secret_id: SecretName
    twilio_messaging_service_sid: (
        Annotated[str, _matching(_MESSAGING_SERVICE_SID, "a Messaging Service SID")] | None
    ) = None
    sms_from: Annotated[str, _matching(_E164, "an E.164 number")] | None = None
    # The answer to HELP; {store} is replaced by the name. None: domain.suppression's default text.
    help_text: Annotated[str, Field(max_length=320)] | None = None
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")] = "en"
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    quiet_hours: QuietHoursWindow = QuietHoursWindow()
    branding: StoreBranding = StoreBranding()
    template_overrides: Annotated[str, _matching(_FOLDER, "a folder name (a-z, 0-9, - and _)")] | None = None
    # The SQS SenderIds that may publish events with this source (see publisher_allowed). Empty: nobody yet.
    publishers: tuple[PublisherId, ...] = ()
    # The platforms' webhooks Herald takes for this storefront (handlers.intake); None: it publishes events itself.
    intake: StorefrontIntake | None = None
    # Signed outbound webhooks to the storefront (usecases.outbound); None: Herald tells the storefront nothing.
    outbound: StorefrontOutbound | None = None

    @model_validator(mode="before")
    @classmethod
    def _template_values(cls, value: Any) -> Any:
        """The template writes its default entry from parameters (template.yaml, DefaultStorefront): an empty
        parameter is an absent value, and the publishers come as one comma-separated string."""
        if not isinstance(value, dict):
            return value
        value = {key: item for key, item in value.items() if item != ""}
        if isinstance(value.get("publishers"), str):
            value["publishers"] = [part.strip() for part in value["publishers"].split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _sms_sender(self) -> Self:
        if self.twilio_messaging_service_sid is None and self.sms_from is None:
            raise ValueError("a storefront needs twilio_messaging_service_sid or sms_from to send SMS")
        return self

    @property
    def ses_sending_identity(self) -> str:
        return self.ses_identity or self.email_from.rsplit("@", 1)[1]

    def publisher_allowed(self, sender_id: str | None) -> bool:
        """Whether the principal SQS names as a message's `SenderId` may publish as this storefront.

        SQS writes an IAM user's unique id (AIDA...), or a role's as "AROA...:<session name>". An entry that names
        the role alone admits every session of it; one that names "AROA...:session" admits that session only.
        """
        if not sender_id:
            return False
        principal = sender_id.split(":", 1)[0]
        return sender_id in self.publishers or principal in self.publishers


def validation_problems(error: Exception) -> str:
    """A pydantic ValidationError as one line an operator can act on: `field: problem; ...`."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return str(error)
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'entry'}: {issue['msg']}" for issue in error.errors()
    )


class StaticStorefronts:
    """A registry held in memory: for tests, and for tools that read entries from a file."""

    def __init__(self, entries: Iterable[Storefront] | Mapping[str, Storefront] = ()) -> None:
        values = entries.values() if isinstance(entries, Mapping) else entries
        self._entries = {entry.source: entry for entry in values}

    def get(self, source: str) -> Storefront | None:
        return self._entries.get(source)

    def put(self, entry: Storefront) -> None:
        self._entries[entry.source] = entry


def parameter_leaf(source: str) -> str:
    """The source as the last part of an SSM parameter name.

    A source made of non-empty parts of letters, digits, `.` and `-` joined by `/` (at most 10 parts: SSM allows
    15 levels) is written as it is, so an operator finds `.../storefronts/storefront/acme` by eye and the template
    can name its default entry. Any other source is one part: letters, digits, `.` and `-` as they are and every
    other byte of its UTF-8 as `_XX`. The two forms never meet (only the second holds `_`), and each is
    injective, so two sources never share an entry and a source such as "https://shop.example/a" cannot add
    levels to the registry's path.
    """
    parts = source.split("/")
    if len(parts) <= 10 and all(_NAME_SAFE.fullmatch(part) for part in parts):
        return source
    return "".join(
        char if _NAME_SAFE.fullmatch(char) else "".join(f"_{byte:02X}" for byte in char.encode()) for char in source
    )
