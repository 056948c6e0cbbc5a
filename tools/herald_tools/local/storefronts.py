"""The local deployment's storefronts: the template's default one (Acme Outdoor) and a second, Globex Garden,
with its own sender, number, branding, secrets and publisher, so that what one deployment does for two
storefronts can be seen and tried locally (`herald local up`, `herald demo`, tests/integration).

Each publisher is an IAM user in the emulator with its own access key; the emulator names SQS's SenderId after
it (herald_tools.local.sender_ids), and the registry entry lists it. The keys are the emulator's, not secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald.domain.storefront import Storefront
from herald_tools.local.sender_ids import aws_style_user_id

SECOND_SOURCE = "storefront/globex-garden"
SECOND_SENDGRID_SECRET = "herald/globex-garden/sendgrid"  # noqa: S105 - a secret's name
SECOND_TWILIO_SECRET = "herald/globex-garden/twilio"  # noqa: S105 - a secret's name


@dataclass(frozen=True)
class LocalPublisher:
    """A storefront's publishing identity in the emulator: an IAM user and its access key."""

    source: str
    user_id: str  # as SQS names it in SenderId
    access_key_id: str
    secret_access_key: str

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
    )


def register_second_storefront(
    runtime: Any, *, sendgrid_secret: dict[str, str], twilio_secret: dict[str, str]
) -> LocalPublisher:
    """Globex Garden's publisher (an IAM user), secrets, SES identity and registry entry, as an operator adds a
    storefront with `herald stores add`."""
    iam = runtime.aws.client("iam")
    user = iam.create_user(UserName="publisher-globex-garden")["User"]
    key = iam.create_access_key(UserName="publisher-globex-garden")["AccessKey"]
    publisher = LocalPublisher(
        SECOND_SOURCE, aws_style_user_id(user["UserId"]), key["AccessKeyId"], key["SecretAccessKey"]
    )
    secrets = runtime.aws.client("secretsmanager")
    # Its own secrets, holding the stand-ins' account (one SendGrid account with two verified senders, one
    # Twilio account with two numbers: how an agency runs several shops).
    secrets.create_secret(Name=SECOND_SENDGRID_SECRET, SecretString=json.dumps(sendgrid_secret))
    secrets.create_secret(Name=SECOND_TWILIO_SECRET, SecretString=json.dumps(twilio_secret))
    entry = second_storefront(publisher.user_id)
    runtime.aws.client("sesv2").create_email_identity(EmailIdentity=entry.ses_sending_identity)
    SsmStorefronts(runtime.aws.client("ssm"), registry_path(runtime)).put(entry)
    return publisher


def registry_path(runtime: Any) -> str:
    """The local stack's registry path: the one `herald stores` and the template's HERALD_STOREFRONTS_PATH name."""
    from herald_tools.ops.stores import registry_path as stack_registry_path

    return stack_registry_path(runtime.stack.name)
