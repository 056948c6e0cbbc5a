"""What a translator returns: Herald events, shipment updates, or the reason a payload means nothing to send.

A carrier knows a parcel by its tracking number, not whom it belongs to: its translator returns `ShipmentUpdate`s,
which the intake joins to the shipment a storefront told Herald about (its order, its customer). Shopify knows the
customer: its translator returns the Herald events themselves (CloudEvents as dicts, validated by dispatch like any
other publisher's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from herald.contract.event_types import EventType
from herald.contract.models import DelayReason, ExceptionKind

Platform = Literal["shopify", "easypost", "aftership", "shippo", "onfleet"]
PLATFORMS: tuple[Platform, ...] = ("shopify", "easypost", "aftership", "shippo", "onfleet")

_Text = Annotated[str, Field(min_length=1, max_length=1000)]


class IntakeRefused(ValueError):
    """The payload cannot be read as what its platform documents (not JSON, a required field missing or of the
    wrong type): the reason says which, and nothing is recorded as an event."""


class DeliveryProof(BaseModel):
    """What a carrier or courier shows of a delivery: where, when, who took it, and the photos."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivered_at: AwareDatetime
    photo_urls: tuple[Annotated[str, Field(pattern=r"^https://\S{1,2000}$")], ...] = ()
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    location: _Text | None = None
    received_by: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class ShipmentUpdate(BaseModel):
    """One carrier report about one parcel, in Herald's words but without the customer.

    `event_type` is the Herald shipment type it becomes; None with `ignored_reason` when the status is one no
    customer needs to hear (a label was printed) or one Herald does not map (then the reason names it: an unmapped
    status is recorded, never guessed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    # The platform's id of this report (EasyPost Event id, AfterShip event_id, Onfleet task id + trigger, ...):
    # with the platform, the idempotency key of the Herald event it becomes.
    update_id: Annotated[str, Field(min_length=1, max_length=200)]
    carrier: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    # How the intake finds the shipment: a carrier knows the tracking number; Shopify's fulfillment events name
    # the fulfillment (the shipment's id in Herald) and no tracking number. At least one is set.
    tracking_number: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    shipment_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    order_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None  # when the platform names it
    tracking_url: Annotated[str, Field(pattern=r"^https?://\S{1,2000}$")] | None = None
    event_type: EventType | None
    ignored_reason: _Text | None = None
    status: Annotated[str, Field(min_length=1, max_length=100)]  # the platform's own status, as sent
    substatus: Annotated[str, Field(max_length=200)] | None = None
    occurred_at: AwareDatetime
    message: _Text | None = None  # the carrier's own words for the scan
    estimated_delivery: AwareDatetime | date | None = None
    # The estimate this report replaces, when the platform says (EasyPost's previous_attributes): with
    # `estimated_delivery`, a revision the intake can compare with what the customer was told.
    previous_estimated_delivery: AwareDatetime | date | None = None
    # True when the report is only a new estimate (AfterShip `edd_revise`): event_type is shipment.delayed, and
    # the intake sends it only if the new estimate is later than the one the customer was told.
    revises_estimate: bool = False
    delay_reason: DelayReason | None = None  # for shipment.delayed
    exception_kind: ExceptionKind | None = None  # for shipment.exception
    attempt_reason: _Text | None = None  # for shipment.delivery_attempted
    proof: DeliveryProof | None = None  # for shipment.delivered

    @model_validator(mode="after")
    def _findable(self) -> Self:
        if self.tracking_number is None and self.shipment_id is None:
            raise ValueError("a shipment update needs a tracking_number or a shipment_id to find its shipment")
        if (self.event_type is None) == (self.ignored_reason is None):
            raise ValueError("a shipment update has an event_type, or an ignored_reason and no event_type")
        return self


class OrderUpdate(BaseModel):
    """A platform report about an order that does not carry the customer (a Shopify return, refund, hold or
    fulfillment names the order by id): the intake adds the order, customer and store blocks recorded when the
    order was placed, and publishes the Herald event.

    `data` holds the type's own blocks as the contract names them (`return`, `backorder`, `shipment`,
    `cancellation`, ...), without `order`, `customer` and `store`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    update_id: Annotated[str, Field(min_length=1, max_length=200)]
    order_id: Annotated[str, Field(min_length=1, max_length=200)]  # as the order.placed event's data.order.id
    event_type: EventType
    occurred_at: AwareDatetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Translation:
    """What one platform payload becomes: complete Herald events (CloudEvents as dicts), order updates and
    shipment updates still to be joined to what Herald knows; all empty with `ignored` naming why (a topic or
    status Herald has nothing to say about)."""

    events: tuple[dict[str, Any], ...] = ()
    order_updates: tuple[OrderUpdate, ...] = ()
    updates: tuple[ShipmentUpdate, ...] = ()
    ignored: tuple[str, ...] = field(default=())
