"""The customer's order page: the link every message carries, what the page shows, and the answers it takes.

Dispatch's half is usecases.order_page_links. The page function's half (OrderPages): a token
opens its order's page, built from what the ledger recorded of each step (every event item keeps its own blocks:
adapters.dynamodb_ledger.event_details), and the page's forms record the customer's answers about a delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from herald.contract.event_types import EventType
from herald.domain.locales import N_
from herald.domain.order_page import (
    DeliveryAnswer,
    DeliveryResponse,
    FormRefused,
    FormTokens,
    delivery_response,
    is_page_token,
)
from herald.domain.outbound import OutboundType, outbound_event, outbound_event_id
from herald.domain.returns import (
    RETURN_FORM,
    Returnable,
    ReturnReason,
    ReturnRequest,
    return_event_id,
    return_request,
    returnable_items,
    started_return_id,
)
from herald.usecases.ports import (
    EventPublisher,
    IntakeLinks,
    LinkKey,
    OrderPageRecord,
    OrderPageStore,
    OutboundEvents,
    Photo,
    PhotoCopies,
    PhotoFetcher,
    RecordedAnswer,
    StartedReturn,
    StorefrontDirectory,
)

if TYPE_CHECKING:
    from herald.domain.storefront import Storefront
    from herald.usecases.timeline import TimelineReader

# What a step's item status must be for the customer to have been told of it (a superseded repeat was not).
_TOLD = frozenset({"dispatched", "dispatching"})
_ANSWER_KINDS = {DeliveryAnswer.RECEIVED: "delivery_confirmed", DeliveryAnswer.NOT_RECEIVED: "delivery_disputed"}
_OUTBOUND_TYPES = {
    "delivery_confirmed": OutboundType.DELIVERY_CONFIRMED,
    "delivery_disputed": OutboundType.DELIVERY_DISPUTED,
}


@dataclass
class Step:
    event_type: str
    time: str
    estimate: str | None = None


@dataclass
class ShipmentView:
    id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    steps: list[Step] = field(default_factory=list)  # what the customer was told, oldest first
    estimates: list[str] = field(default_factory=list)  # every estimate given, oldest first (a delay shows)
    proof: dict[str, Any] | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    form_token: str | None = None  # the delivery form's token, when the shipment is delivered
    items: list[dict[str, Any]] = field(default_factory=list)  # what it holds (sku, quantity); none: the whole order

    @property
    def delivered(self) -> bool:
        return any(step.event_type == EventType.SHIPMENT_DELIVERED.value for step in self.steps)

    @property
    def status(self) -> str | None:
        return self.steps[-1].event_type if self.steps else None

    @property
    def current_estimate(self) -> str | None:
        return self.estimates[-1] if self.estimates and self.status != EventType.SHIPMENT_DELIVERED.value else None


@dataclass
class ReturnView:
    id: str
    state: str  # the latest return event's type
    items: list[dict[str, Any]]
    label_url: str | None = None
    refund_amount: str | None = None
    resolution: str | None = None  # refund or exchange, for a return the customer started on this page


@dataclass
class OrderPageView:
    token: str
    source: str
    order_id: str
    order: dict[str, Any]
    store: dict[str, Any]
    customer: dict[str, Any]
    storefront: Storefront | None
    shipments: list[ShipmentView]
    returns: list[ReturnView]
    started_returns: set[str] = field(default_factory=set)  # ids of the returns started on this page (recorded)
    returnable: list[Returnable] = field(default_factory=list)  # what the return form offers
    return_form_token: str | None = None  # the return form's token, when it is shown
    returns_portal_url: str | None = None  # the storefront's own returns portal: linked instead of the form


class AnswerOutcome(StrEnum):
    RECORDED = "recorded"
    DETAILS_NEEDED = "details_needed"  # "not received": ask what happened before recording
    REPLAYED = "replayed"  # this form was posted before: nothing recorded again


@dataclass(frozen=True)
class ReturnResult:
    outcome: AnswerOutcome  # RECORDED or REPLAYED
    view: OrderPageView
    request: ReturnRequest | None  # None for a replay (the form was not read again)
    return_id: str
    confirmation_sent: bool  # the customer's return.requested confirmation was queued (False: no contact known)


@dataclass(frozen=True)
class AnswerResult:
    outcome: AnswerOutcome
    view: OrderPageView
    response: DeliveryResponse
    form_token: str  # for the next form (the details form, or a new answer)


class OrderPages:
    """The page function's half: open a page by its token, record an answer about a delivery."""

    def __init__(
        self,
        pages: OrderPageStore,
        ledger: TimelineReader,
        storefronts: StorefrontDirectory,
        form_keys: Callable[[], list[str]],
        *,
        photos: PhotoCopies | None = None,
        fetcher: PhotoFetcher | None = None,
        outbound: OutboundEvents | None = None,
        links: IntakeLinks | None = None,
        events: EventPublisher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pages = pages
        self._ledger = ledger
        self._storefronts = storefronts
        self._form_keys = form_keys
        self._photos = photos  # None: a deployment without the photo bucket shows no photo
        self._fetcher = fetcher
        # The storefront hears of each answer (delivery.disputed, delivery.confirmed); None: a deployment without
        # outbound webhooks records the answer only.
        self._outbound = outbound
        # The customer's confirmation of a started return: a Herald return.requested event, built from the blocks
        # the intake's join keeps of the order (its customer's contact, which the page never holds), and put on the
        # order-events queue for dispatch to send like any event. None: the return is passed on, unconfirmed.
        self._links = links
        self._events = events
        self._clock = clock

    def view(self, token: str) -> OrderPageView | None:
        """The page of a live token, or None (never issued, expired, or not a token's shape: no lookup)."""
        if not is_page_token(token):
            return None
        page = self._pages.page(token, self._clock())
        if page is None:
            return None
        items = self._ledger.order_items(page.source, page.order_id)
        view = build_view(token, page, items, self._storefronts.get(page.source))
        forms = self._forms()
        for shipment in view.shipments:
            if shipment.proof is not None:
                shipment.form_token = forms.issue(token, _form_name(shipment.id), self._clock())
        outbound = view.storefront.outbound if view.storefront else None
        view.returns_portal_url = outbound.returns_portal_url if outbound else None
        view.returnable = _returnable(view)
        if view.returnable and view.returns_portal_url is None:
            view.return_form_token = forms.issue(token, RETURN_FORM, self._clock())
        return view

    def start_return(self, view: OrderPageView, pairs: list[tuple[str, str]]) -> ReturnResult:
        """Start the return the return form posted on the page `view` opened: tell the storefront, queue the
        customer's confirmation, record it on the timeline. Raises FormRefused for a bad form (nothing done)."""
        if view.returns_portal_url is not None:
            raise FormRefused(N_("returns for this order are made on the store's own returns page"))
        form_token = next((value for name, value in pairs if name == "form_token"), "")
        nonce = self._forms().verify(view.token, RETURN_FORM, form_token, self._clock())
        return_id = started_return_id(view.source, view.order_id, nonce)
        if return_id in view.started_returns:  # this very form was posted and recorded: nothing again
            return ReturnResult(AnswerOutcome.REPLAYED, view, None, return_id, False)
        # What this form may return, leaving out the return it would itself make (told, not yet recorded, when an
        # earlier post of it failed halfway): the customer's retry is not refused for its own items.
        request = return_request(pairs, _returnable(view, leaving_out=return_id))
        started = StartedReturn(
            return_id=return_id,
            items=[{"sku": line.sku, "name": line.name, "quantity": line.quantity} for line in request.lines],
            reason=request.reason.value,
            resolution=request.resolution.value,
            note=request.note,
        )
        # Told and confirmed before it is recorded, under ids made from the form's nonce (as an answer is): a
        # failure halfway leaves the form to post again, and the storefront and dispatch each dedupe the repeat.
        self._tell_storefront_of_return(view, started, nonce)
        confirmed = self._confirm_to_customer(view, started)
        recorded = self._pages.record_return(view.source, view.order_id, nonce, started, self._clock())
        outcome = AnswerOutcome.RECORDED if recorded else AnswerOutcome.REPLAYED
        return ReturnResult(outcome, self.view(view.token) or view, request, return_id, confirmed)

    def _tell_storefront_of_return(self, view: OrderPageView, started: StartedReturn, nonce: str) -> None:
        if self._outbound is None:
            return
        data = {
            "order_id": view.order_id,
            "order_number": view.order.get("number"),
            # Herald's id of the request: answer with return events carrying it as `return.id`, and the page
            # shows their states on this return.
            "return_id": started.return_id,
            "items": started.items,
            "reason": started.reason,
            "resolution": started.resolution,
            "note": started.note,  # as typed, to the customer's own storefront; stored masked
        }
        event_type = OutboundType.RETURN_REQUESTED
        self._outbound.publish(
            outbound_event(
                view.source,
                event_type,
                view.order_id,
                {k: v for k, v in data.items() if v is not None},
                outbound_event_id(event_type, view.order_id, nonce),
                time=self._clock(),
            )
        )

    def _confirm_to_customer(self, view: OrderPageView, started: StartedReturn) -> bool:
        if self._links is None or self._events is None:
            return False
        blocks = self._links.find(view.source, LinkKey("order", view.order_id))
        if not blocks or "customer" not in blocks or "order" not in blocks:
            return False  # the join's record of the order expired (or never was): the storefront still heard
        self._events.publish([return_requested_event(view, started, blocks, self._clock())])
        return True

    def answer(self, view: OrderPageView, fields: Mapping[str, str]) -> AnswerResult:
        """Record the delivery form's answer on the page `view` opened (the caller authenticated its token with
        it, so it is read once). Raises FormRefused for a bad form."""
        token = view.token
        delivered = {s.id: s for s in view.shipments if s.proof is not None}
        response = delivery_response(dict(fields), set(delivered))
        forms = self._forms()
        nonce = forms.verify(token, _form_name(response.shipment_id), fields.get("form_token", ""), self._clock())
        next_token = forms.issue(token, _form_name(response.shipment_id), self._clock())
        if response.answer is DeliveryAnswer.NOT_RECEIVED and response.reason is None:
            return AnswerResult(AnswerOutcome.DETAILS_NEEDED, view, response, next_token)
        shipment = delivered[response.shipment_id]
        answer = RecordedAnswer(
            kind=_ANSWER_KINDS[response.answer],
            shipment_id=shipment.id,
            answer=response.answer.value,
            reason=response.reason.value if response.reason else None,
            note=response.note,
            evidence=evidence_of(shipment),
        )
        # Told before it is recorded, under an id made from the form's nonce: if recording fails the customer posts
        # the same form again and the storefront gets the same event id (it dedupes); a replay repeats that id too.
        self._tell_storefront(view, answer, nonce)
        recorded = self._pages.record_answer(view.source, view.order_id, nonce, answer, self._clock())
        outcome = AnswerOutcome.RECORDED if recorded else AnswerOutcome.REPLAYED
        return AnswerResult(outcome, self.view(token) or view, response, next_token)

    def photo(self, token: str, shipment_id: str) -> Photo | None:
        """The proof photo of a delivered shipment of the token's order: Herald's copy, made on first view.

        None when there is none to show (no such shipment or photo, or no bucket); raises PhotoUnavailable when the
        carrier's photo cannot be fetched (the next view tries again)."""
        if not is_page_token(token) or self._photos is None or self._fetcher is None:
            return None
        page = self._pages.page(token, self._clock())
        if page is None:
            return None
        view = build_view(token, page, self._ledger.order_items(page.source, page.order_id), None)
        shipment = next((s for s in view.shipments if s.id == shipment_id), None)
        url = (shipment.proof or {}).get("photo_url") if shipment else None
        if not url:
            return None
        key = hashlib.sha256(f"{page.source}\n{page.order_id}\n{shipment_id}\n{url}".encode()).hexdigest()
        kept = self._photos.get(key)
        if kept is not None:
            return kept
        photo = self._fetcher.fetch(str(url))
        self._photos.put(key, photo)
        return photo

    def _tell_storefront(self, view: OrderPageView, answer: RecordedAnswer, nonce: str) -> None:
        if self._outbound is None:
            return
        event_type = _OUTBOUND_TYPES[answer.kind]
        data = {
            "order_id": view.order_id,
            "order_number": view.order.get("number"),
            "shipment_id": answer.shipment_id,
            "answer": answer.answer,
            "reason": answer.reason,
            # The customer's words go to their own storefront as typed (it must read them); Herald stores them masked.
            "note": answer.note,
            "evidence": answer.evidence,
        }
        event = outbound_event(
            view.source,
            event_type,
            view.order_id,
            {k: v for k, v in data.items() if v is not None},
            outbound_event_id(event_type, view.order_id, nonce),
            time=self._clock(),
        )
        self._outbound.publish(event)

    def _forms(self) -> FormTokens:
        return FormTokens(tuple(self._form_keys()))


def _form_name(shipment_id: str) -> str:
    return f"delivery\n{shipment_id}"


def _returnable(view: OrderPageView, *, leaving_out: str | None = None) -> list[Returnable]:
    return returnable_items(
        view.order.get("items", []),
        [s.items for s in view.shipments if s.delivered],
        [(r.state, r.items) for r in view.returns if r.id != leaving_out],
    )


def return_requested_event(
    view: OrderPageView, started: StartedReturn, blocks: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The Herald `return.requested` event of a return started on the page: the contract's model, as the
    storefront would have published it (its source, the order's blocks), so dispatch sends the usual email."""
    from herald.rendering.order_page import return_reason_words

    data: dict[str, Any] = {name: blocks[name] for name in ("order", "customer", "store") if name in blocks}
    data["return"] = {
        "id": started.return_id,
        "items": started.items,
        # The contract's reason is words the customer reads in the message; the note stays between customer and
        # storefront (the outbound event carries it).
        "reason": return_reason_words(view, ReturnReason(started.reason)),
    }
    return {
        "specversion": "1.0",
        "id": return_event_id(started.return_id),
        "source": view.source,
        "type": EventType.RETURN_REQUESTED.value,
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "subject": f"return/{started.return_id}",
        "data": data,
    }


def evidence_of(shipment: ShipmentView) -> dict[str, Any]:
    """What the customer answered about: the proof and the scans with their estimates (an evidence pack's core)."""
    return {
        "proof": shipment.proof or {},
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "steps": [{"type": s.event_type, "time": s.time, "estimate": s.estimate} for s in shipment.steps],
    }


def build_view(
    token: str, page: OrderPageRecord, items: list[dict[str, Any]], storefront: Storefront | None
) -> OrderPageView:
    """The page's content from the order's recorded items: events (with their details) and answers."""
    shipments: dict[str, ShipmentView] = {}
    returns: dict[str, ReturnView] = {}
    answers: list[dict[str, Any]] = []
    started: list[ReturnView] = []
    for item in sorted(items, key=lambda i: _text(i, "event_time") or _text(i, "received_at") or ""):
        kind = _text(item, "kind")
        if kind in ("delivery_confirmed", "delivery_disputed"):
            answers.append({name: next(iter(value.values())) for name, value in item.items()})
            continue
        if kind == "return_started":
            started.append(_started_return(item))
            continue
        if kind != "event" or "details" not in item:
            continue
        details = json.loads(_text(item, "details") or "{}")
        event_type, time, told = _text(item, "event_type") or "", _text(item, "event_time") or "", _text(item, "status")
        if "shipment" in details:
            _add_shipment_step(shipments, details, event_type, time, told in _TOLD)
        if "return" in details and told in _TOLD:
            ret = details["return"]
            # A later event that lists no items is about the same items (an approval seldom repeats them).
            earlier = returns[ret["id"]].items if ret["id"] in returns else []
            returns[ret["id"]] = ReturnView(
                ret["id"], event_type, ret.get("items") or earlier, ret.get("label_url"), ret.get("refund_amount")
            )
    for answer in answers:
        if answer.get("shipment_id") in shipments:
            shipments[answer["shipment_id"]].answers.append(answer)
    for ret in started:
        # Requested until the storefront's own return events about it (its id) say more; dispatch may not yet have
        # recorded the page's own return.requested.
        known = returns.setdefault(ret.id, ret)
        known.resolution = ret.resolution
        known.items = known.items or ret.items
    blocks = page.blocks
    return OrderPageView(
        token=token,
        source=page.source,
        order_id=page.order_id,
        order=blocks.get("order", {}),
        store=blocks.get("store", {}),
        customer=blocks.get("customer", {}),
        storefront=storefront,
        shipments=list(shipments.values()),
        returns=list(returns.values()),
        started_returns={ret.id for ret in started},
    )


def _started_return(item: Mapping[str, Any]) -> ReturnView:
    return ReturnView(
        _text(item, "return_id") or "",
        EventType.RETURN_REQUESTED.value,
        json.loads(_text(item, "items") or "[]"),
        resolution=_text(item, "resolution"),
    )


def _add_shipment_step(
    shipments: dict[str, ShipmentView], details: dict[str, Any], event_type: str, time: str, told: bool
) -> None:
    block = details["shipment"]
    shipment = shipments.setdefault(
        block["id"], ShipmentView(block["id"], block.get("carrier", ""), block.get("tracking_number", ""))
    )
    shipment.tracking_url = block.get("tracking_url") or shipment.tracking_url
    shipment.items = block.get("items") or shipment.items
    estimate = block.get("estimated_delivery")
    # Every estimate the customer may have read, in order: a revision (even on a repeat scan) shows as a delay.
    if estimate and (not shipment.estimates or shipment.estimates[-1] != estimate):
        shipment.estimates.append(estimate)
    if not told:
        return
    shipment.steps.append(Step(event_type, time, estimate))
    if event_type == EventType.SHIPMENT_DELIVERED.value and "proof" in details:
        shipment.proof = details["proof"]


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, Mapping) and "S" in value else None
