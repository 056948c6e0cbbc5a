"""The local deployment's storefronts: the template's default one (Acme Outdoor) and a second, Globex Garden,
with its own sender, number, branding, secrets and publisher, so that what one deployment does for two
storefronts can be seen and tried locally (`herald local up`, `herald demo`, tests/integration). Globex Garden also
takes its platforms' webhooks (its registry entry's `intake`): Shopify, EasyPost, AfterShip and Onfleet, each
signing with a secret of its own in Secrets Manager.

Each publisher is an IAM user in the emulator with its own access key; the emulator names SQS's SenderId after
it (herald_tools.local.sender_ids), and the registry entry lists it. The keys are the emulator's, not secrets.
"""

from __future__ import annotations

import json
import secrets as random_secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald.domain.storefront import SmsConsentRule, Storefront, StorefrontIntake
from herald_tools.local.platforms import SIGNED_PLATFORMS, SignedPlatform
from herald_tools.local.sender_ids import aws_style_user_id

SECOND_SOURCE = "storefront/globex-garden"
SECOND_SENDGRID_SECRET = "herald/globex-garden/sendgrid"  # noqa: S105 - a secret's name
SECOND_TWILIO_SECRET = "herald/globex-garden/twilio"  # noqa: S105 - a secret's name
# Globex Garden runs on Shopify, tracks its parcels through EasyPost and AfterShip and delivers locally with Onfleet.
SECOND_SLUG = "globex-garden"
SECOND_SHOP_DOMAIN = "globex-garden.myshopify.com"


def intake_secret_id(platform: SignedPlatform) -> str:
    """The Secrets Manager name of Globex Garden's signing secret for `platform`."""
    return f"herald/{SECOND_SLUG}/{platform}"


@dataclass(frozen=True)
class LocalIntake:
    """A storefront's platform webhooks as the platforms know them: its slug, its shop, the secrets they sign
    with (random per local deployment: the demo plays the platforms, so it holds what each platform would)."""

    source: str
    slug: str
    shop_domain: str
    secrets: Mapping[SignedPlatform, str] = field(repr=False)


@dataclass(frozen=True)
class LocalPublisher:
    """A storefront's publishing identity in the emulator: an IAM user and its access key."""

    source: str
    user_id: str  # as SQS names it in SenderId
    access_key_id: str
    secret_access_key: str
    intake: LocalIntake | None = None  # the storefront's platform webhooks, when it takes them

    def client(self, runtime: Any, service: str = "sqs") -> Any:
        import boto3

        session = boto3.session.Session()
        return session.client(
            service,  # type: ignore[call-overload]  # boto3-stubs types each service by its literal name
            endpoint_url=runtime.aws.endpoint_url,
            region_name=runtime.aws.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )


def second_storefront(publisher_id: str) -> Storefront:
    return Storefront(
        source=SECOND_SOURCE,
        name="Globex Garden",
        email_from="hello@globex-garden.example",
        email_from_name="Globex Garden",
        reply_to="care@globex-garden.example",
        sendgrid_secret_id=SECOND_SENDGRID_SECRET,
        twilio_secret_id=SECOND_TWILIO_SECRET,
        sms_from="+15005550010",
        help_text="Globex Garden: help at care@globex-garden.example or 0800 555 0199. Reply STOP to opt out.",
        timezone="Europe/London",
        branding={"primary_colour": "#0a7d34", "accent_colour": "#0a7d34"},
        publishers=(publisher_id,),
        intake=StorefrontIntake(
            slug=SECOND_SLUG,
            shopify_shop_domain=SECOND_SHOP_DOMAIN,
            shopify_secret_id=intake_secret_id("shopify"),
            easypost_secret_id=intake_secret_id("easypost"),
            aftership_secret_id=intake_secret_id("aftership"),
            onfleet_secret_id=intake_secret_id("onfleet"),
            # Shopify orders carry no transactional-SMS consent: only a customer subscribed to the shop's SMS is texted.
            sms_consent=SmsConsentRule.SHOPIFY_SMS_CONSENT,
        ),
    )


def register_second_storefront(
    runtime: Any, *, sendgrid_secret: dict[str, str], twilio_secret: dict[str, str]
) -> LocalPublisher:
    """Globex Garden's publisher (an IAM user), secrets, SES identity and registry entry, as an operator adds a
    storefront with `herald stores add`."""
    iam = runtime.aws.client("iam")
    user = iam.create_user(UserName="publisher-globex-garden")["User"]
    key = iam.create_access_key(UserName="publisher-globex-garden")["AccessKey"]
    secrets = runtime.aws.client("secretsmanager")
    # Its own secrets, holding the stand-ins' account (one SendGrid account with two verified senders, one
    # Twilio account with two numbers: how an agency runs several shops).
    secrets.create_secret(Name=SECOND_SENDGRID_SECRET, SecretString=json.dumps(sendgrid_secret))
    secrets.create_secret(Name=SECOND_TWILIO_SECRET, SecretString=json.dumps(twilio_secret))
    intake = LocalIntake(SECOND_SOURCE, SECOND_SLUG, SECOND_SHOP_DOMAIN, _platform_secrets())
    for platform, value in intake.secrets.items():
        # The SecretString is the platform's signing secret itself, as an operator stores it (docs/connect.md).
        secrets.create_secret(Name=intake_secret_id(platform), SecretString=value)
    publisher = LocalPublisher(
        SECOND_SOURCE, aws_style_user_id(user["UserId"]), key["AccessKeyId"], key["SecretAccessKey"], intake
    )
    entry = second_storefront(publisher.user_id)
    runtime.aws.client("sesv2").create_email_identity(EmailIdentity=entry.ses_sending_identity)
    SsmStorefronts(runtime.aws.client("ssm"), registry_path(runtime)).put(entry)
    return publisher


def _platform_secrets() -> dict[SignedPlatform, str]:
    """A fresh signing secret per platform, in the form each platform issues (Onfleet's is hex: it is decoded)."""
    return {
        platform: random_secrets.token_hex(32) if platform == "onfleet" else random_secrets.token_urlsafe(32)
        for platform in SIGNED_PLATFORMS
    }


def registry_path(runtime: Any) -> str:
    """The local stack's registry path: the one `herald stores` and the template's HERALD_STOREFRONTS_PATH name."""
    from herald_tools.ops.stores import registry_path as stack_registry_path

    return stack_registry_path(runtime.stack.name)
