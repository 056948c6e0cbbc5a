"""The Herald event contract, version 1 (docs/contract.md), as pydantic models.

These models are the public interface storefronts publish against. They may only grow
in backward-compatible ways: `schemas/` holds the JSON Schema generated from them and
tests/unit/test_schema_compatibility.py fails on an incompatible change.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from herald.contract.event_types import EventType
from herald.contract.sources import RESERVED_SOURCES

MAX_EVENT_BYTES = 64 * 1024
"""An event larger than this is rejected: SQS allows 256 KiB, but no honest order event needs it."""

MAX_FUTURE_SKEW = timedelta(hours=24)
"""How far ahead of Herald's clock an event's `time` may be: a storefront's clock may be wrong by minutes, and
a shipment's loops (domain.shipment_states) are ordered by `time`; an event "from 2099" is refused
(contract.parsing)."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
DecimalString = Annotated[str, StringConstraints(pattern=r"^-?\d{1,12}(\.\d{1,4})?$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", to_upper=True)]
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]


# The published schemas say what the validators below check, so a producer's schema validation answers as dispatch
# does (tests/unit/test_schema_parity.py). Schema-only keywords: the runtime checks stay the validators.
HTTPS_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]://"
NON_BLANK = r"\S"
# An address as Customer._email_shape reads it, after stripping: a non-empty local part, the last `@`, a domain
# with a dot; none of , ; < > " ( ) [ ] \ nor ASCII/Latin-1 control or space characters. Blank means absent.
_EMAIL_CHAR = r'[^\s\x00-\x1f\x7f-\x9f,;<>"()\[\]\\\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff'
EMAIL_PATTERN = rf"^\s*(?:{_EMAIL_CHAR}]+@{_EMAIL_CHAR}@]*\.{_EMAIL_CHAR}@]*)?\s*$"
_EMAIL_LIMITS = (
    "An email address: a local part, `@`, a domain with a dot; blank means absent. Herald also refuses other "
    "Unicode control, format and unassigned characters, which this pattern cannot name."
)
# A URL Herald leads customers to: https only (the validator `_https_only`).
HttpsUrl = Annotated[HttpUrl, Field(json_schema_extra={"pattern": HTTPS_URL_PATTERN})]


def _https_only(url: HttpUrl | None) -> HttpUrl | None:
    if url is not None and url.scheme != "https":
        raise ValueError("must be an https URL")
    return url


