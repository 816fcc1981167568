"""The pages in a real browser: Playwright driving Debian's chromium against a live server.

Every test records each request the page makes and every console message: nothing may leave
127.0.0.1 and nothing may be logged as an error. Screenshots go to tests/artifacts/.
Skipped (failed in CI, where EXMECH_REQUIRE_ALL=1) when chromium or playwright is missing.
"""

from __future__ import annotations

import re

import kit
import pytest
from kit import DESKTOP, SCREENSHOTS, Session
from kit import PHONE_390 as PHONE

pytestmark = [pytest.mark.browser, pytest.mark.live]
browser, session = kit.browser, kit.session  # the shared fixtures

PAGES = {
    "home": "/",
    "theme": "/id/theme/neuromuscular",
    "mechanism": "/id/mechanism/motor-control",
    "exercise": "/id/exercise/pilates",
    "study": "/id/study/aasa-2015",
    "review": "/id/study/wun-2021",
    "claim": "/id/claim/edbee72d3a071e03ea2a",
    "curator": "/id/curator/exmech-import",
    "graph": "/id/graph/edbee72d3a071e03ea2a-provenance",
    "evidence-map": "/evidence-map",
    "query": "/query",
    "search": "/search?q=fear",
    "download": "/download/",
    "ontology": "/ontology",
}


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_fits_a_phone_screen(session: Session, name: str) -> None:
    session.open(PAGES[name])
    assert session.page.locator("h1").first.is_visible()
    scroll = session.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= PHONE["width"], f"{name} scrolls sideways: {scroll}px"
    assert session.page.locator("meta[name=viewport]").count() == 1
    session.shot(f"{name}-phone", SCREENSHOTS)


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_at_desktop_width(session: Session, name: str) -> None:
    session.page.set_viewport_size(DESKTOP)
    session.open(PAGES[name])
    assert session.page.locator("h1").first.is_visible()
    assert session.page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    session.shot(f"{name}-desktop", SCREENSHOTS)


def test_theme_to_mechanism_to_claim_to_study_by_clicking(session: Session) -> None:
    session.page.set_viewport_size({"width": 1280, "height": 900})
    session.open("/")
    session.page.locator("svg a", has_text="Psychosocial").click()
    session.page.wait_for_url("**/id/theme/psychosocial")
    session.shot("walk-1-theme")
    session.page.locator("#mechanisms a", has_text="Fear-avoidance").click()
    session.page.wait_for_url("**/id/mechanism/fear-avoidance")
    assert session.page.locator("h1").inner_text() == "Fear-avoidance"
    session.shot("walk-2-mechanism")
    session.page.locator("#claims a[href^='/id/claim/']").first.click()
    session.page.wait_for_url(re.compile(r".*/id/claim/[0-9a-f]{20}$"))
    assert session.page.locator("#assertion").is_visible()
    session.shot("walk-3-claim")
    study = session.page.locator("#provenance a[href^='/id/study/']").first
    label = study.inner_text()
    study.click()
    session.page.wait_for_url(re.compile(r".*/id/study/[a-z0-9-]+$"))
    assert session.page.locator("h1").inner_text() == label
    assert session.page.locator("#claims a[href^='/id/mechanism/fear-avoidance']").count() >= 1
    session.shot("walk-4-study")


def test_evidence_map_cell_opens_its_claims(session: Session) -> None:
    session.open("/evidence-map")
    cell = session.page.locator("td.hit a").first
    href = cell.get_attribute("href") or ""
    cell.click()
    session.page.wait_for_url("**" + href)
    anchor = href.split("#", 1)[1]
    assert session.page.locator(f"#{anchor}").is_visible()
    assert session.page.locator(f"#{anchor} a[href^='/id/claim/']").count() >= 1


def test_search_box_finds_yoga(session: Session) -> None:
    session.open("/")
    session.page.fill("#home-search", "yoga")
    session.page.press("#home-search", "Enter")
    session.page.wait_for_url("**/search?q=yoga")
    session.page.locator("main a[href='/id/exercise/yoga']").click()
    session.page.wait_for_url("**/id/exercise/yoga")


def test_ontology_term_iri_lands_on_its_entry(session: Session) -> None:
    session.open("/ontology#ThemeFrequency")
    entry = session.page.locator("#ThemeFrequency")
    assert entry.is_visible()
    assert abs(entry.bounding_box()["y"]) < 5
    assert session.page.locator("#MediationTested").count() == 1


def test_unknown_resource_shows_a_404_page(session: Session) -> None:
    response = session.page.goto(session.server.url + "/id/mechanism/no-such-thing")
    assert response is not None and response.status == 404
    assert session.page.locator("h1").inner_text() == "Not found"
    session.console[:] = [m for m in session.console if "status of 404" not in m]
