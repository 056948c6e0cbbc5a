"""Which channels an event goes to (docs/contract.md's table) and whether the customer can be reached on each."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from herald.contract.models import Customer, EventType
from herald.domain.notification import Channel
from herald.domain.phone import PhoneNotUsable, PhoneRule, to_e164

_EMAIL_AND_SMS = frozenset({Channel.EMAIL, Channel.SMS})
_EMAIL_ONLY = frozenset({Channel.EMAIL})

DEFAULT_CHANNELS: dict[EventType, frozenset[Channel]] = {
    EventType.ORDER_PLACED: _EMAIL_AND_SMS,
    EventType.ORDER_BACKORDERED: _EMAIL_AND_SMS,
    EventType.ORDER_CANCELLED: _EMAIL_AND_SMS,
    EventType.SHIPMENT_CREATED: _EMAIL_AND_SMS,
    # Scans arrive many times a day: email only, and only for the first one (see shipment ordering).
    EventType.SHIPMENT_IN_TRANSIT: _EMAIL_ONLY,
    EventType.SHIPMENT_DELAYED: _EMAIL_AND_SMS,
    EventType.SHIPMENT_OUT_FOR_DELIVERY: _EMAIL_AND_SMS,
    EventType.SHIPMENT_DELIVERY_ATTEMPTED: _EMAIL_AND_SMS,
    EventType.SHIPMENT_DELIVERED: _EMAIL_AND_SMS,
    EventType.SHIPMENT_EXCEPTION: _EMAIL_AND_SMS,
    EventType.RETURN_REQUESTED: _EMAIL_ONLY,
    EventType.RETURN_APPROVED: _EMAIL_AND_SMS,
    EventType.RETURN_RECEIVED: _EMAIL_ONLY,
    EventType.RETURN_REFUNDED: _EMAIL_AND_SMS,
}


@dataclass(frozen=True)
class ChannelDecision:
    """One channel for one event: where to send it, or why it is skipped."""

    channel: Channel
    recipient: str | None
    skipped_reason: str | None = None

    @property
    def send(self) -> bool:
        return self.recipient is not None


def choose_channels(
    event_type: EventType,
    customer: Customer,
    preferred: Collection[str] | None = None,
    *,
    phone: PhoneRule = to_e164,
) -> list[ChannelDecision]:
    """The channels to send first, each resolved against what the customer gave us.

    The storefront's `notify.channels` when it names some, else the type's defaults (docs/contract.md). When none of the
    preferred channels can reach the customer, the defaults are used instead: a preference must not silence an event.
    """
    if preferred:
        decisions = _resolve(frozenset(Channel(c) for c in preferred), customer, phone)
        if any(d.send for d in decisions):
            return decisions
    return _resolve(DEFAULT_CHANNELS[event_type], customer, phone)


def fallback_channels(
    customer: Customer, primary: Sequence[ChannelDecision], *, phone: PhoneRule = to_e164
) -> list[ChannelDecision]:
    """The channels not sent first that can still reach the customer: kept in standby for channel fallback.

    Unreachable ones are left out (there is nothing to fall back to), as is a channel already chosen.
    """
    chosen = {d.channel for d in primary}
    return [d for d in _resolve(frozenset(Channel) - chosen, customer, phone) if d.send]


def _resolve(channels: frozenset[Channel], customer: Customer, phone: PhoneRule) -> list[ChannelDecision]:
    decisions = []
    if Channel.EMAIL in channels:
        decisions.append(
            ChannelDecision(Channel.EMAIL, customer.email)
            if customer.email
            else ChannelDecision(Channel.EMAIL, None, "customer has no email address")
        )
    if Channel.SMS in channels:
        decisions.append(_sms_decision(customer, phone))
    return decisions


def _sms_decision(customer: Customer, phone: PhoneRule) -> ChannelDecision:
    if not customer.phone:
        return ChannelDecision(Channel.SMS, None, "customer has no phone number")
    if not customer.sms_consent:
        return ChannelDecision(Channel.SMS, None, "customer has not consented to SMS")
    try:
        return ChannelDecision(Channel.SMS, phone(customer.phone, customer.country))
    except PhoneNotUsable as exc:
        return ChannelDecision(Channel.SMS, None, str(exc))
