"""Which credential each platform presents on a request, and whether it verifies: the intake's one table of them.

`signed` answers "did the caller even try" (no credential: 401), `verified` checks it with the storefront's secret
(403 when it does not verify). Both read only headers and the query string, and the signature checks
(intake.signatures) run over the raw body, so nothing of the body is parsed before it is authenticated.
"""

from __future__ import annotations

from collections.abc import Mapping

from herald.intake import signatures
from herald.intake.updates import Platform

# The header (lower-case, as API Gateway delivers it) each platform signs with; Shippo's token rides in the URL.
SIGNATURE_HEADERS: Mapping[Platform, str] = {
    "shopify": "x-shopify-hmac-sha256",
    "easypost": "x-hmac-signature",
    "aftership": "aftership-hmac-sha256",
    "onfleet": "x-onfleet-signature",
}
SHIPPO_TOKEN_PARAMETER = "token"  # noqa: S105  (the query parameter's name, not a credential)


def signed(platform: Platform, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    if platform == "shippo":
        return bool(query.get(SHIPPO_TOKEN_PARAMETER))
    return bool(headers.get(SIGNATURE_HEADERS[platform]))


def verified(
    platform: Platform, body: bytes, headers: Mapping[str, str], query: Mapping[str, str], secret: str
) -> bool:
    if platform == "shippo":
        return signatures.shippo_valid(query.get(SHIPPO_TOKEN_PARAMETER), secret)
    header = headers.get(SIGNATURE_HEADERS[platform])
    if platform == "shopify":
        return signatures.shopify_valid(body, header, secret)
    if platform == "easypost":
        return signatures.easypost_valid(body, header, secret)
    if platform == "aftership":
        return signatures.aftership_valid(body, header, secret)
    return signatures.onfleet_valid(body, header, secret)
