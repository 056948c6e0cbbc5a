"""What Herald does with each event type: one policy entry per type, the only table keyed by event type.

Every rule that depends on the type reads its entry here: the channels sent first (domain.channels), whether an SMS
may wait out quiet hours (domain.quiet_hours), whether an undelivered event is escalated at the deadline
(domain.redundancy), whether a marketing opt-out stops it (domain.suppression), the parcel state it moves to
(domain.shipment_states), the link it leads with (rendering.links) and its templates folder (rendering.renderer).
Adding an event type is its model (contract), its entry here, its templates and its sample in events/;
tests/unit/test_policy.py fails when one of them is missing.

Only the light event-type enum is imported: the senders, the webhooks and the follow-up function read these rules
with event types as strings and never load the contract models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from herald.contract.event_types import EventType
from herald.domain.notification import Channel
from herald.domain.shipment_states import ShipmentState


class Urgency(StrEnum):
    """Whether an SMS of the type may be held until the customer's morning (domain.quiet_hours)."""

    NEVER_HELD = "never_held"  # the customer is waiting for it now, whatever the storefront marks
    URGENT = "urgent"  # sent now unless the storefront marks the event `notify.non_urgent`
    NON_URGENT = "non_urgent"  # held in the customer's night by nature


class KeyLink(StrEnum):
    """The link a notification is built around; each falls back to the order status page (rendering.links)."""

    ORDER_STATUS = "order_status"
    TRACKING = "tracking"
    DELIVERY_PHOTO = "delivery_photo"  # the proof-of-delivery photo, else tracking
    RETURN_LABEL = "return_label"  # the return label, else the returns portal
    RETURNS_PORTAL = "returns_portal"


@dataclass(frozen=True)
class ShipmentStep:
    """The state a shipment status moves a parcel to (domain.shipment_states holds which follow which)."""

    state: ShipmentState


@dataclass(frozen=True)
class EventPolicy:
    """Everything Herald decides from an event's type."""

    default_channels: frozenset[Channel]  # sent first when the storefront names none (docs/contract.md)
    urgency: Urgency
    key_link: KeyLink
    # The record of a purchase (what was paid, that it was cancelled, that money came back): a marketing-style
    # opt-out (unsubscribe, spam report) does not stop it; STOP and a hard bounce still do (domain.suppression).
    transactional: bool = False
    # "An order confirmation is done only when one channel reports delivery" (issue 3): escalated through the
    # secondary providers when no channel confirmed it by the deadline (domain.redundancy).
    escalate_at_deadline: bool = False
    # The channels not sent first are rendered and kept in standby, sent if a sent channel fails (channel fallback).
    fallback: bool = True
    shipment: ShipmentStep | None = None  # set for the shipment.* types only
    templates: str = ""  # the folder under templates/<locale>/ (the registry sets the type's name)


_EMAIL_AND_SMS = frozenset({Channel.EMAIL, Channel.SMS})
_EMAIL_ONLY = frozenset({Channel.EMAIL})

_POLICIES: dict[EventType, EventPolicy] = {
    EventType.ORDER_PLACED: EventPolicy(
        _EMAIL_AND_SMS,
        Urgency.NEVER_HELD,
        KeyLink.ORDER_STATUS,
        transactional=True,
        escalate_at_deadline=True,
    ),
    EventType.ORDER_BACKORDERED: EventPolicy(_EMAIL_AND_SMS, Urgency.URGENT, KeyLink.ORDER_STATUS),
    EventType.ORDER_CANCELLED: EventPolicy(_EMAIL_AND_SMS, Urgency.URGENT, KeyLink.ORDER_STATUS, transactional=True),
    EventType.SHIPMENT_CREATED: EventPolicy(
        _EMAIL_AND_SMS, Urgency.URGENT, KeyLink.TRACKING, shipment=ShipmentStep(ShipmentState.CREATED)
    ),
    # Scans arrive many times a day: email only (domain.shipment_states notifies only the first).
    EventType.SHIPMENT_IN_TRANSIT: EventPolicy(
        _EMAIL_ONLY, Urgency.NON_URGENT, KeyLink.TRACKING, shipment=ShipmentStep(ShipmentState.IN_TRANSIT)
    ),
    EventType.SHIPMENT_DELAYED: EventPolicy(
        _EMAIL_AND_SMS, Urgency.URGENT, KeyLink.TRACKING, shipment=ShipmentStep(ShipmentState.DELAYED)
    ),
    EventType.SHIPMENT_OUT_FOR_DELIVERY: EventPolicy(
        _EMAIL_AND_SMS, Urgency.NEVER_HELD, KeyLink.TRACKING, shipment=ShipmentStep(ShipmentState.OUT_FOR_DELIVERY)
    ),
    EventType.SHIPMENT_DELIVERY_ATTEMPTED: EventPolicy(
        _EMAIL_AND_SMS, Urgency.NEVER_HELD, KeyLink.TRACKING, shipment=ShipmentStep(ShipmentState.DELIVERY_ATTEMPTED)
    ),
    EventType.SHIPMENT_DELIVERED: EventPolicy(
        _EMAIL_AND_SMS, Urgency.NEVER_HELD, KeyLink.DELIVERY_PHOTO, shipment=ShipmentStep(ShipmentState.DELIVERED)
    ),
    EventType.SHIPMENT_EXCEPTION: EventPolicy(
        _EMAIL_AND_SMS, Urgency.NEVER_HELD, KeyLink.TRACKING, shipment=ShipmentStep(ShipmentState.EXCEPTION)
    ),
    # Non-urgent by nature (issue 3, section 4): a return the customer just asked for or handed in.
    EventType.RETURN_REQUESTED: EventPolicy(_EMAIL_ONLY, Urgency.NON_URGENT, KeyLink.RETURNS_PORTAL),
    EventType.RETURN_APPROVED: EventPolicy(_EMAIL_AND_SMS, Urgency.URGENT, KeyLink.RETURN_LABEL),
    EventType.RETURN_RECEIVED: EventPolicy(_EMAIL_ONLY, Urgency.NON_URGENT, KeyLink.RETURNS_PORTAL),
    EventType.RETURN_REFUNDED: EventPolicy(_EMAIL_AND_SMS, Urgency.URGENT, KeyLink.RETURNS_PORTAL, transactional=True),
    # A declined return changes what the customer does next (keep the item, ask support, send it elsewhere) and
    # the return window may be running out: told on both channels now, as an approval is. Not NEVER_HELD: nothing
    # is at the door, so the storefront may still mark it non_urgent.
    EventType.RETURN_DECLINED: EventPolicy(_EMAIL_AND_SMS, Urgency.URGENT, KeyLink.RETURNS_PORTAL),
    # A closed return is bookkeeping: the refund or the decline was already told. Email only, held at night.
    EventType.RETURN_CLOSED: EventPolicy(_EMAIL_ONLY, Urgency.NON_URGENT, KeyLink.RETURNS_PORTAL),
}
# Each type's templates are in the folder of its name: said once here rather than in every entry.
POLICIES: Mapping[EventType, EventPolicy] = MappingProxyType(
    {t: policy if policy.templates else replace(policy, templates=t.value) for t, policy in _POLICIES.items()}
)


def policy_for(event_type: EventType | str) -> EventPolicy:
    """The policy of a type, given as the enum or as its wire name (the functions that do not parse events).

    Raises ValueError for a name that is not a contract type, KeyError for a type without an entry (which
    tests/unit/test_policy.py keeps from ever shipping).
    """
    return POLICIES[EventType(event_type)]
