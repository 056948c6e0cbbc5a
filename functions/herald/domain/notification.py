"""A notification: one message on one channel for one event, and its life cycle."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import core_schema


class Channel(str):
    """A channel's name, as stored and as on the wire ("email", "sms").

    Channels are data, not an enum (domain.channel_registry describes each one), so the set can grow without
    touching the code that routes by channel. Only a defined name is a Channel, and each name has one instance:
    `Channel("sms") is Channel.SMS`, as with the enum this replaces.
    """

    __slots__ = ()
    _defined: ClassVar[dict[str, Channel]] = {}
    EMAIL: ClassVar[Channel]
    SMS: ClassVar[Channel]

    def __new__(cls, name: str) -> Channel:
        try:
            return cls._defined[name]
        except KeyError:
            raise ValueError(f"{name!r} is not a channel") from None

    @classmethod
    def define(cls, name: str) -> Channel:
        """The channel of that name, made known (once) so that messages and records naming it are valid."""
        if name not in cls._defined:
            cls._defined[name] = str.__new__(cls, name)
        return cls._defined[name]

    @property
    def value(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"Channel({str(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        # Validated from its name, written as its name: the wire format of the enum it replaces.
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


Channel.EMAIL = Channel.define("email")
Channel.SMS = Channel.define("sms")


class NotificationStatus(StrEnum):
    PENDING = "pending"  # recorded by dispatch, waiting on the channel queue
    SENDING = "sending"  # claimed by a sender: the provider call is in flight
    RETRYING = "retrying"  # a retryable provider error; the message comes back after a delay
    SENT = "sent"  # the provider accepted it (provider_message_id recorded)
    FAILED = "failed"  # a permanent provider error (error_code recorded); never retried
    DLQ = "dlq"  # retries exhausted; the message is parked in the channel's DLQ
    SKIPPED = "skipped"  # never queued: the customer cannot be reached on that channel (reason recorded)
    SUPPRESSED = "suppressed"  # never queued: the recipient opted out or is undeliverable (reason recorded)
    # Rendered and recorded, not queued: the fallback sent only if the event's other channel fails to deliver.
    STANDBY = "standby"


FINAL_STATUSES = frozenset({NotificationStatus.SENT, NotificationStatus.FAILED})

# A deadline escalation is recorded beside the notification it escalates, under the same key plus this last part:
# the ledger writes it, the timeline and the follow-up read it to tell an escalation from its original.
ESCALATION_PART = "escalation"


def notification_id(source: str, event_id: str, channel: Channel | str) -> str:
    """The identity `(source, event id, channel)` that is sent at most once."""
    return f"{source}|{event_id}|{Channel(channel).value}"


class EmailContent(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    html: str
    text: str
    from_email: str
    from_name: str | None = None
    reply_to: str | None = None
    # The one-click unsubscribe URL (RFC 8058) of a non-transactional email: set by the email sender just before
    # the provider call (usecases.unsubscribe), never by dispatch; the providers send it as List-Unsubscribe.
    list_unsubscribe: str | None = None
    # The locale the words were written in (the renderer's folder): the unsubscribe link carries it, so its page
    # speaks the email's language. None: an email rendered before it was recorded (the page reads en-US).
    locale: str | None = None


class SmsContent(BaseModel):
    model_config = ConfigDict(frozen=True)

    body: str
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]
    # The same message followed by domain.suppression.OPT_OUT_LINE, fitted to the same segment budget: what the
    # storefront's first SMS to a number sends (usecases.opt_out_notice). Absent in messages queued before it.
    opt_out_body: str | None = None
    opt_out_segments: int | None = None


class ChannelMessage(BaseModel):
    """The body of a message on a channel queue: everything a sender needs, pre-rendered.

    Rendering happens once, in dispatch, so a retry sends byte-for-byte the same message. The rendered content is
    under the field its channel names (domain.channel_registry): `email` or `sms`, the fields of the messages in
    flight since before channels were data; a channel added since carries its content under its own name, as an
    extra field (hence `extra="allow"`), read with `content`.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    notification_id: str
    channel: Channel
    source: str
    event_id: str
    event_type: str
    event_time: str  # RFC 3339: when the thing happened; the latency metric starts here
    order_id: str
    order_number: str
    to: str  # an email address or an E.164 phone number
    email: EmailContent | None = None
    sms: SmsContent | None = None
    # RFC 3339 (UTC): not to be sent before this time (an SMS held for the customer's quiet hours). Absent: now.
    not_before: str | None = None
    # A deadline escalation: the copy of a notification that no channel confirmed in time, sent once more
    # through the channel's secondary provider under its own identity (notification id suffixed "|escalation").
    escalation: bool = False

    def content(self, field: str) -> object | None:
        """The rendered content under `field`: a model for email and sms, the parsed JSON for a newer channel."""
        if field in type(self).model_fields:
            value: object | None = getattr(self, field)
            return value
        return (self.model_extra or {}).get(field)
