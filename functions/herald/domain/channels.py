"""Which channels an event goes to (its policy's defaults, docs/contract.md) and whether the customer can be reached
on each (each channel's entry in domain.channel_registry says how)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from herald.contract.models import Customer, EventType
from herald.domain.channel_registry import CHANNELS, ChannelSpec, ReachOptions, Unreachable
from herald.domain.notification import Channel

if TYPE_CHECKING:
    from herald.domain.phone import PhoneRule
from herald.domain.policy import policy_for


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
    phone: PhoneRule | None = None,
) -> list[ChannelDecision]:
    """The channels to send first, each resolved against what the customer gave us.

    The storefront's `notify.channels` when it names some, else the type's defaults (docs/contract.md). When none of the
    preferred channels can reach the customer, the defaults are used instead: a preference must not silence an event.
    """
    if preferred:
        decisions = _resolve(frozenset(Channel(c) for c in preferred), customer, phone)
        if any(d.send for d in decisions):
            return decisions
    return _resolve(policy_for(event_type).default_channels, customer, phone)


def fallback_channels(
    customer: Customer, primary: Sequence[ChannelDecision], *, phone: PhoneRule | None = None
) -> list[ChannelDecision]:
    """The channels not sent first that can still reach the customer: kept in standby for channel fallback.

    Unreachable ones are left out (there is nothing to fall back to), as is a channel already chosen.
    """
    chosen = {d.channel for d in primary}
    return [d for d in _resolve(frozenset(CHANNELS) - chosen, customer, phone) if d.send]


def _resolve(channels: frozenset[Channel], customer: Customer, phone: PhoneRule | None) -> list[ChannelDecision]:
    """One decision per channel in `channels`, in the registry's order."""
    options = ReachOptions(phone=phone)
    return [_reach(spec, customer, options) for channel, spec in CHANNELS.items() if channel in channels]


def _reach(spec: ChannelSpec, customer: Customer, options: ReachOptions) -> ChannelDecision:
    try:
        return ChannelDecision(spec.channel, spec.reach(customer, options))
    except Unreachable as exc:
        return ChannelDecision(spec.channel, None, str(exc))