class ContractModel(BaseModel):
    """Base of every contract model: unknown fields are ignored so producers can add their own."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=2000)


# --- shared data blocks -------------------------------------------------------------------


class OrderItem(ContractModel):
    sku: ShortText
    name: ShortText
    quantity: int = Field(ge=1, le=100_000)
    unit_price: DecimalString | None = None
    image_url: HttpUrl | None = None


class Order(ContractModel):
    id: ShortText
    number: ShortText = Field(description='Display number such as "#1001".')
    placed_at: AwareDatetime | None = None
    currency: CurrencyCode | None = None
    total: DecimalString | None = None
    items: list[OrderItem] = Field(default_factory=list, max_length=250)
    status_url: HttpsUrl | None = None

    _https = field_validator("status_url")(_https_only)


class Customer(ContractModel):
    name: ShortText | None = None
    email: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=254),
            Field(json_schema_extra={"pattern": EMAIL_PATTERN, "description": _EMAIL_LIMITS}),
        ]
        | None
    ) = None
    # Only its length is checked here: dispatch reads it with the storefront's country rules (domain.phone), and a
    # number it cannot read drops the SMS channel, not the event.
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None

    # At least one contact that is not blank (`_reachable`), said to schema readers as anyOf.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string", "pattern": NON_BLANK}}}
                for name in ("email", "phone")
            ]
        }
    )
    sms_consent: bool = False
    locale: Locale = "en-US"
    timezone: ShortText | None = None
    country: CountryCode | None = Field(
        default=None, description="ISO 3166 alpha-2 country of the shipping address; reads national phones."
    )

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        # A full RFC 5322 check belongs to the provider; this refuses what can never be an
        # address and, above all, anything that could inject a header (CR/LF, commas, angle brackets).
        if value is None or value == "":
            return None
        local, sep, domain = value.rpartition("@")
        # Control and separator characters (NUL, VT, NEL, U+2028...) can never be delivered to; refuse them too.
        if (
            not sep
            or not local
            or "." not in domain
            or any(c in value for c in ',;<>"()[]\\')
            or any(unicodedata.category(c)[0] in {"C", "Z"} for c in value)
        ):
            raise ValueError("is not an email address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone_blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not self.email and not self.phone:
            raise ValueError("at least one of email or phone is required")
        return self


class Store(ContractModel):
    name: ShortText | None = None
    support_email: ShortText | None = None
    support_url: HttpsUrl | None = None
    logo_url: HttpsUrl | None = None

    _https = field_validator("support_url", "logo_url")(_https_only)


class ShipmentItem(ContractModel):
    sku: ShortText
    quantity: int = Field(ge=1, le=100_000)


class Shipment(ContractModel):
    id: ShortText
    carrier: ShortText
    tracking_number: ShortText
    tracking_url: HttpsUrl | None = None
    items: list[ShipmentItem] = Field(default_factory=list, max_length=250)
    estimated_delivery: AwareDatetime | date | None = None
    previous_estimated_delivery: AwareDatetime | date | None = None

    _https = field_validator("tracking_url")(_https_only)


class BackorderItem(ContractModel):
    sku: ShortText
    name: ShortText | None = None
    quantity: int | None = Field(default=None, ge=1)


class Backorder(ContractModel):
    items: list[BackorderItem] = Field(min_length=1, max_length=250)
    reason: LongText | None = None
    estimated_ship_date: AwareDatetime | date | None = None


class Cancellation(ContractModel):
    reason: LongText | None = None
    refund_amount: DecimalString | None = None


class DelayReason(StrEnum):
    WEATHER = "weather"
    CARRIER = "carrier"
    CUSTOMS = "customs"
    ADDRESS = "address"
    CAPACITY = "capacity"
    OTHER = "other"


class Delay(ContractModel):
    reason: DelayReason
    detail: LongText | None = None


class Attempt(ContractModel):
    reason: LongText | None = None
    next_attempt_at: AwareDatetime | None = None


class Proof(ContractModel):
    delivered_at: AwareDatetime
    photo_url: HttpsUrl | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    location: LongText | None = None
    received_by: ShortText | None = None

    _https = field_validator("photo_url")(_https_only)


class ExceptionKind(StrEnum):
    LOST = "lost"
    DAMAGED = "damaged"
    RETURNED_TO_SENDER = "returned_to_sender"
    ADDRESS_ISSUE = "address_issue"
    OTHER = "other"


class ShipmentException(ContractModel):
    kind: ExceptionKind
    detail: LongText | None = None


class ReturnItem(ContractModel):
    sku: ShortText
    name: ShortText | None = None
    quantity: int = Field(default=1, ge=1)


class Return(ContractModel):
    id: ShortText
    items: list[ReturnItem] = Field(default_factory=list, max_length=250)
    reason: LongText | None = None
    portal_url: HttpsUrl | None = None
    label_url: HttpsUrl | None = None
    refund_amount: DecimalString | None = None

    _https = field_validator("portal_url", "label_url")(_https_only)


class RefundedReturn(Return):
    refund_amount: DecimalString


# --- data per event type ------------------------------------------------------------------


class Notify(ContractModel):
    """How the storefront wants this event's notifications handled (optional; added in a compatible way)."""

    non_urgent: bool = Field(
        default=False,
        description="The SMS may wait: held during the customer's quiet hours (21:00-08:00 in customer.timezone).",
    )
    channels: list[Literal["email", "sms"]] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description=(
            "The channels to send first, instead of the type's defaults. Every other channel the customer can be "
            "reached on is kept in standby and sent only if these fail (bounced, blocked, dropped, undelivered)."
        ),
    )


class OrderData(ContractModel):
    order: Order
    customer: Customer
    store: Store | None = None
    notify: Notify | None = None


class BackorderedData(OrderData):
    backorder: Backorder


class CancelledData(OrderData):
    cancellation: Cancellation = Field(default_factory=Cancellation)


