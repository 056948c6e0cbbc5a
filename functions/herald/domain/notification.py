"""A notification: one message on one channel for one event, and its life cycle."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


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

# A deadline escalation is recorded beside the notification it escalates, under the same key plus this suffix:
# the ledger writes it, the timeline and the follow-up read it to tell an escalation from its original.
ESCALATION_SUFFIX = "#escalation"


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


class SmsContent(BaseModel):
    model_config = ConfigDict(frozen=True)

    body: str
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]


class ChannelMessage(BaseModel):
    """The body of a message on the email or SMS queue: everything a sender needs, pre-rendered.

    Rendering happens once, in dispatch, so a retry sends byte-for-byte the same message.
    """

    model_config = ConfigDict(frozen=True)

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
