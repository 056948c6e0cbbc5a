"""RotatingClient: a provider client rebuilt when its secret changes, re-read past the cache after an auth refusal."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from herald.domain.errors import ErrorKind, ProviderError
from herald.handlers.credentials import ClientPool, RotatingClient
from herald.observability import build_logger


def refused() -> ProviderError:
    return ProviderError(ErrorKind.RETRYABLE, "401", "invalid key", http_status=401, auth=True)


class Vault:
    """A secret store: `cached` is what a cached read returns, `stored` what a forced read returns."""

    def __init__(self, key: str) -> None:
        self.cached = self.stored = key
        self.forced_reads = 0

    def read(self, secret_id: str, force: bool) -> dict[str, Any]:
        if force:
            self.forced_reads += 1
            self.cached = self.stored
        return {"api_key": self.cached}


class Client:
    """A provider client that accepts only the keys in `valid`."""

    def __init__(self, key: str, valid: set[str]) -> None:
        self.key = key
        self.valid = valid

    def send(self) -> str:
        if self.key not in self.valid:
            raise refused()
        return f"sent with {self.key}"


def rotating(vault: Vault, valid: set[str], built: list[str]) -> RotatingClient[Client]:
    def build(secret: dict[str, Any]) -> Client:
        built.append(secret["api_key"])
        return Client(secret["api_key"], valid)

    return RotatingClient("sendgrid", "herald/sendgrid", vault.read, build, build_logger())


def refused_after_rotation() -> tuple[Vault, list[str], RotatingClient[Client]]:
    """A client that sent on k1; the provider now accepts only k2, which the store holds (the cache still k1)."""
    vault, valid, built = Vault("k1"), {"k1"}, []
    client = rotating(vault, valid, built)
    client.call(Client.send)
    valid.clear()
    valid.add("k2")
    vault.stored = "k2"
    return vault, built, client


def test_a_changed_secret_rebuilds_the_client_when_the_cache_expires() -> None:
    # Given a client built from key k1, sending
    vault, valid, built = Vault("k1"), {"k1", "k2"}, []
    client = rotating(vault, valid, built)
    assert client.call(Client.send) == "sent with k1"
    assert client.call(Client.send) == "sent with k1"
    # When the cache expires on a new value (both keys still valid: a rotation's overlap)
    vault.cached = "k2"
    # Then the next send uses a client built from the new key, with no refusal and no forced read
    assert client.call(Client.send) == "sent with k2"
    assert built == ["k1", "k2"]
    assert vault.forced_reads == 0


def test_a_refused_key_rereads_the_secret_past_the_cache_and_sends_again_once() -> None:
    # Given a client on k1, which the provider no longer accepts; the store already holds k2, the cache k1
    vault, _built, client = refused_after_rotation()
    # When it sends
    sends: list[str] = []

    def send(c: Client) -> str:
        sends.append(c.key)
        return c.send()

    # Then the refusal re-read the secret (forced), and the message went out with k2 in the same call
    assert client.call(send) == "sent with k2"
    assert sends == ["k1", "k2"]
    assert vault.forced_reads == 1


def test_a_revoked_key_with_no_new_one_raises_the_retryable_refusal() -> None:
    # Given a key the provider refuses and no new one in the store
    vault = Vault("k1")
    client = rotating(vault, set(), [])
    # When it sends / Then the auth refusal goes on, retryable, after one forced read
    with pytest.raises(ProviderError) as raised:
        client.call(Client.send)
    assert raised.value.auth
    assert raised.value.retryable
    assert vault.forced_reads == 1


def test_concurrent_refusals_of_one_key_reread_the_secret_once() -> None:
    # Given ten sends in flight with the same refused key, all refused together
    vault = Vault("k1")
    client = rotating(vault, set(), [])
    client_ready = threading.Barrier(10)
    errors: list[ProviderError] = []

    def send(c: Client) -> str:
        client_ready.wait()  # every send holds k1's client before any refusal is handled
        return c.send()

    def one() -> None:
        try:
            client.call(send)
        except ProviderError as error:
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each failed, and the secret was read past the cache once between them
    assert len(errors) == 10
    assert vault.forced_reads == 1


def test_an_unreadable_secret_is_a_retryable_error_of_the_provider() -> None:
    # Given a secret that cannot be read
    def unreadable(secret_id: str, force: bool) -> dict[str, Any]:
        raise ValueError(f"secret {secret_id} must be a JSON object")

    client: RotatingClient[Client] = RotatingClient(
        "twilio", "herald/twilio", unreadable, lambda s: Client("x", set()), build_logger()
    )
    # When it sends / Then the message is kept for a retry, with the reason
    with pytest.raises(ProviderError) as raised:
        client.call(Client.send)
    assert (raised.value.kind, raised.value.code) == (ErrorKind.RETRYABLE, "herald:secret-unreadable")
    assert "must be a JSON object" in raised.value.message


def test_the_pool_builds_one_client_per_key() -> None:
    # Given a pool
    vault = Vault("k1")
    pool: ClientPool[Client] = ClientPool(
        lambda key: RotatingClient("sendgrid", str(key), vault.read, lambda s: Client("k1", {"k1"}), build_logger())
    )
    # When clients are asked for by key / Then the same key gives the same client, another key another
    assert pool.get("a") is pool.get("a")
    assert pool.get("a") is not pool.get("b")


def test_a_cached_read_that_raced_a_forced_read_does_not_bring_the_refused_key_back() -> None:
    # Given a client on k1; the provider now accepts only k2, which the store holds (the cache still says k1)
    vault, built, client = refused_after_rotation()
    # and a send whose cached read returns k1 only after another send's forced read found k2
    reading, forced_done = threading.Event(), threading.Event()
    plain_read = vault.read

    def racing_read(secret_id: str, force: bool) -> dict[str, Any]:
        if not force and not reading.is_set():
            reading.set()
            stale = {"api_key": vault.cached}
            assert forced_done.wait(10), "the other send never re-read the secret"
            return stale
        return plain_read(secret_id, force)

    client._read = racing_read
    late: list[str] = []

    def send_late(c: Client) -> str:
        late.append(c.key)
        return c.send()

    racer = threading.Thread(target=lambda: client.call(send_late))
    racer.start()
    assert reading.wait(10)
    # When the other send is refused, re-reads the secret and sends with k2, and then the stale read returns
    assert client.call(Client.send) == "sent with k2"
    forced_done.set()
    racer.join()
    # Then the late send used k2 at once: the client was not rebuilt from the stale k1
    assert late == ["k2"]
    assert built == ["k1", "k2"]
