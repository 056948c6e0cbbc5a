"""Provider clients built from a secret, rebuilt when the secret changes: credentials that rotate lose no message.

A sandbox lives for hours; the key it read at its first invocation may be rotated or revoked meanwhile. Each send
reads the secret through Powertools' cache (a dictionary look-up until `max_age`, then one GetSecretValue), and a
changed value rebuilds the client. When the provider refuses the credentials (`ProviderError.auth`), the secret is
read again past the cache (`force_fetch`): a new value rebuilds the client and the message is sent once more at
once (a refused request was not accepted, so this cannot send twice); the same value means the key was revoked with
no new one yet, and the error goes on, retryable, to the circuit (the secondary provider carries the traffic), the
queue's back-off and the `ProviderAuthFailures` metric.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from herald.domain.errors import ErrorKind, ProviderError
from herald.observability import emit

C = TypeVar("C")
C_co = TypeVar("C_co", covariant=True)  # a client of a richer type serves where a plainer one is asked for
T = TypeVar("T")

AUTH_FAILURES_METRIC = "ProviderAuthFailures"  # the iam helper's alarm reads this name (dimension: provider)

# Reads a secret's value: `force` bypasses the cache. Raises when the secret cannot be read.
SecretReader = Callable[[str, bool], dict[str, Any]]


class RotatingClient(Generic[C_co]):
    """One provider client for one secret, rebuilt whenever the secret's value changes. Safe to share between
    threads: concurrent sends refused with the same key re-read the secret once between them."""

    def __init__(
        self,
        provider: str,
        secret_id: str,
        read: SecretReader,
        build: Callable[[dict[str, Any]], C_co],
        logger: Logger,
    ) -> None:
        self.provider = provider
        self.secret_id = secret_id
        self._read = read
        self._build = build
        self._logger = logger
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._client: C_co | None = None
        self._version = 0  # bumped at each rebuild
        self._forced = 0  # bumped at each read past the cache

    def call(self, send: Callable[[C_co], T]) -> T:
        """`send(client)` with the current client; after an auth refusal, once more with a renewed one."""
        client, version, forced = self._current()
        try:
            return send(client)
        except ProviderError as error:
            if not error.auth:
                raise
            renewed = self._renew(version, forced)
            if renewed is None:
                self._report(error, renewed=False)
                raise
        self._logger.info(
            f"{self.provider} credentials rotated: sending again with the new ones",
            extra={"provider": self.provider, "secret_id": self.secret_id},
        )
        try:
            return send(renewed)
        except ProviderError as again:
            if again.auth:
                self._report(again, renewed=True)
            raise

    def _current(self) -> tuple[C_co, int, int]:
        with self._lock:
            forced_before = self._forced
        value = self._fetch(force=False)
        with self._lock:
            # A read past the cache that happened meanwhile makes this cached value possibly older than the
            # client's: rebuilding from it would put the refused key back. Keep the client then.
            if self._client is None or (value != self._value and self._forced == forced_before):
                self._rebuild(value)
            assert self._client is not None
            return self._client, self._version, self._forced

    def _renew(self, version: int, forced: int) -> C_co | None:
        """A client on the secret's newest value, or None when it holds the key just refused."""
        with self._lock:  # held across the read: concurrent refusals wait for one read, not make one each
            if self._version != version:
                return self._client  # another send renewed it meanwhile
            if self._forced != forced:
                return None  # another send re-read it meanwhile and found the same value
            self._forced += 1
            try:
                value = self._fetch(force=True)
            except ProviderError as unreadable:
                self._logger.warning(
                    "secret unreadable after an auth failure",
                    extra={"secret_id": self.secret_id, "error": str(unreadable)},
                )
                return None
            if value == self._value:
                return None
            self._rebuild(value)
            return self._client

    def _rebuild(self, value: dict[str, Any]) -> None:
        # Client construction is on the send path: the first send of a sandbox pays for it (as the composition
        # root did before), a rotation pays once more.
        self._client = self._build(value)
        self._value = value
        self._version += 1

    def _fetch(self, *, force: bool) -> dict[str, Any]:
        try:
            return self._read(self.secret_id, force)
        except ProviderError:
            raise
        except Exception as error:
            # the AWS errors in GetParameterError, a bad shape is a ValueError) is our environment's fault, not the
            # message's: retryable, so the message waits on the queue (or the secondary takes it) and is not lost.
            raise ProviderError(
                ErrorKind.RETRYABLE, "herald:secret-unreadable", f"secret {self.secret_id}: {error}"
            ) from error

    def _report(self, error: ProviderError, *, renewed: bool) -> None:
        self._logger.error(
            f"{self.provider} refused its credentials: rotate or restore secret {self.secret_id}",
            extra={
                "provider": self.provider,
                "secret_id": self.secret_id,
                "error_code": error.code,
                "http_status": error.http_status,
                "secret_renewed": renewed,
            },
        )
        emit(AUTH_FAILURES_METRIC, 1, MetricUnit.Count, provider=self.provider)


class ClientPool(Generic[C]):
    """One `RotatingClient` per distinct key (a secret id, with what else shapes the client), built on first use."""

    def __init__(self, build: Callable[[Hashable], RotatingClient[C]]) -> None:
        self._build = build
        self._clients: dict[Hashable, RotatingClient[C]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> RotatingClient[C]:
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._build(key)
        return client
