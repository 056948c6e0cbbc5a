"""Delivery states a provider reports for a sent notification, and the rank that orders them.

The send pipeline's `status` (pending -> sending -> sent) says what Herald did; the delivery state says what
the provider saw afterwards. Callbacks arrive repeated and out of order (SendGrid batches events, Twilio
retries), so a state is only ever replaced by one of higher rank: `deferred` after `delivered` is recorded
in the history but never becomes the state. Terminal states share the top rank, so the first terminal
report wins and a later, contradictory one stays in the history for an operator to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from herald.domain.masking import mask_text
from herald.domain.notification import Channel


class DeliveryState(StrEnum):
    # email (SendGrid Event Webhook)
    ACCEPTED = "accepted"  # processed: SendGrid took it and will try to deliver it
    DEFERRED = "deferred"  # the receiving server asked SendGrid to try again later
    BOUNCED = "bounced"  # the receiving server rejected it permanently
    BLOCKED = "blocked"  # a bounce of type "blocked": rejected for now (reputation, content, policy)
    DROPPED = "dropped"  # SendGrid never tried (address on a suppression list, invalid, ...)
    # SMS (Twilio status callbacks)
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"  # handed to the carrier
    UNDELIVERED = "undelivered"  # the carrier reported it could not deliver (ErrorCode says why)
    FAILED = "failed"  # Twilio could not send it at all (ErrorCode says why)
    CANCELED = "canceled"  # a scheduled message cancelled before sending
    # both channels
    DELIVERED = "delivered"


TERMINAL_RANK = 100

RANKS: dict[DeliveryState, int] = {
    DeliveryState.ACCEPTED: 10,
    DeliveryState.DEFERRED: 20,
    DeliveryState.QUEUED: 10,
    DeliveryState.SENDING: 15,
    DeliveryState.SENT: 20,
    **{
        state: TERMINAL_RANK
        for state in (
            DeliveryState.DELIVERED,
            DeliveryState.BOUNCED,
            DeliveryState.BLOCKED,
            DeliveryState.DROPPED,
            DeliveryState.UNDELIVERED,
            DeliveryState.FAILED,
            DeliveryState.CANCELED,
        )
    },
}

FAILED_DELIVERY = frozenset(
    {
        DeliveryState.BOUNCED,
        DeliveryState.BLOCKED,
        DeliveryState.DROPPED,
        DeliveryState.UNDELIVERED,
        DeliveryState.FAILED,
    }
)
"""Terminal states in which the customer did not get the message (what channel fallback reacts to)."""


def rank(state: DeliveryState) -> int:
    return RANKS[state]


def is_terminal(state: DeliveryState) -> bool:
    return RANKS[state] >= TERMINAL_RANK


class OptOutSignal(StrEnum):
    """What a SendGrid event says about the recipient's wishes: the input of suppression (issue 3, section 2)."""

    SPAM_REPORT = "spamreport"
    UNSUBSCRIBE = "unsubscribe"
    GROUP_UNSUBSCRIBE = "group_unsubscribe"
    GROUP_RESUBSCRIBE = "group_resubscribe"


@dataclass(frozen=True)
class ProviderStatus:
    """One provider report about one message, normalised.

    `state` is None for a report that says nothing about delivery (an unknown event type); it is still kept
    in the history. `event_key` identifies the report itself, so that the same report seen twice is recorded
    once.
    """

    channel: Channel
    provider: str
    event: str  # the provider's own name for it: "bounce", "delivered", "undelivered", ...
    event_key: str
    state: DeliveryState | None
    occurred_at: int | None = None  # epoch seconds, when the provider says it happened
    error_code: str | None = None
    reason: str | None = None
    opt_out: OptOutSignal | None = None
    # The address or number the report is about (SendGrid's `email`), for suppression; never in the history.
    recipient: str | None = None

    def history_entry(self, received_at: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"event": self.event, "provider": self.provider, "received_at": received_at}
        if self.state is not None:
            entry["state"] = self.state.value
        if self.occurred_at is not None:
            entry["occurred_at"] = self.occurred_at
        if self.error_code:
            entry["error_code"] = self.error_code
        if self.reason:
            entry["reason"] = self.reason[:300]
        return entry


# --- SendGrid ---------------------------------------------------------------------------------------

