"""Browser tests: the customer's pages in a real Chromium (Debian's `chromium` package), driven by Playwright.

Playwright's own browser download (`playwright install`) cannot work on these machines: the tests launch the
system's Chromium by its path. Where none is found they are skipped with how to get one, unless
HERALD_REQUIRE_BROWSER is set (CI sets it: `.ci/run` installs Chromium when it is missing), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HOW_TO_GET_ONE = (
    "no Chromium found for the browser tests: install Debian's package (`sudo apt-get install chromium`), or set "
    "HERALD_CHROMIUM to a Chromium or Chrome executable. `playwright install` cannot download one here."
)
# As the machine's probe starts it: no sandbox as root, and none of the background connections a closed network
# refuses (or answers slowly) at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    candidates = [os.environ.get("HERALD_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    candidates += [shutil.which("chromium-browser"), shutil.which("google-chrome")]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this thread while it is open,
# and a later test of the same xdist worker that calls asyncio.run() (the senders' batches) would fail under it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("HERALD_REQUIRE_BROWSER"):
            pytest.fail(HOW_TO_GET_ONE)
        pytest.skip(HOW_TO_GET_ONE)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def deployment(browser: Any, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The local runtime with the demo's storefronts and stand-ins, one per test module (its own stack)."""
    from herald_tools.local.demo import DEMO_PARAMETERS, prepare, providers
    from herald_tools.local.runtime import LocalRuntime

    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    with (
        providers(tmp_path_factory.mktemp(f"{name}-outbox")) as setup,
        LocalRuntime(
            Path(__file__).resolve().parents[2] / "template.yaml",
            extra_env=setup.env,
            log_dir=tmp_path_factory.mktemp(f"{name}-logs"),
            stack_name=f"herald-browser-{name}",
            parameters=DEMO_PARAMETERS,
        ) as runtime,
    ):
        prepare(runtime, setup)
        yield runtime, setup
