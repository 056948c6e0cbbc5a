"""The storefront registry in SSM Parameter Store: one JSON parameter per storefront under the stack's path.

`<path>/<leaf>` where the leaf is the source made name-safe (domain.storefront.parameter_leaf), for example
`/herald/herald/storefronts/storefront/acme`, or `.../storefronts/https_3A_2F_2Fshop.example`. Read through
Powertools' parameters utility, which caches each value for `max_age` seconds in the sandbox: a changed entry is
seen within that time, without a redeploy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from herald.domain.storefront import Storefront, parameter_leaf, validation_problems

ENTRY_MAX_AGE_SECONDS = 300
# An unknown source is asked again after this long: a storefront added by `herald stores add` starts being
# accepted within a minute, and a flood of events from an unknown source costs one SSM call a minute per
# sandbox, not one per event (SSM's GetParameter allows 40 requests a second per account by default).
MISSING_MAX_AGE_SECONDS = 60


class StorefrontEntryInvalid(RuntimeError):
    """The registry holds an entry for this source that the model refuses: an operator's error to fix."""


class SsmStorefronts:
    """`StorefrontDirectory` over SSM Parameter Store."""

    def __init__(
        self,
        ssm: Any,
        path: str,
        *,
        max_age: int = ENTRY_MAX_AGE_SECONDS,
        missing_max_age: int = MISSING_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from aws_lambda_powertools.utilities import parameters

        # On the function's shared client (as handlers.secrets does): a provider built by
        # `parameters.get_parameter()` would open a new boto3 Session and reload botocore's endpoint data.
        self._provider = parameters.SSMProvider(boto3_client=ssm)
        self._ssm = ssm
        self._path = path.rstrip("/")
        self._max_age = max_age
        self._missing_max_age = missing_max_age
        self._clock = clock
        self._missing: dict[str, float] = {}  # source -> when we last heard it has no entry

    def name_of(self, source: str) -> str:
        return f"{self._path}/{parameter_leaf(source)}"

    def get(self, source: str) -> Storefront | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        seen_missing = self._missing.get(source)
        if seen_missing is not None and self._clock() - seen_missing < self._missing_max_age:
            return None
        try:
            value = self._provider.get(self.name_of(source), max_age=self._max_age)
        except GetParameterError as error:
            if _not_found(error):
                self._missing[source] = self._clock()
                return None
            raise  # throttled or denied: the event is retried, never refused for it
        self._missing.pop(source, None)
        return self._parse(source, str(value))

    def _parse(self, source: str, value: str) -> Storefront:
        from pydantic import ValidationError

        try:
            entry = Storefront.model_validate_json(value)
        except ValidationError as error:
            raise StorefrontEntryInvalid(
                f"the registry's entry for {source!r} is invalid: {validation_problems(error)}"
            ) from None
        if entry.source != source:
            raise StorefrontEntryInvalid(f"the registry's entry {self.name_of(source)} names source {entry.source!r}")
        return entry

    # --- for operators (herald stores): never on the functions' hot path -----------------------------

    def put(self, entry: Storefront, *, overwrite: bool = True) -> None:
        self._ssm.put_parameter(
            Name=self.name_of(entry.source),
            Value=entry.model_dump_json(exclude_defaults=False),
            Type="String",  # an entry holds no secret: it names the secrets
            Overwrite=overwrite,
            Tier="Intelligent-Tiering",  # standard up to 4 KB, advanced only for an entry that needs it
        )
        self._missing.pop(entry.source, None)

    def entries(self) -> Iterator[Storefront | tuple[str, str]]:
        """Every entry under the path; one the model refuses comes as (parameter name, problems)."""
        from pydantic import ValidationError

        paginator = self._ssm.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=self._path, Recursive=True):
            for parameter in page["Parameters"]:
                try:
                    yield Storefront.model_validate_json(parameter["Value"])
                except ValidationError as error:
                    yield (parameter["Name"], validation_problems(error))


def _not_found(error: Exception) -> bool:
    # Powertools wraps every SDK error in GetParameterError(str(error)); the SDK's error is its context.
    cause = error.__cause__ or error.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return bool(response.get("Error", {}).get("Code") == "ParameterNotFound")
    return "ParameterNotFound" in str(error)


def entry_json(entry: Storefront) -> str:
    return json.dumps(entry.model_dump(mode="json"), indent=2)


class IntakeIndex:
    """The registry's entries by what a platform's request names: Shopify's shop domain, a carrier route's slug.

    Built from every entry under the path (one GetParametersByPath walk), kept `max_age` seconds, and walked
    again at most once per MISSING_MAX_AGE_SECONDS when a request names something it does not know (a storefront
    just added is found within a minute; a flood of unknown names costs one walk a minute, not one per request).
    An invalid entry is left out (logged by the caller's `herald stores check`, never fatal to the others).
    """

    def __init__(
        self,
        storefronts: SsmStorefronts,
        *,
        max_age: int = ENTRY_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storefronts = storefronts
        self._max_age = max_age
        self._clock = clock
        self._by_shop: dict[str, Storefront] = {}
        self._by_slug: dict[str, Storefront] = {}
        self._built_at: float | None = None

    def by_shop_domain(self, domain: str) -> Storefront | None:
        return self._find(lambda: self._by_shop.get(domain.strip().lower()))

    def by_slug(self, slug: str) -> Storefront | None:
        return self._find(lambda: self._by_slug.get(slug))

    def _find(self, look: Callable[[], Storefront | None]) -> Storefront | None:
        now = self._clock()
        if self._built_at is None or now - self._built_at >= self._max_age:
            self._rebuild(now)
        found = look()
        # Built just above, or at `_built_at` (never None here: compared as a number, since a clock may read 0.0).
        built_at = now if self._built_at is None else self._built_at
        if found is None and now - built_at >= MISSING_MAX_AGE_SECONDS:
            self._rebuild(now)
            found = look()
        return found

    def _rebuild(self, now: float) -> None:
        by_shop: dict[str, Storefront] = {}
        by_slug: dict[str, Storefront] = {}
        shared: set[tuple[str, str]] = set()
        for entry in self._storefronts.entries():
            if not isinstance(entry, Storefront) or entry.intake is None:
                continue
            for index, name, kind in (
                (by_slug, entry.intake.slug, "slug"),
                (by_shop, entry.intake.shopify_shop_domain, "shop"),
            ):
                if name is None:
                    continue
                if name in index and index[name].source != entry.source:
                    shared.add((kind, name))
                index[name] = entry
        # Two storefronts naming one slug or shop: neither is served (`herald stores check` names them), so a
        # copied entry can never receive another storefront's reports.
        for kind, name in shared:
            (by_slug if kind == "slug" else by_shop).pop(name, None)
        self._by_shop, self._by_slug, self._built_at = by_shop, by_slug, now
