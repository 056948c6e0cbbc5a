"""Each function's settings: one model per function, read from the environment by its composition root on the
first invocation (never at import), with every environment variable name as the field's alias.

A value a function cannot work without has no default: a missing one fails the first invocation with the
variable's name (ConfigurationError), not later with an AttributeError deep in an adapter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError

from herald.domain.notification import Channel


class ConfigurationError(RuntimeError):
    """A function's environment lacks a required variable or holds an invalid value."""


# A function validates one of the settings models below, once: each model's validator is built when first used
# (pydantic's defer_build), so a cold start does not pay for the other functions' models.
_DEFERRED = ConfigDict(defer_build=True)


class FunctionSettings(BaseModel):
    """What every function reads (the template's Globals)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, defer_build=True)
    function: ClassVar[str] = "herald"

    table_name: str = Field("herald-notifications", alias="HERALD_TABLE_NAME")
    # The storefront registry: one SSM parameter per storefront under this path (adapters.ssm_storefronts).
    storefronts_path: str = Field(
        "/herald/herald/storefronts", alias="HERALD_STOREFRONTS_PATH", pattern=r"^/[A-Za-z0-9_.\-/]{1,900}$"
    )
    ttl_days: int = Field(90, alias="HERALD_NOTIFICATION_TTL_DAYS", ge=1)
    tracing: bool = Field(False, alias="HERALD_TRACING")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in `environ` (os.environ when None); variables this model does not read are ignored."""
        environ = os.environ if environ is None else environ
        known = {field.alias for field in cls.model_fields.values() if field.alias}
        try:
            return cls.model_validate({k: v for k, v in environ.items() if k in known})
        except ValidationError as error:
            problems = [
                f"{'.'.join(str(part) for part in issue['loc'])} "
                + ("is required" if issue["type"] == "missing" else f"is invalid ({issue['msg']})")
                for issue in error.errors()
            ]
            raise ConfigurationError(f"the {cls.function} function's environment: {'; '.join(problems)}") from None

    @classmethod
    def variable_names(cls) -> frozenset[str]:
        return frozenset(field.alias for field in cls.model_fields.values() if field.alias)


class _FollowUpQueueSetting(BaseModel):
    model_config = _DEFERRED
    # Redundancy (domain/redundancy.py): deadline checks and channel-fallback requests. Unset: no redundancy.
    followup_queue_url: str | None = Field(None, alias="HERALD_FOLLOWUP_QUEUE_URL")


class _StoreSetting(BaseModel):
    model_config = _DEFERRED
    default_store_name: str = Field("Our store", alias="HERALD_DEFAULT_STORE_NAME")


class _UnsubscribeSetting(BaseModel):
    """One-click unsubscribe links (RFC 8058): the send-email function signs them, the webhooks function verifies."""

    model_config = _DEFERRED
    # A secret {"keys": ["<at least 32 characters>", ...]}: the first signs, every one verifies.
    unsubscribe_secret_id: str = Field("herald/unsubscribe", alias="HERALD_UNSUBSCRIBE_SECRET_ID")
    # How long a link works after its email is sent (CAN-SPAM asks for at least 30 days).
    unsubscribe_link_days: int = Field(60, alias="HERALD_UNSUBSCRIBE_LINK_DAYS", ge=30, le=3650)


class _ChannelQueuesSetting(BaseModel):
    """The channel queues, for the functions that queue messages (dispatch, follow-up): every one is required, or
    the messages of the missing channel would fail one by one at run time."""

    model_config = _DEFERRED
    email_queue_url: str = Field(alias="HERALD_EMAIL_QUEUE_URL")
    sms_queue_url: str = Field(alias="HERALD_SMS_QUEUE_URL")

    def channel_queue_urls(self) -> dict[Channel, str]:
        """Each channel's queue URL, from the field its entry names (domain.channel_registry)."""
        # Imported here: only the functions that queue messages load the registry.
        from herald.domain.channel_registry import CHANNELS

        return {channel: str(getattr(self, spec.queue_setting)) for channel, spec in CHANNELS.items()}


