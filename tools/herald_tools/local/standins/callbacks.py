"""Provider callbacks from the stand-ins: signed HTTP posts, delivered later from a background thread.

SendGrid and Twilio report what became of a message some time after accepting it, on their own
connection. The stand-ins do the same: each accepted message schedules its reports here, and one
daemon thread posts them, in order, once their delay has passed. A post that fails (the webhook is
down, answers 4xx/5xx) is logged and counted, not retried: the stand-ins are for the local loop, and a
refused callback is what a test of the webhook wants to see in `failures`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 10.0


@dataclass(order=True)
class _Scheduled:
    due: float
    sequence: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    # Built just before sending: SendGrid's signature carries the time it was made.
    headers: Callable[[bytes], dict[str, str]] = field(compare=False)


@dataclass(frozen=True)
class CallbackResult:
    url: str
    status: int | None  # None when no answer came (connection refused, timeout)
    error: str | None = None


class CallbackSender:
    """Posts scheduled callbacks from one daemon thread; `wait_idle()` waits until none is left."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: list[_Scheduled] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._in_flight = 0
        self.results: list[CallbackResult] = []

    def schedule(self, url: str, body: bytes, headers: Callable[[bytes], dict[str, str]], *, delay: float) -> None:
        with self._condition:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name=f"{self.name}-callbacks", daemon=True)
                self._thread.start()
            heapq.heappush(self._queue, _Scheduled(time.monotonic() + delay, next(self._sequence), url, body, headers))
            self._condition.notify_all()

    @property
    def failures(self) -> list[CallbackResult]:
        with self._condition:
            return [r for r in self.results if r.status is None or r.status >= 300]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every scheduled callback was posted (whatever the answer)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def stop(self) -> None:
        """Stop the thread; callbacks not yet due are dropped (the provider went away)."""
        with self._condition:
            thread, self._thread = self._thread, None
            self._stopping = True
            dropped = len(self._queue)
            self._queue.clear()
            self._condition.notify_all()
        if dropped:
            logger.info("%s: %d callback(s) not yet due were dropped on stop", self.name, dropped)
        if thread is not None:
            thread.join(timeout=CALLBACK_TIMEOUT_SECONDS + 1)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._condition.wait(wait)
                if self._stopping:
                    return
                item = heapq.heappop(self._queue)
                self._in_flight += 1
            result = CallbackResult(item.url, None, "not posted")
            try:
                result = self._post(item)
            finally:
                # Recorded before the count drops, so wait_idle() never returns ahead of the result.
                with self._condition:
                    self.results.append(result)
                    self._in_flight -= 1
                    self._condition.notify_all()

    def _post(self, item: _Scheduled) -> CallbackResult:
        request = urllib.request.Request(item.url, data=item.body, headers=item.headers(item.body), method="POST")  # noqa: S310 - URLs the caller configured
        try:
            with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT_SECONDS) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as error:
            logger.warning("%s: callback to %s answered %s", self.name, item.url, error.code)
            return CallbackResult(item.url, error.code, error.reason)
        except (urllib.error.URLError, OSError) as error:
            logger.warning("%s: callback to %s failed: %s", self.name, item.url, error)
            return CallbackResult(item.url, None, str(error))
        logger.debug("%s: callback to %s answered %s", self.name, item.url, status)
        return CallbackResult(item.url, status)
