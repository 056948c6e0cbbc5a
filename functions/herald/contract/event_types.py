"""The event types of the contract, apart from the pydantic models.

Kept in a module of their own so that what decides per type (domain.policy) can be read by the functions that
never parse an event (the senders, the webhooks, the follow-up function) without loading the contract models.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_BACKORDERED = "order.backordered"
    ORDER_CANCELLED = "order.cancelled"
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_IN_TRANSIT = "shipment.in_transit"
    SHIPMENT_DELAYED = "shipment.delayed"
    SHIPMENT_OUT_FOR_DELIVERY = "shipment.out_for_delivery"
    SHIPMENT_DELIVERY_ATTEMPTED = "shipment.delivery_attempted"
    SHIPMENT_DELIVERED = "shipment.delivered"
    SHIPMENT_EXCEPTION = "shipment.exception"
    RETURN_REQUESTED = "return.requested"
    RETURN_APPROVED = "return.approved"
    RETURN_RECEIVED = "return.received"
    RETURN_REFUNDED = "return.refunded"
    # Added 2026-12-02 (issue 10): a platform that decides returns (Shopify) tells these too.
    RETURN_DECLINED = "return.declined"
    RETURN_CLOSED = "return.closed"

    @property
    def family(self) -> str:
        """`order`, `shipment` or `return`: decides the queue and the shared data blocks."""
        return self.value.split(".", 1)[0]
