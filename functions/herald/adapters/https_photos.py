"""Proof photos fetched from where the carrier keeps them, once, to be kept by Herald (adapters.s3_photos).

The URL came from a verified carrier webhook or an admitted storefront event, but it is still a URL someone else
chose, fetched from inside the deployment, so the fetch is as narrow as a photo needs: HTTPS only, to a host
whose every address is a public one (no loopback, private, link-local or metadata address), no redirects, a few
seconds, at most MAX_PHOTO_BYTES, and only an image whose bytes say it is one (JPEG, PNG, WebP, GIF).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import urllib3

from herald.usecases.ports import Photo, PhotoUnavailable

MAX_PHOTO_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 5.0
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniffed_type(head: bytes) -> str | None:
    """The image type the first bytes say, whatever the server claimed (None: not a photo Herald serves)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for signature, kind in _SIGNATURES if head.startswith(signature)), None)


def _public_host(host: str) -> bool:
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%", 1)[0]).is_global for a in addresses)


class HttpsPhotoFetcher:
    def __init__(
        self, pool: urllib3.PoolManager | None = None, *, allow_host: Callable[[str], bool] = _public_host
    ) -> None:
        self._pool = pool or urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=TIMEOUT_SECONDS))
        # Which hosts may be fetched from: public ones (the local runtime's stand-in alone is on loopback).
        self._allow_host = allow_host

    def fetch(self, url: str) -> Photo:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise PhotoUnavailable("the photo's URL is not https")
        if not self._allow_host(parts.hostname):
            raise PhotoUnavailable("the photo's host is not a public address")
        try:
            response = self._pool.request("GET", url, redirect=False, preload_content=False)
        except urllib3.exceptions.HTTPError as error:
            raise PhotoUnavailable(f"the carrier's photo could not be fetched ({type(error).__name__})") from error
        try:
            if response.status != 200:
                raise PhotoUnavailable(f"the carrier answered {response.status} for the photo")
            body = response.read(MAX_PHOTO_BYTES + 1, decode_content=True)
        finally:
            response.release_conn()
        if len(body) > MAX_PHOTO_BYTES:
            raise PhotoUnavailable(f"the photo is larger than {MAX_PHOTO_BYTES} bytes")
        kind = sniffed_type(body[:16])
        if kind is None:
            raise PhotoUnavailable("what the carrier sent is not a JPEG, PNG, WebP or GIF image")
        return Photo(kind, body)
