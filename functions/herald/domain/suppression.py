"""Suppression: who asked not to be messaged (or cannot be), and which notifications that stops.

A suppression is kept per storefront (`source`), channel and recipient, with the signal that caused it:
- `keyword`: the customer texted STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) to the storefront's number;
- `unsubscribe`, `group_unsubscribe`, `spamreport`: the customer told SendGrid they want no more email of this kind;
- `bounce`: the receiving server rejected the address permanently (a hard bounce): nothing can reach it.

Which notifications a suppression stops depends on the signal and the event type (see `blocks`):
transactional notifications (the order confirmation, its cancellation, a refund) are the record of a purchase
the customer made, so the marketing-style opt-outs (unsubscribe, spam report) do not stop them; STOP for SMS
does (carrier rules and the TCPA make STOP binding for every message), and so does an undeliverable address
(sending to it only hurts the sender's reputation). Which types are transactional is each type's policy
(domain.policy). docs/decisions.md holds the why.

This module reads event types as strings: the webhooks function uses it and does not load the contract models.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from herald.contract.sources import EVERY_STOREFRONT
from herald.domain.keys import key
from herald.domain.locales import best_locale
from herald.domain.notification import Channel
from herald.domain.policy import POLICIES, policy_for


class SuppressionSignal(StrEnum):
    """What caused a suppression (stored on the item as `signal`)."""

    KEYWORD = "keyword"  # an SMS opt-out keyword (STOP & co.)
    UNSUBSCRIBE = "unsubscribe"
    GROUP_UNSUBSCRIBE = "group_unsubscribe"
    SPAM_REPORT = "spamreport"
    BOUNCE = "bounce"  # a hard bounce (SendGrid `bounce` of type `bounce`, not `blocked`)


class Scope(StrEnum):
    ALL = "all"  # every notification on the channel, transactional ones included
    NON_ESSENTIAL = "non_essential"  # everything but transactional notifications


SIGNAL_SCOPE: dict[SuppressionSignal, Scope] = {
    SuppressionSignal.KEYWORD: Scope.ALL,
    SuppressionSignal.BOUNCE: Scope.ALL,
    SuppressionSignal.UNSUBSCRIBE: Scope.NON_ESSENTIAL,
    SuppressionSignal.GROUP_UNSUBSCRIBE: Scope.NON_ESSENTIAL,
    SuppressionSignal.SPAM_REPORT: Scope.NON_ESSENTIAL,
}

TRANSACTIONAL_EVENT_TYPES = frozenset(t.value for t, policy in POLICIES.items() if policy.transactional)
"""The record of a purchase: what the customer paid, that it was cancelled, that money came back."""

ANY_SOURCE = EVERY_STOREFRONT
"""The source of a suppression that holds for every storefront: STOP sent to a number no storefront is mapped to.

