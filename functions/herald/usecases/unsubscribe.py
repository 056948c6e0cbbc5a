"""One-click unsubscribe (RFC 8058): the link a non-transactional email carries, and what following it does.

- `UnsubscribeLinks` wraps the email sender's provider router: a non-transactional email (domain.policy) gets
  its signed link just before the provider call, whichever provider sends it (SendGrid, SES on failover, an
  escalation copy, a fallback email). It is added at send time, not at dispatch, so the signing key lives only
  in the functions that need it and a link's lifetime starts when the email leaves.
- `OneClickUnsubscribe` verifies a link's token and records the suppression through `EmailOptOuts.record`,
  the same path SendGrid's unsubscribe reports take.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from herald.domain.notification import Channel, ChannelMessage
from herald.domain.suppression import SuppressionSignal, is_transactional
from herald.usecases.ports import Accepted, ProviderRouter
from herald.usecases.suppression import EmailOptOuts
from herald.webhooks.errors import SignatureInvalid
from herald.webhooks.unsubscribe_token import SCOPE_NON_ESSENTIAL, UnsubscribeGrant, UnsubscribeTokens

UNSUBSCRIBE_PATH = "/unsubscribe"

# What each scope a token may carry records: only the marketing-style opt-out (transactional mail still goes).
_SIGNALS = {SCOPE_NON_ESSENTIAL: SuppressionSignal.UNSUBSCRIBE}


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}/{quote(token, safe='')}"


class UnsubscribeLinks:
    """A ProviderRouter that gives each non-transactional email its one-click unsubscribe link."""

    def __init__(self, router: ProviderRouter, tokens: Callable[[], UnsubscribeTokens], base_url: str) -> None:
        self.channel = router.channel
        self._router = router
        self._tokens = tokens  # read per send: the secret is cached by Powertools, so a rotation is picked up
        self._base_url = base_url

    def send(self, message: ChannelMessage) -> Accepted:
        content = message.email
        if content is not None and not is_transactional(message.event_type):
            # The link carries the email's language (sealed in the token with the rest), so its page speaks it.
            token = self._tokens().issue(message.source, Channel.EMAIL.value, message.to, locale=content.locale)
            content = content.model_copy(update={"list_unsubscribe": unsubscribe_url(self._base_url, token)})
            message = message.model_copy(update={"email": content})
        return self._router.send(message)


class OneClickUnsubscribe:
    def __init__(self, tokens: Callable[[], UnsubscribeTokens], opt_outs: EmailOptOuts) -> None:
        self._tokens = tokens
        self._opt_outs = opt_outs

    def check(self, token: str) -> UnsubscribeGrant:
        """The grant of a valid link (the confirmation page shows it); records nothing. Raises WebhookRefused."""
        grant = self._tokens().verify(token)
        if grant.channel != Channel.EMAIL.value or grant.scope not in _SIGNALS:
            raise SignatureInvalid("unsubscribe token of a channel or scope Herald does not offer")
        return grant

    def confirm(self, token: str) -> UnsubscribeGrant:
        """Record the opt-out a valid link grants (repeating it changes nothing). Raises WebhookRefused."""
        grant = self.check(token)
        self._opt_outs.record(grant.source, grant.address, _SIGNALS[grant.scope], reason="one-click unsubscribe")
        return grant
