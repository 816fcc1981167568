"""The query page is YASGUI, served from our own files: type, run, read the table, download.

At desktop and phone width; the session fixture fails a test when any request leaves
127.0.0.1, a console error is logged (a CSP violation is one) or a dialog opens.
"""

from __future__ import annotations

from typing import Any

import kit
import pytest
from conftest import ARTIFACTS
from kit import DESKTOP, PHONE_390, SCREENSHOTS, Session

pytestmark = [pytest.mark.browser, pytest.mark.live]
browser, session = kit.browser, kit.session  # the shared fixtures

EDITOR = ".yasqe .CodeMirror"
ROWS = ".yasr .dataTable tbody tr"


def editor_ready(session: Session) -> Any:
    session.open("/query")
    session.page.locator(EDITOR).first.wait_for()
    return session.page


def type_query(page: Any, text: str) -> None:
    """Type as a person does: click into the editor, select all, type over it."""
    page.locator(EDITOR).first.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def first_cell(page: Any) -> Any:
    return page.locator(f"{ROWS} td:nth-child(2)").first


def visible_editor_text(page: Any) -> str:
    return str(page.evaluate("window.exmechYasgui.getTab().getYasqe().getValue()"))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_390], ids=["desktop", "phone"])
def test_type_a_query_run_it_with_ctrl_enter_and_read_the_table(
    session: Session, viewport: dict[str, int]
) -> None:
    session.page.set_viewport_size(viewport)
    page = editor_ready(session)
    type_query(
        page,
        "SELECT ?theme ?label WHERE { ?theme a exm:Theme ; skos:prefLabel ?label }\n"
        "ORDER BY ?label",
    )
    # Typing a known prefixed name declared its prefix, from our own list.
    text = visible_editor_text(page)
    assert "PREFIX exm: <https://w3id.org/exmech/ontology#>" in text
    assert "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>" in text
    page.keyboard.press("Control+Enter")
    rows = page.locator(ROWS)
    rows.first.wait_for()
    assert rows.count() == 6  # five of the review's themes and "other"
    headers = page.locator(".yasr .dataTable thead th").all_inner_texts()
    assert [h.strip() for h in headers][1:] == ["theme", "label"]
    # IRIs are shown as prefixed names; labels in the order asked.
    first = rows.first.locator("td").all_inner_texts()
    assert first[1].strip() == "theme:cardiometabolic" and "Cardiometabolic" in first[2]
    name = "desktop" if viewport is DESKTOP else "phone"
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    session.shot(f"query-{name}", SCREENSHOTS)


def test_columns_sort_and_pages_turn(session: Session) -> None:
    from playwright.sync_api import expect  # here: the kit skips cleanly without playwright

    session.page.set_viewport_size(DESKTOP)
    page = editor_ready(session)
    type_query(page, "SELECT ?mechanism WHERE { ?mechanism a exm:Mechanism } ORDER BY ?mechanism")
    page.keyboard.press("Control+Enter")
    page.locator(ROWS).first.wait_for()
    cells = page.locator(f"{ROWS} td:nth-child(2)")
    ascending = [c.strip() for c in cells.all_inner_texts()]
    assert ascending == sorted(ascending) and len(ascending) > 1
    header = page.locator(".yasr .dataTable thead th", has_text="mechanism")
    header.click()  # DataTables sorts ascending first, then descending
    # Waits go through locators, never wait_for_function: a polled function is a string the
    # page would have to eval, which the page's CSP refuses (and the fixture counts that error).
    page.locator(".yasr .dataTable thead th[aria-sort]").first.wait_for()
    if header.get_attribute("aria-sort") != "descending":
        header.click()
    expect(first_cell(page)).not_to_have_text(ascending[0])
    descending = [c.strip() for c in cells.all_inner_texts()]
    assert descending == sorted(descending, reverse=True)
    # Over 40 mechanisms: more than one page at 10 rows a page.
    page.select_option(".yasr .tableSizer select, .yasr select.tableSizer", "10")
    assert page.locator(ROWS).count() == 10
    page.locator(".yasr .dt-paging-button.next, .yasr .paginate_button.next").first.click()
    expect(first_cell(page)).not_to_have_text(descending[0])


def test_shipped_question_opens_in_its_own_tab_and_downloads_under_its_name(
    session: Session,
) -> None:
    session.page.set_viewport_size(DESKTOP)
    page = editor_ready(session)
    page.select_option("#example", "completeness")
    page.click("#open-example")
    page.locator(".yasgui .tabsList .tab.active", has_text="completeness").wait_for()
    assert "# Answers:" in visible_editor_text(page)
    page.locator(".yasqe_queryButton >> visible=true").click()
    page.locator(ROWS).first.wait_for()
    assert page.locator(ROWS).count() == 1
    with page.expect_download() as info:
        page.locator(".yasr_downloadIcon >> visible=true").click()
    download = info.value
    assert download.suggested_filename == "completeness.csv"
    saved = ARTIFACTS / "browser-query-completeness.csv"
    download.save_as(str(saved))
    assert saved.read_text().splitlines()[0] == '"review","reported","curated","missing"'


def test_the_service_limits_are_on_the_page(session: Session) -> None:
    page = editor_ready(session)
    limits = page.locator("#limits").inner_text()
    # The live server runs with a 2 s timeout, 100 rows and 20,000-byte queries.
    assert "2.0 s" in limits and "100 rows" in limits and "20000 bytes" in limits


def test_completion_offers_our_properties(session: Session) -> None:
    session.page.set_viewport_size(DESKTOP)
    page = editor_ready(session)
    type_query(page, "SELECT * WHERE { ?e exm:proposed")
    page.keyboard.press("Control+Space")
    hints = page.locator(".CodeMirror-hints li")
    hints.first.wait_for()
    assert "exm:proposedMechanism" in [h.strip() for h in hints.all_inner_texts()]


def test_a_bad_query_shows_the_servers_message(session: Session) -> None:
    page = editor_ready(session)
    type_query(page, "SELECT * WHERE { ?s ?p }")
    page.locator(".yasqe_queryButton >> visible=true").click()
    page.locator(".yasr .errorResult, .yasr .error").first.wait_for()
    assert "SPARQL syntax error at 1:25" in page.locator(".yasr").inner_text()
    session.console[:] = [m for m in session.console if "status of 400" not in m]
