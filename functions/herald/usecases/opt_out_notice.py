"""The first SMS a storefront sends to a number says how to opt out ("Reply STOP to opt out.").

"First" is decided when the SMS is sent, not when it is dispatched: a standby SMS may never be sent and a held
one (quiet hours) may leave after a later urgent one. Just before the provider call, the sender claims the
notice for (storefront, number) with a conditional write (the `OptOutNotices` port): the one notification that
wins it sends the body with the line (`SmsContent.opt_out_body`, rendered and fitted to the segment budget at
dispatch), every other sends the plain body. Concurrent sends cannot both win it; the winner keeps it across its
own retries (the same notification claims again and sends the same text); and when the provider refuses the
winner for good, the claim is released, so the next SMS to the number carries the line instead.
"""

from __future__ import annotations

from typing import Protocol

from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import ChannelMessage
from herald.usecases.ports import Accepted, ProviderRouter


class OptOutNotices(Protocol):
    def claim(self, source: str, number: str, notification_id: str) -> bool:
        """True when `notification_id` is (or already was) the one that tells this number how to opt out."""
        ...

    def release(self, source: str, number: str, notification_id: str) -> None:
        """Give the notice back (its SMS was refused for good): the next SMS to the number claims it."""
        ...


class OptOutNotice:
    """A ProviderRouter that sends the opt-out line in the storefront's first SMS to each number."""

    def __init__(self, router: ProviderRouter, notices: OptOutNotices) -> None:
        self.channel = router.channel
        self._router = router
        self._notices = notices

    def send(self, message: ChannelMessage) -> Accepted:
        content = message.sms
        # A message queued before the opt-out body existed is sent as it is and claims nothing.
        if content is None or not content.opt_out_body:
            return self._router.send(message)
        if not self._notices.claim(message.source, message.to, message.notification_id):
            return self._router.send(message)
        first = content.model_copy(
            update={"body": content.opt_out_body, "segments": content.opt_out_segments or content.segments}
        )
        try:
            return self._router.send(message.model_copy(update={"sms": first}))
        except ProviderError as error:
            if error.kind is ErrorKind.PERMANENT:
                self._notices.release(message.source, message.to, message.notification_id)
            raise
