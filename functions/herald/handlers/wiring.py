"""Composition roots: each function builds its object graph in one place, on its first invocation, and keeps it for
the life of the sandbox.

- `Root(build)` (in each handler module, named `root`): one function's graph. `build` reads that function's
  settings model and wires adapters to use cases; it runs on the first call (not at import: the cold start pays
  only for imports), then every warm invocation reuses what it built.
- `reset()`: a new sandbox, in-process. Tests and benchmarks run many sandboxes in one interpreter, each against
  its own emulator endpoint: every root and every shared AWS client is forgotten, so the next invocation builds
  afresh from the environment of that moment.
- `decorate_ports(fn)`: the one seam for tools. A root passes each port it builds through `port(name, value)`;
  a decorator installed here may wrap or replace it. Production installs none. The local runtime installs
  decorators from herald_tools (fault injection, Twilio's test numbers), so that production code carries no
  test hooks; the names a root offers are the PORT_* constants below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from herald.handlers import aws

T = TypeVar("T")
PortDecorator = Callable[[str, Any], Any]

# The ports a root offers to decorators (a decorator returns the port unchanged for a name it does not know).
PORT_LEDGER = "ledger"  # a sender's NotificationLedger (claim, mark_sent, ...)
PORT_PROVIDER_ROUTER = "provider_router"  # a sender's ProviderRouter (primary with failover)
PORT_PHONE_RULE = "phone_rule"  # dispatch's PhoneRule: a customer's phone to E.164, or PhoneNotUsable
PORT_PHOTO_FETCHER = "photo_fetcher"  # the order page's PhotoFetcher: a carrier's proof photo, fetched once
PORT_WEBHOOK_TRANSPORT = "webhook_transport"  # outbound-webhooks' WebhookTransport (the HTTPS POST)

_roots: list[Root[Any]] = []
_decorators: list[PortDecorator] = []


class Once(Generic[T]):
    """What `build` returns, built on the first call (a part of a graph that only some invocations need)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None
        # Concurrent batches of one function (threads of the local runtime) build it once.
        self._lock = threading.Lock()

    def __call__(self) -> T:
        built = self._built
        if built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
                built = self._built
        return built


class Root(Once[T]):
    """One function's object graph: built by `build` on the first invocation, then shared by every invocation
    until `reset()`."""

    def __init__(self, build: Callable[[], T]) -> None:
        super().__init__(build)
        _roots.append(self)

    def reset(self) -> None:
        with self._lock:
            self._built = None


def reset() -> None:
    """A new sandbox: forget every root's graph and every shared AWS client (port decorators stay installed)."""
    for root in _roots:
        root.reset()
    aws.forget_clients()


def decorate_ports(decorator: PortDecorator) -> Callable[[], None]:
    """Install `decorator(port_name, port) -> port` for every port built from now on; returns its uninstaller."""
    _decorators.append(decorator)
    return lambda: _decorators.remove(decorator)


def port(name: str, value: T) -> T:
    """`value` as the installed decorators make it, in the order they were installed (as it is, without any)."""
    for decorator in tuple(_decorators):
        value = decorator(name, value)
    return value