class _EventQueuesSetting(BaseModel):
    """Herald's own event queues, for the functions that publish what a platform reported (the intake's join)."""

    model_config = _DEFERRED
    order_events_queue_url: str | None = Field(None, alias="HERALD_ORDER_EVENTS_QUEUE_URL")
    shipment_events_queue_url: str | None = Field(None, alias="HERALD_SHIPMENT_EVENTS_QUEUE_URL")

    @property
    def publishes_events(self) -> bool:
        return bool(self.order_events_queue_url and self.shipment_events_queue_url)


class _OrderPageSetting(BaseModel):
    """The order page's key: a secret {"keys": ["<at least 32 characters>", ...]}; the first signs, every one
    verifies (page tokens are recorded as issued, so a rotation leaves the links already sent working)."""

    model_config = _DEFERRED
    order_page_secret_id: str = Field("herald/order-pages", alias="HERALD_ORDER_PAGE_SECRET_ID")
    page_link_days: int = Field(120, alias="HERALD_ORDER_PAGE_LINK_DAYS", ge=1, le=3650)
    # The HTTP API's base URL, where the pages are (/o/<token>). Unset: messages carry no page link.
    order_page_base_url: str | None = Field(None, alias="HERALD_ORDER_PAGE_BASE_URL")


class _LateChecksSetting(BaseModel):
    """Late-delivery checks (usecases.late_delivery): where dispatch schedules them. All unset: no checks."""

    model_config = _DEFERRED
    late_check_schedule_group: str | None = Field(None, alias="HERALD_LATE_CHECK_SCHEDULE_GROUP")
    late_checks_queue_url: str | None = Field(None, alias="HERALD_LATE_CHECKS_QUEUE_URL")
    late_checks_queue_arn: str | None = Field(None, alias="HERALD_LATE_CHECKS_QUEUE_ARN")
    late_checks_dlq_arn: str | None = Field(None, alias="HERALD_LATE_CHECKS_DLQ_ARN")
    late_check_scheduler_role_arn: str | None = Field(None, alias="HERALD_LATE_CHECK_SCHEDULER_ROLE_ARN")

    @property
    def checks_late_deliveries(self) -> bool:
        return all(
            (
                self.late_check_schedule_group,
                self.late_checks_queue_url,
                self.late_checks_queue_arn,
                self.late_checks_dlq_arn,
                self.late_check_scheduler_role_arn,
            )
        )


def _id_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class DispatchSettings(
    FunctionSettings,
    _FollowUpQueueSetting,
    _ChannelQueuesSetting,
    _EventQueuesSetting,
    _LateChecksSetting,
    _OrderPageSetting,
):
    function: ClassVar[str] = "dispatch"

    # The intake functions' role ids (AROA...), comma-separated: they relay verified platform reports as any
    # registered storefront (usecases.dispatch). Empty: only the registry's publishers publish.
    relay_ids_text: str = Field("", alias="HERALD_RELAY_PUBLISHER_IDS")

    @property
    def relay_ids(self) -> list[str]:
        return _id_list(self.relay_ids_text)

    # How long an order confirmation may go without a delivery report before it is escalated (SQS delay: <= 900).
    deadline_seconds: int = Field(600, alias="HERALD_DELIVERY_DEADLINE_SECONDS", ge=0, le=900)


