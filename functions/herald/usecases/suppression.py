"""Turn customers' opt-out signals into suppressions: SMS keywords (STOP/START/HELP) and SendGrid's reports.

Both plug into the webhooks' existing flow rather than parsing anything themselves:
- `SmsKeywords` is an InboundService handler: it reads the inbound message InboundService already recorded;
- `EmailOptOuts` is a DeliveryStatusService listener: it reads the ProviderStatus that domain/delivery_states.py made of
  each SendGrid event (its `opt_out`, its state and its recipient).

Dispatch reads the suppressions back (usecases/dispatch.py) and applies domain.suppression's rule.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from herald.domain.delivery_states import DeliveryState, OptOutSignal
from herald.domain.notification import Channel
from herald.domain.suppression import ANY_SOURCE, Keyword, Suppression, SuppressionSignal, help_text, parse_keyword
from herald.usecases.delivery_status import ApplyOutcome, DeliveryResult, InboundMessage, InboundReceipt

if TYPE_CHECKING:
    from herald.usecases.ports import StorefrontDirectory


class SuppressionStore(Protocol):
    def suppress(self, suppression: Suppression) -> bool: ...

    def claim_keyword(self, source: str, recipient: str, *, received_at_us: int, message_sid: str) -> bool:
        """Record this message as the recipient's latest keyword unless a newer one is recorded (atomically).
        True when it is the latest (again, for the same message), False when a newer keyword was applied."""
        ...

    def lift(
        self, source: str, channel: Channel, recipient: str, *, signals: Collection[SuppressionSignal]
    ) -> bool: ...


Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class SmsKeywords:
    """STOP/START/HELP sent to a storefront's number.

    The number that received the message names the storefront (`source_by_number`, else `default_source`).
    A number mapped to no storefront, with no default, makes STOP hold for every storefront (ANY_SOURCE): a
    customer who texts STOP must not get another text from this deployment, whichever storefront sends it.

    Each keyword changes the suppression once per MessageSid (a repeated webhook, `receipt.handled`, changes
    nothing), and never undoes a newer one: the messages are ordered by when Herald first received them (Twilio's
    inbound webhook has no timestamp), and a keyword older than the latest one applied for the number is ignored.

    STOP and START get no reply of Herald's: Twilio answers them itself (its default opt-out handling, which also
    blocks sending to the number until START); a second answer would be refused by Twilio anyway (error 21610).
    HELP is answered with the storefront's help text and name from its registry entry (`storefronts`), else the
    deployment's (`help_template`, `store_name`).
    """

    def __init__(
        self,
        store: SuppressionStore,
        *,
        source_by_number: Mapping[str, str],
        default_source: str | None,
        help_template: str | None,
        store_name: str,
        storefronts: StorefrontDirectory | None = None,
        clock: Clock = _now,
    ) -> None:
        self._storefronts = storefronts
        self._store = store
        self._sources = {number.strip(): source for number, source in source_by_number.items()}
        self._default = default_source or None
        self._help = help_template
        self._store_name = store_name
        self._clock = clock

    def source_for(self, number: str) -> str:
        return self._sources.get(number.strip()) or self._default or ANY_SOURCE

    def __call__(self, message: InboundMessage, receipt: InboundReceipt) -> str | None:
        keyword = parse_keyword(message.body)
        if keyword is None:
            return None
        source = self.source_for(message.to)
        if keyword is Keyword.HELP:
            return self._help_for(source)
        if receipt.handled or not self._store.claim_keyword(
            source, message.from_.strip(), received_at_us=receipt.received_at_us, message_sid=message.message_sid
        ):
            return None
        if keyword is Keyword.STOP:
            self._store.suppress(
                Suppression(
                    source=source,
                    channel=Channel.SMS,
                    recipient=message.from_.strip(),
                    signal=SuppressionSignal.KEYWORD,
                    reason=f"{message.body.strip().upper()[:20]} to {message.to}",
                    at=self._clock().isoformat(),
                )
            )
            return None
        self._store.lift(source, Channel.SMS, message.from_.strip(), signals={SuppressionSignal.KEYWORD})
        return None

    def _help_for(self, source: str) -> str:
        entry = self._storefronts.get(source) if self._storefronts is not None and source != ANY_SOURCE else None
        if entry is None:
            return help_text(self._help, self._store_name)
        # In the storefront's language: no record keyed by the number holds the customer's own locale (the texts it
        # received were written in theirs, but are found by message, not by number), so its default locale it is.
        return help_text(entry.help_text or self._help, entry.name, entry.locale)


_OPT_OUT_SIGNALS = {
    OptOutSignal.UNSUBSCRIBE: SuppressionSignal.UNSUBSCRIBE,
    OptOutSignal.GROUP_UNSUBSCRIBE: SuppressionSignal.GROUP_UNSUBSCRIBE,
    OptOutSignal.SPAM_REPORT: SuppressionSignal.SPAM_REPORT,
}


class EmailOptOuts:
    """A DeliveryStatusService listener: SendGrid opt-outs and hard bounces become email suppressions.

    The storefront is the notification's (or, when it has expired, the `source` custom arg Herald sent); a report
    that names neither cannot be placed and suppresses nothing. A repeated report changes nothing, so the
    suppression keeps the time it was first recorded.
    """

    def __init__(self, store: SuppressionStore, *, clock: Clock = _now) -> None:
        self._store = store
        self._clock = clock

    def __call__(self, result: DeliveryResult) -> None:
        status = result.status
        if status.channel is not Channel.EMAIL or result.outcome is ApplyOutcome.DUPLICATE:
            return
        if not status.recipient or not result.source:
            return
        if status.opt_out is OptOutSignal.GROUP_RESUBSCRIBE:
            self._store.lift(
                result.source, Channel.EMAIL, status.recipient, signals={SuppressionSignal.GROUP_UNSUBSCRIBE}
            )
            return
        signal = _OPT_OUT_SIGNALS.get(status.opt_out) if status.opt_out else None
        # A hard bounce only: `blocked` (type blocked) is the receiving server refusing for now, not the address.
        if signal is None and status.event == "bounce" and status.state is DeliveryState.BOUNCED:
            signal = SuppressionSignal.BOUNCE
        if signal is None:
            return
        self.record(result.source, status.recipient, signal, reason=status.reason or status.event)

    def record(self, source: str, address: str, signal: SuppressionSignal, *, reason: str) -> bool:
        """Record an email opt-out of `address` for `source`: SendGrid's reports and the one-click link
        (usecases.unsubscribe) both come through here. False when a stronger one was already recorded."""
        return self._store.suppress(
            Suppression(
                source=source,
                channel=Channel.EMAIL,
                recipient=address.strip().lower(),
                signal=signal,
                reason=reason[:300],
                at=self._clock().isoformat(),
            )
        )
