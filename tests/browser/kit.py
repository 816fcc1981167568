"""Shared by the browser tests: Debian's chromium through Playwright, one recorded session.

Every session records each request the page makes and every console message: nothing may
leave 127.0.0.1 and nothing may be logged as an error (a CSP violation is logged as one).
Skipped (failed in CI, where EXMECH_REQUIRE_ALL=1) when chromium or playwright is missing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTIFACTS, ROOT, LiveServer, require_binary

# The docs' screenshots are rewritten only when asked (EXMECH_SCREENSHOTS=1), so an ordinary
# test run leaves the checkout clean; otherwise they go with the other artifacts.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("EXMECH_SCREENSHOTS") == "1"
    else ARTIFACTS / "screenshots"
)
DESKTOP = {"width": 1280, "height": 900}
PHONE_390 = {"width": 390, "height": 844}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_binary("chromium", "the browser tests drive Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "the playwright package is not installed (pip install -e '.[test]')"
        if os.environ.get("EXMECH_REQUIRE_ALL") == "1":
            pytest.fail(message + " but EXMECH_REQUIRE_ALL=1 demands every test runs")
        pytest.skip(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        launched.close()


@dataclass
class Session:
    """One browser page with everything it requested and logged."""

    page: Any
    server: LiveServer
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def open(self, path: str) -> Any:
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        return response

    def shot(self, name: str, folder: Path = ARTIFACTS) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        prefix = "browser-" if folder == ARTIFACTS else ""
        self.page.screenshot(path=str(folder / f"{prefix}{name}.png"), full_page=False)

    def path(self) -> str:
        return str(self.page.url).removeprefix(self.server.url)


@pytest.fixture
def session(browser: Any, live_server: LiveServer) -> Iterator[Session]:
    context = browser.new_context(viewport=PHONE_390, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    opened = Session(page, live_server)
    page.on("request", lambda r: opened.requests.append(r.url))
    page.on("console", lambda m: opened.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: opened.console.append(f"error: {e}"))
    page.on("dialog", lambda d: (opened.dialogs.append(d.message), d.dismiss()))
    yield opened
    context.close()
    local = re.compile(r"^(http://127\.0\.0\.1:\d+/|data:|blob:http://127\.0\.0\.1:\d+/)")
    assert opened.requests, "the page made no request at all"
    assert [u for u in opened.requests if not local.match(u)] == []
    errors = [m for m in opened.console if m.startswith("error")]
    assert errors == [], errors
    assert opened.dialogs == [], "a script opened a dialog"
