"""Provider credentials from AWS Secrets Manager, through Powertools parameters (cached 5 minutes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from herald.webhooks.unsubscribe_token import UnsubscribeTokens

SECRET_MAX_AGE_SECONDS = 300  # a rotated secret is picked up within five minutes, without a redeploy


@dataclass(frozen=True)
class TwilioCredentials:
    account_sid: str
    auth_token: str
    from_number: str


class Secrets:
    """The secrets a function reads, each by the id its settings name. One per composition root."""

    def __init__(self, secretsmanager: Any) -> None:
        from aws_lambda_powertools.utilities import parameters

        # Powertools' provider (it caches values for max_age) on the function's shared client:
        # `parameters.get_secret()` would build its provider from a new boto3 Session, which reloads botocore's
        # endpoint data the function's other clients already loaded (about 50 ms of cold start, benchmarks/).
        self._provider = parameters.SecretsProvider(boto3_client=secretsmanager)

    def read(self, secret_id: str, force: bool = False) -> dict[str, Any]:
        """The secret's JSON object, from the cache unless `force` (after the provider refused what it holds)."""
        value = self._provider.get(secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force)
        if not isinstance(value, dict):
            raise ValueError(f"secret {secret_id} must be a JSON object")
        return value

    def text(self, secret_id: str) -> str:
        """A secret whose SecretString is the value itself (a platform's webhook signing secret)."""
        value = self._provider.get(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
        if not isinstance(value, str) or not value:
            raise ValueError(f"secret {secret_id} is empty")
        return value

    def twilio_credentials(self, secret_id: str) -> TwilioCredentials:
        return twilio_credentials(secret_id, self.read(secret_id))

    def sendgrid_webhook_public_key(self, secret_id: str) -> str:
        """The Event Webhook verification key (base64 DER, as SendGrid's Mail Settings show it)."""
        secret = self.read(secret_id)
        if not secret.get("public_key"):
            raise ValueError(f"secret {secret_id} has no public_key")
        return str(secret["public_key"])

    def signing_keys(self, secret_id: str) -> list[str]:
        """A signing secret's keys ({"keys": [...]}, the signing key first; every one verifies): the one-click
        unsubscribe links', the order pages'."""
        keys = self.read(secret_id).get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(key, str) and key for key in keys):
            raise ValueError(f"secret {secret_id} has no keys (a list of strings)")
        return keys


def unsubscribe_tokens(secrets: Secrets, secret_id: str, link_days: int) -> Callable[[], UnsubscribeTokens]:
    """The one-click links' signer, from the keys as they are at each call (Powertools caches the secret for
    SECRET_MAX_AGE_SECONDS, so a rotated key is picked up without a redeploy)."""
    from herald.webhooks.unsubscribe_token import UnsubscribeTokens

    return lambda: UnsubscribeTokens(secrets.signing_keys(secret_id), lifetime_seconds=link_days * 86_400)


def sendgrid_api_key(secret_id: str, secret: dict[str, Any]) -> str:
    if not secret.get("api_key"):
        raise ValueError(f"secret {secret_id} has no api_key")
    return str(secret["api_key"])


def twilio_credentials(secret_id: str, secret: dict[str, Any]) -> TwilioCredentials:
    # from_number may be absent when every storefront on the account sends from its own number or Messaging
    # Service (the registry's sms_from / twilio_messaging_service_sid).
    missing = [k for k in ("account_sid", "auth_token") if not secret.get(k)]
    if missing:
        raise ValueError(f"secret {secret_id} lacks {', '.join(missing)}")
    return TwilioCredentials(
        str(secret["account_sid"]), str(secret["auth_token"]), str(secret.get("from_number") or "")
    )