class ShipmentData(OrderData):
    shipment: Shipment


class DelayedData(ShipmentData):
    delay: Delay


class DeliveryAttemptedData(ShipmentData):
    attempt: Attempt = Field(default_factory=Attempt)


class DeliveredData(ShipmentData):
    proof: Proof


class ExceptionData(ShipmentData):
    exception: ShipmentException


class ReturnData(OrderData):
    return_: Return = Field(alias="return")

    model_config = ConfigDict(populate_by_name=True)


class RefundedData(ReturnData):
    return_: RefundedReturn = Field(alias="return")


# --- the CloudEvents 1.0 envelope -----------------------------------------------------------

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")]


class Envelope(ContractModel):
    """CloudEvents 1.0 structured-mode attributes shared by every Herald event."""

    specversion: Literal["1.0"]
    id: EventId
    source: Source
    type: EventType
    time: AwareDatetime = Field(
        description="When it happened, with its UTC offset. Herald rejects a time more than 24 h ahead of its own "
        "clock (contract.parsing): a bound relative to the reader's clock, which JSON Schema cannot express."
    )
    datacontenttype: Literal["application/json"] | None = None
    subject: LongText | None = None

    @field_validator("source")
    @classmethod
    def _uri_reference(cls, value: str) -> str:
        # CloudEvents asks for a URI-reference; AnyUrl is too strict for relative ones such
        # as "storefront/acme", so we accept any reference without whitespace or control chars.
        if any(ord(c) < 0x20 for c in value):
            raise ValueError("must be a URI-reference")
        # Not in the JSON Schema's pattern: the v1 schema stays as published (docs/decisions.md).
        if value in RESERVED_SOURCES:
            raise ValueError(f"{value!r} is reserved: it names every storefront in suppressions, never one publisher")
        return value

    @property
    def key(self) -> tuple[str, str]:
        """`(source, id)`: the idempotency key of the event."""
        return (self.source, self.id)


class OrderPlacedEvent(Envelope):
    """A `order.placed` event."""

    type: Literal[EventType.ORDER_PLACED]
    data: OrderData


class OrderBackorderedEvent(Envelope):
    """A `order.backordered` event."""

    type: Literal[EventType.ORDER_BACKORDERED]
    data: BackorderedData


class OrderCancelledEvent(Envelope):
    """A `order.cancelled` event."""

    type: Literal[EventType.ORDER_CANCELLED]
    data: CancelledData


class ShipmentCreatedEvent(Envelope):
    """A `shipment.created` event."""

    type: Literal[EventType.SHIPMENT_CREATED]
    data: ShipmentData


class ShipmentInTransitEvent(Envelope):
    """A `shipment.in_transit` event."""

    type: Literal[EventType.SHIPMENT_IN_TRANSIT]
    data: ShipmentData


class ShipmentDelayedEvent(Envelope):
    """A `shipment.delayed` event."""

    type: Literal[EventType.SHIPMENT_DELAYED]
    data: DelayedData


class ShipmentOutForDeliveryEvent(Envelope):
    """A `shipment.out_for_delivery` event."""

    type: Literal[EventType.SHIPMENT_OUT_FOR_DELIVERY]
    data: ShipmentData


class ShipmentDeliveryAttemptedEvent(Envelope):
    """A `shipment.delivery_attempted` event."""

    type: Literal[EventType.SHIPMENT_DELIVERY_ATTEMPTED]
    data: DeliveryAttemptedData


class ShipmentDeliveredEvent(Envelope):
    """A `shipment.delivered` event."""

    type: Literal[EventType.SHIPMENT_DELIVERED]
    data: DeliveredData


class ShipmentExceptionEvent(Envelope):
    """A `shipment.exception` event."""

    type: Literal[EventType.SHIPMENT_EXCEPTION]
    data: ExceptionData


class ReturnRequestedEvent(Envelope):
    """A `return.requested` event."""

    type: Literal[EventType.RETURN_REQUESTED]
    data: ReturnData


class ReturnApprovedEvent(Envelope):
    """A `return.approved` event."""

    type: Literal[EventType.RETURN_APPROVED]
    data: ReturnData


