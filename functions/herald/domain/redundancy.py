"""Redundancy rules: when a notification counts as not reaching the customer, and what Herald does about it.

Two mechanisms, both decided here and carried out by the follow-up function:
- channel fallback: a channel reported as failed (email bounced, blocked or dropped; SMS undelivered or failed;
  or the provider refused the message outright) sends the event's standby channel, if it has one;
- deadline escalation: an event of a type whose policy says `escalate_at_deadline` (domain.policy: the order
  confirmation) that no channel reported delivered within the deadline is sent once more through each channel's
  secondary provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from herald.domain.notification import ChannelMessage
from herald.domain.policy import policy_for

DEFAULT_DEADLINE_SECONDS = 600
# SQS DelaySeconds cannot exceed 15 minutes; the template's DeliveryDeadlineSeconds is bounded by it.
MAX_DEADLINE_SECONDS = 900

# Delivery states that say the channel did not reach the customer (domain.delivery_states.DeliveryState values).
FAILED_DELIVERY_STATES = frozenset({"bounced", "blocked", "dropped", "undelivered", "failed"})
# Notification states after which a channel will not reach the customer without an operator.
GAVE_UP_STATUSES = frozenset({"failed", "suppressed", "skipped"})


def escalated_at_deadline(event_type: str) -> bool:
    """Does an event of this type get a deadline check (and escalation when nothing confirmed it by then)?"""
    return policy_for(event_type).escalate_at_deadline


class FollowUpKind(StrEnum):
    FALLBACK = "fallback"  # a channel failed: send the standby channel
    DEADLINE = "deadline"  # the deadline passed: escalate what is not delivered


@dataclass(frozen=True)
class NotificationView:
    """What the follow-up rules need of one recorded notification of the event."""

    channel: str
    status: str
    delivery_status: str | None = None
    escalation: bool = False
    route_reason: str | None = None  # set when a secondary provider already sent it

    @property
    def delivered(self) -> bool:
        return self.delivery_status == "delivered"

    @property
    def failed(self) -> bool:
        return self.status in GAVE_UP_STATUSES or self.delivery_status in FAILED_DELIVERY_STATES


def delivered_on(notifications: Iterable[NotificationView]) -> str | None:
    """The channel that reported delivery, if any: the event needs no fallback and no escalation."""
    return next((n.channel for n in notifications if n.delivered), None)


def why_not_escalate(target: NotificationView, notifications: Iterable[NotificationView]) -> str | None:
    """Why `target` is not escalated at the deadline, or None when it must be."""
    views = list(notifications)
    channel = delivered_on(views)
    if channel is not None:
        return f"delivered by {channel}"
    if target.failed:
        return f"{target.channel} gave up ({target.delivery_status or target.status}): channel fallback applies"
    if target.route_reason:
        return f"already sent through the secondary provider ({target.route_reason})"
    if any(n.escalation and n.channel == target.channel for n in views):
        return "already escalated"
    return None


class FollowUpRequest(BaseModel):
    """The body of a message on the follow-up queue.

    FALLBACK: `channel` is the channel that failed and `reason` says how; the standby channel of the event is sent.
    DEADLINE: `message` is the notification to escalate (delayed on the queue until the deadline) if the event is
    still undelivered; carrying it spares storing every rendered message in the table.
    """

    model_config = ConfigDict(frozen=True)

    kind: FollowUpKind
    source: str
    order_id: str
    event_id: str
    channel: str
    reason: str
    message: ChannelMessage | None = None
