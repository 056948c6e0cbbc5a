"""Function configuration, read from the environment when a handler first needs it (never at import)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, Json

from herald.domain.notification import Channel


class Settings(BaseModel):
    """Every setting a function reads, with its environment variable name as alias."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: str = Field("herald-notifications", alias="HERALD_TABLE_NAME")
    email_queue_url: str | None = Field(None, alias="HERALD_EMAIL_QUEUE_URL")
    sms_queue_url: str | None = Field(None, alias="HERALD_SMS_QUEUE_URL")
    # The channel queue's maxReceiveCount: the attempt that reaches it is the last one.
    max_receive_count: int = Field(5, alias="HERALD_MAX_RECEIVE_COUNT", ge=1)
    retry_base_seconds: int = Field(10, alias="HERALD_RETRY_BASE_SECONDS", ge=0)
    retry_max_seconds: int = Field(900, alias="HERALD_RETRY_MAX_SECONDS", ge=0, le=43_200)
    claim_lease_seconds: int = Field(60, alias="HERALD_CLAIM_LEASE_SECONDS", ge=1)
    ttl_days: int = Field(90, alias="HERALD_NOTIFICATION_TTL_DAYS", ge=1)
    provider_timeout_seconds: float = Field(5.0, alias="HERALD_PROVIDER_TIMEOUT_SECONDS", gt=0)
    # Where provider credentials live (Secrets Manager secret ids). Never the secrets themselves.
    sendgrid_secret_id: str = Field("herald/sendgrid", alias="HERALD_SENDGRID_SECRET_ID")
    twilio_secret_id: str = Field("herald/twilio", alias="HERALD_TWILIO_SECRET_ID")
    # The SendGrid Event Webhook's verification key: a secret {"public_key": "<base64 DER>"}.
    sendgrid_webhook_secret_id: str = Field("herald/sendgrid-webhook", alias="HERALD_SENDGRID_WEBHOOK_SECRET_ID")
    # How far a signed webhook's timestamp may be from now before the request is refused as stale.
    webhook_tolerance_seconds: int = Field(300, alias="HERALD_WEBHOOK_TOLERANCE_SECONDS", ge=1, le=86_400)
    # Optional endpoint overrides: the local runtime points the SDKs at its stand-ins.
    sendgrid_api_host: str | None = Field(None, alias="HERALD_SENDGRID_API_HOST")
    twilio_api_base_url: str | None = Field(None, alias="HERALD_TWILIO_API_BASE_URL")
    # Where Twilio posts status callbacks: the webhooks HTTP API's base URL (the SMS sender appends
    # /webhooks/twilio/status?source=..&event_id=..&order_id=..). Unset: Twilio sends no status callbacks.
    webhooks_base_url: str | None = Field(None, alias="HERALD_WEBHOOKS_BASE_URL")
    # Inbound SMS keywords (STOP/START/HELP): which storefront (source) each receiving Twilio number belongs to,
    # as JSON {"+15005550006": "storefront/acme"}; a number not listed belongs to HERALD_DEFAULT_SOURCE, and
    # with neither, STOP holds for every storefront.
    sms_source_by_number: Json[dict[str, str]] = Field(default_factory=dict, alias="HERALD_SMS_SOURCE_BY_NUMBER")
    default_source: str | None = Field(None, alias="HERALD_DEFAULT_SOURCE")
    # The answer to HELP; {store} is replaced by the store name. Unset: domain.suppression.DEFAULT_HELP_TEXT.
    sms_help_text: str | None = Field(None, alias="HERALD_SMS_HELP_TEXT")
    # Redundancy (domain/redundancy.py). The follow-up queue takes deadline checks and channel-fallback requests.
    followup_queue_url: str | None = Field(None, alias="HERALD_FOLLOWUP_QUEUE_URL")
    # How long an order confirmation may go without a delivery report before it is escalated (SQS delay: <= 900).
    deadline_seconds: int = Field(600, alias="HERALD_DELIVERY_DEADLINE_SECONDS", ge=0, le=900)
    # Provider failover: this many consecutive retryable failures of the primary open its circuit (shared in
    # the table); new sends go to the secondary (SES, SNS) until a probe, tried every probe interval, succeeds.
    failover_enabled: bool = Field(True, alias="HERALD_FAILOVER_ENABLED")
    failover_threshold: int = Field(5, alias="HERALD_FAILOVER_THRESHOLD", ge=1)
    failover_probe_seconds: int = Field(30, alias="HERALD_FAILOVER_PROBE_SECONDS", ge=1)
    ses_configuration_set: str | None = Field(None, alias="HERALD_SES_CONFIGURATION_SET")
    sns_sender_id: str | None = Field(None, alias="HERALD_SNS_SENDER_ID")
    sns_origination_number: str | None = Field(None, alias="HERALD_SNS_ORIGINATION_NUMBER")
    email_from: str = Field("orders@herald.example", alias="HERALD_EMAIL_FROM")
    default_store_name: str = Field("Our store", alias="HERALD_DEFAULT_STORE_NAME")
    tracing: bool = Field(False, alias="HERALD_TRACING")

    def channel_queue_urls(self) -> dict[Channel, str]:
        """Each channel's queue URL, from the field its entry names (domain.channel_registry).

        Every one must be set: a function that queues messages must reach every channel's queue, or the messages
        of the missing one would fail one by one at run time.
        """
        # Imported here: only the functions that queue messages load the registry (and the contract models).
        from herald.domain.channel_registry import CHANNELS

        urls = {channel: getattr(self, spec.queue_setting) for channel, spec in CHANNELS.items()}
        missing = [Settings.model_fields[CHANNELS[c].queue_setting].alias for c, url in urls.items() if not url]
        if missing:
            raise RuntimeError(" and ".join(str(name) for name in missing) + " must be set")
        return urls


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this function instance, read once from the environment."""
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    return Settings.model_validate({k: v for k, v in os.environ.items() if k in known})