class ReturnReceivedEvent(Envelope):
    """A `return.received` event."""

    type: Literal[EventType.RETURN_RECEIVED]
    data: ReturnData


class ReturnRefundedEvent(Envelope):
    """A `return.refunded` event."""

    type: Literal[EventType.RETURN_REFUNDED]
    data: RefundedData


class ReturnDeclinedEvent(Envelope):
    """A `return.declined` event: `return.reason` says why, in the store's words."""

    type: Literal[EventType.RETURN_DECLINED]
    data: ReturnData


class ReturnClosedEvent(Envelope):
    """A `return.closed` event: the return is finished, nothing more will happen to it."""

    type: Literal[EventType.RETURN_CLOSED]
    data: ReturnData


DATA_MODELS: dict[EventType, type[OrderData]] = {
    EventType.ORDER_PLACED: OrderData,
    EventType.ORDER_BACKORDERED: BackorderedData,
    EventType.ORDER_CANCELLED: CancelledData,
    EventType.SHIPMENT_CREATED: ShipmentData,
    EventType.SHIPMENT_IN_TRANSIT: ShipmentData,
    EventType.SHIPMENT_DELAYED: DelayedData,
    EventType.SHIPMENT_OUT_FOR_DELIVERY: ShipmentData,
    EventType.SHIPMENT_DELIVERY_ATTEMPTED: DeliveryAttemptedData,
    EventType.SHIPMENT_DELIVERED: DeliveredData,
    EventType.SHIPMENT_EXCEPTION: ExceptionData,
    EventType.RETURN_REQUESTED: ReturnData,
    EventType.RETURN_APPROVED: ReturnData,
    EventType.RETURN_RECEIVED: ReturnData,
    EventType.RETURN_REFUNDED: RefundedData,
    EventType.RETURN_DECLINED: ReturnData,
    EventType.RETURN_CLOSED: ReturnData,
}

EVENT_MODELS: dict[EventType, type[Envelope]] = {
    EventType.ORDER_PLACED: OrderPlacedEvent,
    EventType.ORDER_BACKORDERED: OrderBackorderedEvent,
    EventType.ORDER_CANCELLED: OrderCancelledEvent,
    EventType.SHIPMENT_CREATED: ShipmentCreatedEvent,
    EventType.SHIPMENT_IN_TRANSIT: ShipmentInTransitEvent,
    EventType.SHIPMENT_DELAYED: ShipmentDelayedEvent,
    EventType.SHIPMENT_OUT_FOR_DELIVERY: ShipmentOutForDeliveryEvent,
    EventType.SHIPMENT_DELIVERY_ATTEMPTED: ShipmentDeliveryAttemptedEvent,
    EventType.SHIPMENT_DELIVERED: ShipmentDeliveredEvent,
    EventType.SHIPMENT_EXCEPTION: ShipmentExceptionEvent,
    EventType.RETURN_REQUESTED: ReturnRequestedEvent,
    EventType.RETURN_APPROVED: ReturnApprovedEvent,
    EventType.RETURN_RECEIVED: ReturnReceivedEvent,
    EventType.RETURN_REFUNDED: ReturnRefundedEvent,
    EventType.RETURN_DECLINED: ReturnDeclinedEvent,
    EventType.RETURN_CLOSED: ReturnClosedEvent,
}

HeraldEvent = Annotated[
    OrderPlacedEvent
    | OrderBackorderedEvent
    | OrderCancelledEvent
    | ShipmentCreatedEvent
    | ShipmentInTransitEvent
    | ShipmentDelayedEvent
    | ShipmentOutForDeliveryEvent
    | ShipmentDeliveryAttemptedEvent
    | ShipmentDeliveredEvent
    | ShipmentExceptionEvent
    | ReturnRequestedEvent
    | ReturnApprovedEvent
    | ReturnReceivedEvent
    | ReturnRefundedEvent
    | ReturnDeclinedEvent
    | ReturnClosedEvent,
    Field(discriminator="type"),
]

HERALD_EVENT_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(HeraldEvent)


def event_data(event: Envelope) -> OrderData:
    """The typed `data` block of a parsed event (every concrete event model carries one)."""
    data: OrderData = event.data  # type: ignore[attr-defined]
    return data
