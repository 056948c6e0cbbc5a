"""Sources the contract keeps for Herald itself, apart from the pydantic models.

`*` names every storefront at once: a suppression recorded under it (a STOP texted to a number no storefront is
mapped to) holds for all of them. An event may therefore never use it as its `source` (contract.models refuses
it): a storefront publishing as `*` would otherwise write suppressions every other storefront obeys. Kept in a
module of its own so the functions that never parse an event (the webhooks) read it without the models.
"""

from __future__ import annotations

EVERY_STOREFRONT = "*"

RESERVED_SOURCES = frozenset({EVERY_STOREFRONT})