class SenderSettings(FunctionSettings, _FollowUpQueueSetting):
    """What send-email and send-sms share: the claim, the retries and the provider failover."""

    # The channel queue's maxReceiveCount: the attempt that reaches it is the last one.
    max_receive_count: int = Field(5, alias="HERALD_MAX_RECEIVE_COUNT", ge=1)
    retry_base_seconds: int = Field(10, alias="HERALD_RETRY_BASE_SECONDS", ge=0)
    retry_max_seconds: int = Field(900, alias="HERALD_RETRY_MAX_SECONDS", ge=0, le=43_200)
    claim_lease_seconds: int = Field(60, alias="HERALD_CLAIM_LEASE_SECONDS", ge=1)
    provider_timeout_seconds: float = Field(5.0, alias="HERALD_PROVIDER_TIMEOUT_SECONDS", gt=0)
    # Provider failover: this many consecutive retryable failures of the primary open its circuit (shared in
    # the table); new sends go to the secondary (SES, SNS) until a probe, tried every probe interval, succeeds.
    failover_enabled: bool = Field(True, alias="HERALD_FAILOVER_ENABLED")
    failover_threshold: int = Field(5, alias="HERALD_FAILOVER_THRESHOLD", ge=1)
    failover_probe_seconds: int = Field(30, alias="HERALD_FAILOVER_PROBE_SECONDS", ge=1)


class SendEmailSettings(SenderSettings, _UnsubscribeSetting):
    function: ClassVar[str] = "send-email"

    # The webhooks HTTP API's base URL, where one-click unsubscribe links point (/unsubscribe/<token>).
    # Unset: emails carry no List-Unsubscribe (only a deployment without the API, such as a benchmark).
    webhooks_base_url: str | None = Field(None, alias="HERALD_WEBHOOKS_BASE_URL")

    # Where the credentials live (a Secrets Manager secret id), never the secret itself.
    sendgrid_secret_id: str = Field("herald/sendgrid", alias="HERALD_SENDGRID_SECRET_ID")
    # Optional endpoint override: the local runtime points the SDK at its stand-in.
    sendgrid_api_host: str | None = Field(None, alias="HERALD_SENDGRID_API_HOST")
    ses_configuration_set: str | None = Field(None, alias="HERALD_SES_CONFIGURATION_SET")


class SendSmsSettings(SenderSettings):
    function: ClassVar[str] = "send-sms"

    twilio_secret_id: str = Field("herald/twilio", alias="HERALD_TWILIO_SECRET_ID")
    twilio_api_base_url: str | None = Field(None, alias="HERALD_TWILIO_API_BASE_URL")
    # Where Twilio posts status callbacks: the webhooks HTTP API's base URL (the SMS sender appends
    # /webhooks/twilio/status?source=..&event_id=..&order_id=..). Unset: Twilio sends no status callbacks.
    webhooks_base_url: str | None = Field(None, alias="HERALD_WEBHOOKS_BASE_URL")
    sns_sender_id: str | None = Field(None, alias="HERALD_SNS_SENDER_ID")
    sns_origination_number: str | None = Field(None, alias="HERALD_SNS_ORIGINATION_NUMBER")


class WebhooksSettings(FunctionSettings, _FollowUpQueueSetting, _StoreSetting, _UnsubscribeSetting):
    function: ClassVar[str] = "webhooks"

    twilio_secret_id: str = Field("herald/twilio", alias="HERALD_TWILIO_SECRET_ID")
    # The SendGrid Event Webhook's verification key: a secret {"public_key": "<base64 DER>"}.
    sendgrid_webhook_secret_id: str = Field("herald/sendgrid-webhook", alias="HERALD_SENDGRID_WEBHOOK_SECRET_ID")
    # How far a signed webhook's timestamp may be from now before the request is refused as stale.
    webhook_tolerance_seconds: int = Field(300, alias="HERALD_WEBHOOK_TOLERANCE_SECONDS", ge=1, le=86_400)
    # Inbound SMS keywords (STOP/START/HELP): which storefront (source) each receiving Twilio number belongs to,
    # as JSON {"+15005550006": "storefront/acme"}; a number not listed belongs to HERALD_DEFAULT_SOURCE, and
    # with neither, STOP holds for every storefront.
    sms_source_by_number: Json[dict[str, str]] = Field(default_factory=dict, alias="HERALD_SMS_SOURCE_BY_NUMBER")
    default_source: str | None = Field(None, alias="HERALD_DEFAULT_SOURCE")
    # The answer to HELP; {store} is replaced by the store name. Unset: domain.suppression.DEFAULT_HELP_TEXT.
    sms_help_text: str | None = Field(None, alias="HERALD_SMS_HELP_TEXT")


