"""What the local runtime changes in the functions' object graphs, through herald.handlers.wiring.decorate_ports.

The order page's photo fetcher reaches the carrier-photos stand-in (every carrier host is it, locally).

Twilio's test numbers (+1 500 555 xxxx) reach no phone, so production's phone rule (domain.phone.to_e164)
refuses them; they are exactly what the Twilio stand-in, the demo and the integration tests send to. Locally, and
only locally, dispatch accepts them.

The storefront receiver stand-in serves HTTPS with a certificate of its own CA; locally, and only locally, the
outbound webhooks' transport trusts that CA too (named by RECEIVER_CA_VARIABLE), and still verifies certificates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from herald.handlers.wiring import PORT_PHONE_RULE, PORT_PHOTO_FETCHER, PORT_WEBHOOK_TRANSPORT, decorate_ports

# The stand-in receiver's CA file (StorefrontWebhookReceiver.ca_path), in a worker's or a test's environment.
RECEIVER_CA_VARIABLE = "HERALD_LOCAL_RECEIVER_CA"

# Where the carrier-photos stand-in listens, and its certificate (set by the demo's providers for the functions).
CARRIER_PHOTOS_URL_VARIABLE = "HERALD_LOCAL_CARRIER_PHOTOS_URL"
CARRIER_PHOTOS_CA_VARIABLE = "HERALD_LOCAL_CARRIER_PHOTOS_CA"

if TYPE_CHECKING:
    from herald.domain.phone import PhoneRule


def accepting_twilio_test_numbers(rule: PhoneRule) -> PhoneRule:
    """`rule`, except that a Twilio test number it refuses is accepted (as E.164)."""
    # Imported when dispatch's root is built, as production's rule is: no other function loads phonenumbers.
    from herald.domain.phone import PhoneNotUsable, e164, is_twilio_test_number, parse

    def read(raw: str, country: str | None) -> str:
        try:
            return rule(raw, country)
        except PhoneNotUsable:
            parsed = parse(raw, country)  # the rule could read it (or this raises its reason again)
            if not is_twilio_test_number(parsed):
                raise
            return e164(parsed)

    return read


def trusting_the_local_receiver(transport: Any) -> Any:
    """The outbound webhooks' transport, trusting the receiver stand-in's CA when one is named (else as it is)."""
    ca = os.environ.get(RECEIVER_CA_VARIABLE)
    if not ca:
        return transport
    from herald.adapters.http_webhooks import Urllib3WebhookTransport

    return Urllib3WebhookTransport(timeout_seconds=transport.timeout_seconds, ca_certs=ca)


def carrier_photos_stand_in(base_url: str, ca_path: str) -> Any:
    """The order page's photo fetcher, locally: every carrier host is the stand-in (standins/carrier_photos.py),
    reached over TLS that trusts only its certificate; the production fetcher's rules apply to what it sends."""
    from urllib.parse import urlsplit

    import urllib3

    from herald.adapters.https_photos import TIMEOUT_SECONDS, HttpsPhotoFetcher

    pool = urllib3.PoolManager(
        retries=False, timeout=urllib3.Timeout(total=TIMEOUT_SECONDS), cert_reqs="CERT_REQUIRED", ca_certs=ca_path
    )
    fetcher = HttpsPhotoFetcher(pool, allow_host=lambda host: host == urlsplit(base_url).hostname)

    class StandInCarrierHosts:
        def fetch(self, url: str) -> Any:
            parts = urlsplit(url)
            if parts.scheme != "https":
                return fetcher.fetch(url)  # refused by the fetcher, with its reason
            return fetcher.fetch(f"{base_url}/{parts.hostname}{parts.path}")

    return StandInCarrierHosts()


def local_ports(name: str, port: Any) -> Any:
    if name == PORT_PHONE_RULE:
        return accepting_twilio_test_numbers(port)
    if name == PORT_WEBHOOK_TRANSPORT:
        return trusting_the_local_receiver(port)
    if name == PORT_PHOTO_FETCHER and os.environ.get(CARRIER_PHOTOS_URL_VARIABLE):
        return carrier_photos_stand_in(os.environ[CARRIER_PHOTOS_URL_VARIABLE], os.environ[CARRIER_PHOTOS_CA_VARIABLE])
    return port


def install_local_ports() -> Callable[[], None]:
    """Every composition root built from now on in this process gets the local ports; returns the uninstaller."""
    return decorate_ports(local_ports)
