"""Dispatch's half of the order page: the page link each event's messages carry, recorded so the page opens it.

Recording it (the token, the order, what the page shows of the order) is one write per event whose record changed
(dispatch skips it for a shipment event whose shipment's last event kept the same one, renewing it once a day); the
latest event's order block wins, and each write renews the link's expiry (usecases.order_page is the page's half).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
        """The page link of the event's order, recorded."""
        page = self.prepare(event)
        if page is None:
            return None
        self.record(page)
        return page.url

    def prepare(self, event: Envelope) -> PageLink | None:
        """The page link and the record that opens it, not yet written (None: the page key is unavailable)."""
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
        return PageLink(token, OrderPageRecord(event.source, data.order.id, blocks), page_url(self._base_url, token))

    def record(self, page: PageLink) -> None:
        """Write the record (dispatch skips it when the shipment's last event kept the same one)."""
        self._pages.record_page(page.token, page.record, self._clock())


@dataclass(frozen=True)
class PageLink:
    token: str
    record: OrderPageRecord
    url: str
