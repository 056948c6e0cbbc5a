"""The outbound webhook's HTTP request: urllib3 (already in every function, as botocore's HTTP client).

One POST per attempt: no retries of urllib3's own (the queue retries, with back-off and a record of each try), no
redirects (the signed request would be re-sent to wherever a 3xx points), HTTPS only with the certificate
verified, a short timeout, and only the answer's status and Retry-After read: its body is never read (a receiver's
answer is not Herald's to keep), so the connection is closed rather than reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import urllib3

from herald.usecases.ports import WebhookAnswer, WebhookNotAnswered


class HttpsOnly(ValueError):
    """The URL is not https://: refused before any connection (the registry and the use case allow only https;
    this holds it for any other caller)."""


class Urllib3WebhookTransport:
    def __init__(self, *, timeout_seconds: float, ca_certs: str | None = None) -> None:
        # ca_certs: None is the system's trust store (Lambda's). The local runtime passes its stand-in's CA.
        self.timeout_seconds = timeout_seconds
        self._pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            retries=False,  # the queue retries; with no Retry object urllib3 follows no redirect either
            timeout=urllib3.Timeout(connect=min(timeout_seconds, 3.0), read=timeout_seconds),
            maxsize=10,
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
        if urlsplit(url).scheme != "https":
            raise HttpsOnly("outbound webhooks are sent to https:// URLs only")
        try:
            response = self._pool.request(
                "POST", url, body=body, headers=dict(headers), redirect=False, preload_content=False
            )
        except urllib3.exceptions.HTTPError as error:
            # Timeouts, refused or reset connections, TLS and proxy failures: no answer, so retried.
            raise WebhookNotAnswered(type(error).__name__ + _detail(error)) from None
        answer = WebhookAnswer(response.status, response.headers.get("Retry-After"))
        response.close()
        return answer


def _detail(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    return f" ({type(reason).__name__})" if reason is not None else ""
