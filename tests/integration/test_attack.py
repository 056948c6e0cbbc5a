"""`make attack` in-process: every attack of issue 9 against one local runtime is refused and records nothing.

One runtime for the module (starting one costs seconds); the suite's cases are the ones `make attack` runs
(herald_tools.local.attack), and each case's own detail says what it saw, so a failure names the attack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herald_tools.local.attack import Attack, deployment, run_cases

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # Given the local deployment `herald demo` starts (two storefronts, the provider stand-ins)
    work: Path = tmp_path_factory.mktemp("attack")
    with deployment(work) as attack:
        assert isinstance(attack, Attack)
        # When every attack is tried against it
        yield run_cases(attack)


def test_every_attack_is_refused_and_records_nothing(summary: dict[str, Any]) -> None:
    # Then every case ran (the control order before them went out and was reported delivered)
    assert summary["tried"] == len(summary["by_case"]) > 0
    # And each one was refused, and none of the refused ones left anything in the table or the provider
    not_refused = {name: c["detail"] for name, c in summary["by_case"].items() if not c["refused"]}
    assert not_refused == {}
    assert summary["refused"] == summary["tried"]
    assert summary["recorded_from_refused"] == 0