# Engagement and opt-out events happen only to a message that arrived: each implies "delivered" (so a lost
# `delivered` event does not leave a read message looking undelivered).
_SENDGRID_EVENTS: dict[str, DeliveryState | None] = {
    "processed": DeliveryState.ACCEPTED,
    "deferred": DeliveryState.DEFERRED,
    "delivered": DeliveryState.DELIVERED,
    "bounce": DeliveryState.BOUNCED,
    "dropped": DeliveryState.DROPPED,
    "open": DeliveryState.DELIVERED,
    "click": DeliveryState.DELIVERED,
    "spamreport": DeliveryState.DELIVERED,
    "unsubscribe": DeliveryState.DELIVERED,
    "group_unsubscribe": DeliveryState.DELIVERED,
    "group_resubscribe": DeliveryState.DELIVERED,
}


def sendgrid_status(event: dict[str, Any]) -> ProviderStatus:
    """Normalise one SendGrid Event Webhook event (one element of the posted JSON array)."""
    name = str(event.get("event", ""))
    state = _SENDGRID_EVENTS.get(name)
    if name == "bounce" and event.get("type") == "blocked":
        state = DeliveryState.BLOCKED
    opt_out = OptOutSignal(name) if name in {signal.value for signal in OptOutSignal} else None
    reason = event.get("reason") or event.get("response")
    code = event.get("status")  # the SMTP enhanced status code of a bounce or drop, e.g. "5.0.0"
    # sg_event_id is unique per event; without it, the event's own content identifies it.
    key = event.get("sg_event_id") or f"{name}:{event.get('sg_message_id')}:{event.get('timestamp')}"
    timestamp = event.get("timestamp")
    return ProviderStatus(
        channel=Channel.EMAIL,
        provider="sendgrid",
        event=name or "unknown",
        event_key=f"sendgrid:{key}",
        state=state,
        occurred_at=int(timestamp) if isinstance(timestamp, int | float) else None,
        error_code=str(code) if code else None,
        # Free text from the provider (an SMTP reply quotes the address): masked before it is stored anywhere.
        reason=mask_text(str(reason)) if reason else None,
        opt_out=opt_out,
        recipient=str(event["email"]) if isinstance(event.get("email"), str) and event["email"] else None,
    )


def sendgrid_message_ids(sg_message_id: str) -> list[str]:
    """The X-Message-Id values an event's sg_message_id may stand for, most likely first.

    SendGrid appends `.filter...` (or `.recv...`) routing parts to the X-Message-Id it answered the send with:
    `LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-...` belongs to `LRzXl_NHStOGhQ4kofSm_A`. Older ids contain
    dots themselves (`14c5d75ce93.dfd.64b469.filter0001...`), so the part before `.filter` comes first.
    """
    candidates = []
    for marker in (".filter", ".recv"):
        if marker in sg_message_id:
            candidates.append(sg_message_id.split(marker, 1)[0])
    candidates.append(sg_message_id.split(".", 1)[0])
    candidates.append(sg_message_id)
    return [c for i, c in enumerate(candidates) if c and c not in candidates[:i]]


# --- Twilio -----------------------------------------------------------------------------------------

_TWILIO_STATUSES: dict[str, DeliveryState] = {
    "accepted": DeliveryState.QUEUED,
    "scheduled": DeliveryState.QUEUED,
    "queued": DeliveryState.QUEUED,
    "sending": DeliveryState.SENDING,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,  # WhatsApp/RCS read receipts come after delivery
    "partially_delivered": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.UNDELIVERED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.CANCELED,
}


def twilio_status(params: dict[str, str]) -> ProviderStatus:
    """Normalise one Twilio Messaging status callback (its form fields)."""
    name = params.get("MessageStatus") or params.get("SmsStatus") or ""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    error_code = params.get("ErrorCode") or None
    return ProviderStatus(
        channel=Channel.SMS,
        provider="twilio",
        event=name or "unknown",
        # Twilio sends one callback per status change: (message, status) identifies it.
        event_key=f"twilio:{sid}:{name}",
        state=_TWILIO_STATUSES.get(name),
        error_code=error_code,
        reason=mask_text(params["ErrorMessage"]) if params.get("ErrorMessage") else None,
    )
