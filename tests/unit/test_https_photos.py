"""Fetching a carrier's proof photo: as narrow as a photo needs (adapters.https_photos)."""

from __future__ import annotations

from typing import Any

import pytest

from herald.adapters.https_photos import MAX_PHOTO_BYTES, HttpsPhotoFetcher, sniffed_type
from herald.usecases.ports import PhotoUnavailable

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


class FakeResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body
        self.released = False

    def read(self, amount: int, decode_content: bool = True) -> bytes:
        return self._body[:amount]

    def release_conn(self) -> None:
        self.released = True


class FakePool:
    def __init__(self, response: FakeResponse) -> None:
        self.response = response
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **options: Any) -> FakeResponse:
        self.requests.append((method, url, options))
        return self.response


def _public_fetcher(pool: FakePool) -> HttpsPhotoFetcher:
    """A fetcher for which every host is a public one (no DNS here)."""
    return HttpsPhotoFetcher(pool, allow_host=lambda host: True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (JPEG, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "image/png"),
        (b"GIF89a" + b"\x00" * 8, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"<svg xmlns=", None),  # an SVG can carry script: never served
        (b"<html>", None),
    ],
)
def test_the_photo_is_what_its_bytes_say(head: bytes, kind: str | None) -> None:
    assert sniffed_type(head) == kind


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://pod.carrier.example/a.jpg", "not https"),
        ("https://127.0.0.1/a.jpg", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("https://localhost/a.jpg", "not a public address"),
    ],
)
def test_a_url_that_is_not_a_public_https_one_is_never_fetched(url: str, reason: str) -> None:
    pool = FakePool(FakeResponse(200, JPEG))
    with pytest.raises(PhotoUnavailable, match=reason):
        HttpsPhotoFetcher(pool).fetch(url)  # type: ignore[arg-type]
    assert pool.requests == []


def test_a_photo_is_fetched_without_following_redirects() -> None:
    pool = FakePool(FakeResponse(200, JPEG))
    photo = _public_fetcher(pool).fetch("https://pod.carrier.example/a.jpg")
    assert (photo.content_type, photo.body) == ("image/jpeg", JPEG)
    ((method, _, options),) = pool.requests
    assert method == "GET"
    assert options["redirect"] is False
    assert pool.response.released


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (FakeResponse(302, b""), "answered 302"),
        (FakeResponse(404, b""), "answered 404"),
        (FakeResponse(200, b"<html>not a photo</html>"), "not a JPEG"),
        (FakeResponse(200, JPEG + b"\x00" * MAX_PHOTO_BYTES), "larger than"),
    ],
)
def test_anything_but_a_bounded_image_is_refused(response: FakeResponse, reason: str) -> None:
    with pytest.raises(PhotoUnavailable, match=reason):
        _public_fetcher(FakePool(response)).fetch("https://pod.carrier.example/a.jpg")
    assert response.released
