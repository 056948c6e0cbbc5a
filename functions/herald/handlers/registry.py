"""The storefront registry as every function reads it: SSM Parameter Store through Powertools' cache
(herald.adapters.ssm_storefronts), at the path the function's settings name. One builder, so that dispatch, the
senders, the timeline and the webhooks read the same registry the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from herald.handlers.wiring import Once

if TYPE_CHECKING:
    from herald.adapters.ssm_storefronts import SsmStorefronts
    from herald.domain.storefront import Storefront


def storefronts(path: str) -> SsmStorefronts:
    """The registry under `path` (the function's `storefronts_path` setting)."""
    from herald.adapters.ssm_storefronts import SsmStorefronts
    from herald.handlers.aws import aws_client

    return SsmStorefronts(aws_client("ssm"), path)


class LazyStorefronts:
    """The registry, opened on the first look-up: for a graph where most invocations never need it."""

    def __init__(self, path: str) -> None:
        self._open = Once(lambda: storefronts(path))

    def get(self, source: str) -> Storefront | None:
        return self._open().get(source)
