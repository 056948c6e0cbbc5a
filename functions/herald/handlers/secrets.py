"""Provider credentials from AWS Secrets Manager, through Powertools parameters (cached 5 minutes)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from herald.config import settings

SECRET_MAX_AGE_SECONDS = 300  # a rotated secret is picked up within five minutes, without a redeploy


@cache
def _provider() -> Any:
    """Powertools' Secrets Manager provider (it caches values for max_age), on a client of boto3's default session.

    `parameters.get_secret()` would build its provider from a new boto3 Session, which reloads botocore's
    endpoint data the function's other clients already loaded (about 50 ms of cold start, benchmarks/).
    """
    from aws_lambda_powertools.utilities import parameters

    from herald.handlers.aws import aws_client

    return parameters.SecretsProvider(boto3_client=aws_client("secretsmanager"))


def _secret(secret_id: str) -> dict[str, Any]:
    value = _provider().get(secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} must be a JSON object")
    return value


def sendgrid_api_key() -> str:
    secret = _secret(settings().sendgrid_secret_id)
    if not secret.get("api_key"):
        raise ValueError(f"secret {settings().sendgrid_secret_id} has no api_key")
    return str(secret["api_key"])


@dataclass(frozen=True)
class TwilioCredentials:
    account_sid: str
    auth_token: str
    from_number: str


def twilio_credentials() -> TwilioCredentials:
    secret = _secret(settings().twilio_secret_id)
    missing = [k for k in ("account_sid", "auth_token", "from_number") if not secret.get(k)]
    if missing:
        raise ValueError(f"secret {settings().twilio_secret_id} lacks {', '.join(missing)}")
    return TwilioCredentials(str(secret["account_sid"]), str(secret["auth_token"]), str(secret["from_number"]))


def sendgrid_webhook_public_key() -> str:
    """The Event Webhook verification key (base64 DER, as SendGrid's Mail Settings show it)."""
    secret_id = settings().sendgrid_webhook_secret_id
    secret = _secret(secret_id)
    if not secret.get("public_key"):
        raise ValueError(f"secret {secret_id} has no public_key")
    return str(secret["public_key"])
