"""Dispatch's half of the order page: the page link each event's messages carry, recorded so the page opens it.

Recording it (the token, the order, what the page shows of the order) is one write per event; the latest event's
order block wins, and each write renews the link's expiry (usecases.order_page is the page's half).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from herald.domain.order_page import page_token, page_url
from herald.usecases.ports import OrderPageRecord, OrderPageStore

if TYPE_CHECKING:
    from herald.contract.models import Envelope


class OrderPageLinks:
    """Dispatch's half: the page link of an event's order, recorded so the page can open it."""

    def __init__(
        self,
        pages: OrderPageStore,
        keys: Callable[[], list[str] | None],
        base_url: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pages = pages
        # Read per event: the secret is cached by Powertools, so a rotation is picked up. None when the key cannot
        # be read: the messages then go without the link (the caller logs and counts why), since telling the
        # customer matters more than linking the page.
        self._keys = keys
        self._base_url = base_url
        self._clock = clock

    def link(self, event: Envelope) -> str | None:
        from herald.contract.models import event_data

        keys = self._keys()
        if not keys:
            return None
        data = event_data(event)
        token = page_token(keys[0], event.source, data.order.id)
        blocks: dict[str, Any] = {
            "order": data.order.model_dump(mode="json", exclude_none=True),
            # How to speak to the customer, never how to reach them.
            "customer": data.customer.model_dump(mode="json", include={"locale", "timezone"}, exclude_none=True),
        }
        if data.store is not None:
            blocks["store"] = data.store.model_dump(mode="json", exclude_none=True)
        self._pages.record_page(token, OrderPageRecord(event.source, data.order.id, blocks), self._clock())
        return page_url(self._base_url, token)