class FollowUpSettings(FunctionSettings, _ChannelQueuesSetting):
    function: ClassVar[str] = "follow-up"


class TimelineSettings(FunctionSettings):
    function: ClassVar[str] = "timeline"

    # The operators' IAM unique ids (AIDA..., AROA...), comma-separated: they read every storefront's orders.
    # Every other caller reads only the storefronts whose registry entries list it as a publisher.
    operator_ids_text: str = Field("", alias="HERALD_TIMELINE_OPERATOR_IDS")

    @property
    def operator_ids(self) -> list[str]:
        return _id_list(self.operator_ids_text)


class IntakeSettings(FunctionSettings, _EventQueuesSetting):
    """The intake functions: the platforms' webhooks over HTTPS, and Shopify's events through EventBridge."""

    function: ClassVar[str] = "intake"

    order_events_queue_url: str = Field(alias="HERALD_ORDER_EVENTS_QUEUE_URL")
    shipment_events_queue_url: str = Field(alias="HERALD_SHIPMENT_EVENTS_QUEUE_URL")


class LateDeliverySettings(FunctionSettings):
    """The late-delivery function: runs the checks Scheduler delivers, publishes the notices on the shipment queue."""

    function: ClassVar[str] = "late-delivery"

    shipment_events_queue_url: str = Field(alias="HERALD_SHIPMENT_EVENTS_QUEUE_URL")


class OutboundQueueSetting(BaseModel):
    """For a function that tells storefronts something (the order page's answers): mix into its settings and
    build adapters.sqs_outbound.SqsOutboundEvents on the URL. Unset: that function publishes no outbound events."""

    model_config = _DEFERRED
    outbound_webhooks_queue_url: str | None = Field(None, alias="HERALD_OUTBOUND_WEBHOOKS_QUEUE_URL")


class OrderPageSettings(FunctionSettings, _OrderPageSetting, OutboundQueueSetting):
    function: ClassVar[str] = "order-page"

    # Where Herald keeps the proof photos it serves (fetched once from the carrier). Unset: no photo is shown.
    photos_bucket: str | None = Field(None, alias="HERALD_PROOF_PHOTOS_BUCKET")
    # Where a return started on the page is published as a Herald return.requested event, for dispatch to send the
    # customer's confirmation. Unset: the storefront is told, the customer gets no confirmation email.
    order_events_queue_url: str | None = Field(None, alias="HERALD_ORDER_EVENTS_QUEUE_URL")


class OutboundWebhooksSettings(FunctionSettings):
    """The outbound-webhooks function: delivers outbound events to each storefront's webhook URL and bus."""

    function: ClassVar[str] = "outbound-webhooks"

    # The queue's maxReceiveCount: the attempt that reaches it is the last one (then SQS parks it in the DLQ).
    max_receive_count: int = Field(5, alias="HERALD_MAX_RECEIVE_COUNT", ge=1)
    # 60 s doubling up to an hour (docs/outbound-webhooks.md): OutboundWebhooksMaxReceiveCount's 12 attempts span
    # about six hours of a storefront's outage.
    retry_base_seconds: int = Field(60, alias="HERALD_RETRY_BASE_SECONDS", ge=0)
    retry_max_seconds: int = Field(3600, alias="HERALD_RETRY_MAX_SECONDS", ge=0, le=43_200)
    # Short: a storefront that is slow to answer is retried later, never waited for (the batch shares the timeout).
    webhook_timeout_seconds: float = Field(5.0, alias="HERALD_OUTBOUND_TIMEOUT_SECONDS", gt=0, le=10)