A value the contract refuses as an event's `source` (contract.sources), so no publisher's data can be recorded
under it."""


def scope(signal: SuppressionSignal) -> Scope:
    return SIGNAL_SCOPE[signal]


def strength(signal: SuppressionSignal) -> int:
    """How much a signal suppresses: a stronger one is never replaced by a weaker one for the same recipient."""
    return 2 if scope(signal) is Scope.ALL else 1


def is_transactional(event_type: str) -> bool:
    return policy_for(event_type).transactional


def recipient_key(channel: Channel, recipient: str) -> str:
    """The sort key of a suppression: `sms#<E.164>` or `email#<address, lower-cased>` (domain.keys escapes a `#`
    in the address: `email#a\\#b@example.com`).

    Email addresses are compared case-insensitively: providers and customers change the case of the domain and,
    in practice, of the local part too; a suppression missed over a capital letter is a message sent against a
    customer's wish.
    """
    value = recipient.strip()
    if channel is Channel.EMAIL:
        value = value.lower()
    return key(channel.value, value)


@dataclass(frozen=True)
class Suppression:
    source: str
    channel: Channel
    recipient: str
    signal: SuppressionSignal
    reason: str
    at: str  # RFC 3339, when Herald recorded the signal

    @property
    def scope(self) -> Scope:
        return scope(self.signal)


def blocks(suppression: Suppression, event_type: str) -> bool:
    """Does `suppression` stop a notification of `event_type` on its channel?

    SMS: every suppression stops every SMS (STOP is the only SMS signal, and it is binding).
    Email: a hard bounce stops every email; an unsubscribe or spam report stops all but transactional ones.
    """
    if suppression.channel is Channel.SMS:
        return True
    return suppression.scope is Scope.ALL or not is_transactional(event_type)


def suppressed_reason(suppression: Suppression) -> str:
    """The reason recorded on a suppressed notification: what the customer (or their mail server) did, and when."""
    what = {
        SuppressionSignal.KEYWORD: "recipient opted out of SMS by keyword",
        SuppressionSignal.UNSUBSCRIBE: "recipient unsubscribed",
        SuppressionSignal.GROUP_UNSUBSCRIBE: "recipient unsubscribed from this group",
        SuppressionSignal.SPAM_REPORT: "recipient reported an email as spam",
        SuppressionSignal.BOUNCE: "address is undeliverable (hard bounce)",
    }[suppression.signal]
    detail = f" ({suppression.reason})" if suppression.reason else ""
    return f"suppressed: {what}{detail} at {suppression.at}"


TWILIO_OPTED_OUT = "21610"
"""Twilio refused the message: the recipient replied STOP to the sending number (Twilio keeps its own opt-out list)."""


def suppression_for_refusal(
    source: str, channel: Channel, recipient: str, error_code: str | None, at: str
) -> Suppression | None:
    """A provider's permanent refusal that means "this customer opted out": record it as Herald's own suppression,
    so later notifications are suppressed at dispatch (with the reason) instead of failing one by one."""
    if channel is Channel.SMS and error_code == TWILIO_OPTED_OUT:
        return Suppression(
            source, channel, recipient, SuppressionSignal.KEYWORD, "Twilio 21610: recipient opted out", at
        )
    return None


# --- SMS keywords ------------------------------------------------------------------------------


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


_KEYWORDS: dict[str, Keyword] = {
    **{word: Keyword.STOP for word in ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")},
    **{word: Keyword.START for word in ("START", "YES", "UNSTOP")},
    "HELP": Keyword.HELP,
}

OPT_OUT_LINE = "Reply STOP to opt out."
"""Said by the first SMS a storefront sends to a number (CTIA: the first message tells how to opt out)."""

DEFAULT_HELP_TEXT = (
    "{store}: order and delivery updates. Reply STOP to stop these texts, START to resume. Msg&data rates may apply."
)
# The default HELP answer in each language Herald writes (domain.locales.locale_chain picks one): GSM-7 and one
# segment with a store name of 30 characters (tests/unit/test_suppression.py). STOP and START stay the keywords in
# every language: they are the words Twilio and parse_keyword act on.
HELP_TEXTS = {
    "en-US": DEFAULT_HELP_TEXT,
    "es-US": (
        "{store}: avisos de pedidos y entregas. Responda STOP para cancelarlos y START para reanudarlos."
        " Pueden aplicarse tarifas de mensajes."
    ),
    "fr-CA": (
        "{store} : avis de commande et de livraison. Répondez STOP pour les désactiver, START pour les réactiver."
        " Frais de messagerie possibles."
    ),
}


def parse_keyword(body: str) -> Keyword | None:
    """The keyword an inbound SMS is, when the whole message (trimmed, any case) is one; otherwise None.

    Only the whole message counts, as with carriers' own handling: "please stop the deliveries" is not STOP.
    A trailing full stop or exclamation mark ("Stop.") is forgiven: phones add them.
    """
    word = body.strip().rstrip(".!").strip().upper()
    return _KEYWORDS.get(word)


def help_text(template: str | None, store: str, locale: str | None = None) -> str:
    """The HELP answer: the configured text with `{store}` filled in (any other braces are left as written); without
    one, Herald's default in the language closest to `locale` (the storefront's), by the chain messages use."""
    return (template or HELP_TEXTS[best_locale(HELP_TEXTS, locale)]).replace("{store}", store)
