"""Storefront registry entries for tests: the samples' storefront and a second one, and how to seed them."""

from __future__ import annotations

from typing import Any

from herald.adapters.ssm_storefronts import SsmStorefronts
from herald.domain.storefront import StaticStorefronts, Storefront

# moto names every SQS message's sender with this id (a real queue names the IAM principal that sent it).
MOTO_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"
REGISTRY_PATH = "/herald/test/storefronts"
SAMPLE_SOURCE = "storefront/acme-outdoor"  # the source of every sample in events/


def storefront(source: str = SAMPLE_SOURCE, **changes: Any) -> Storefront:
    """An entry that sends as acme.example through the test secrets, published by moto's sender."""
    values: dict[str, Any] = {
        "source": source,
        "name": "Acme Outdoor",
        "email_from": "orders@acme.example",
        "sendgrid_secret_id": "herald/sendgrid",
        "twilio_secret_id": "herald/twilio",
        "sms_from": "+15005550006",
        "publishers": (MOTO_SENDER_ID,),
    }
    values.update(changes)
    return Storefront.model_validate(values)


def every_source(**changes: Any) -> StaticStorefronts:
    """A directory where any source is registered (tests of dispatch's other rules, with generated sources)."""

    class EverySource(StaticStorefronts):
        def get(self, source: str) -> Storefront | None:
            return super().get(source) or storefront(source, **changes)

    return EverySource()


def seed_registry(ssm: Any, path: str = REGISTRY_PATH, *entries: Storefront) -> None:
    directory = SsmStorefronts(ssm, path)
    for entry in entries or (storefront(),):
        directory.put(entry)
