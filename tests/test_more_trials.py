"""Issue 18 on a live server: the 20 studies of trials-more.csv, their links to the trials
they re-analyse, their caveats, and their tested evidence with its direction on the mechanism
pages and in the verdict question.

Expected values are read from the source tables (data/sources/), not from the RDF."""

from __future__ import annotations

import csv
import html
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import ROOT

SOURCES = ROOT / "data" / "sources"
ID = "https://w3id.org/exmech/id/"


def rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(open(SOURCES / name, encoding="utf-8")))


def page(server, path: str) -> str:
    response = httpx.get(server.url + path, timeout=30)
    assert response.status_code == 200, (path, response.status_code)
    return html.unescape(response.text)


def section(text: str, name: str) -> str:
    start = text.index(f'<section id="{name}">')
    return text[start : text.index("</section>", start)]


@pytest.fixture(scope="module")
def slugs() -> dict[str, str]:
    from exmech import importer

    return importer.study_slugs([*rows("trials.csv"), *rows("trials-more.csv")])


def test_every_new_study_has_a_page_with_its_identifiers(live_server, slugs) -> None:
    for row in rows("trials-more.csv"):
        text = page(live_server, f"/id/study/{slugs[row['key']]}")
        assert row["title"] in text, row["key"]
        for identifier in (row["doi"], row["pmid"]):
            if identifier:
                assert identifier in text, (row["key"], identifier)
        if not row["pmid"]:
            assert "PubMed ID not reported" in text, row["key"]


def test_further_reports_link_both_ways_on_the_pages(live_server, slugs) -> None:
    for link in rows("study-links.csv"):
        report, trial = slugs[link["key"]], slugs[link["parent_key"]]
        own = section(page(live_server, f"/id/study/{report}"), "same-trial")
        assert f'href="/id/study/{trial}"' in own and "not independent evidence" in own
        parent = section(page(live_server, f"/id/study/{trial}"), "same-trial")
        assert f'href="/id/study/{report}"' in parent
    # A trial nobody re-analysed has no such section.
    assert 'id="same-trial"' not in page(live_server, "/id/study/costa-2009")


def test_caveats_are_shown_on_the_study_page(live_server, slugs) -> None:
    for caveat in rows("study-caveats.csv"):
        text = section(page(live_server, f"/id/study/{slugs[caveat['key']]}"), "caveats")
        assert caveat["note"] in text, caveat["key"]
    assert 'id="caveats"' not in page(live_server, "/id/study/costa-2009")


def test_mechanism_page_shows_the_new_tests_with_their_direction(live_server) -> None:
    claims = page(live_server, "/id/mechanism/muscle-strength")
    # Steele 2019 explained it; Rittweger 2002 did not (trials-more.csv notes).
    for study, direction in (("steele-2019", "Supports"), ("rittweger-2002", "NoEffect")):
        row = next(r for r in claims.split("<tr>") if f'href="/id/study/{study}"' in r)
        assert "tested as mediator" in row and f'class="direction-{direction}"' in row, study
    franca = page(live_server, "/id/mechanism/motor-control")
    row = next(
        r
        for r in franca.split("<tr>")
        if 'href="/id/study/franca-2010"' in r and "Contradicts" in r
    )
    assert 'class="direction-Contradicts"' in row


def test_verdict_question_counts_the_new_tests(live_server) -> None:
    answer = httpx.get(live_server.url + "/api/verdicts/mechanisms", timeout=30).json()
    by = {r["mechanism"].rsplit("/", 1)[1]: r for r in answer["rows"]}
    value = lambda m, k: int(by[m][k])  # noqa: E731
    # Muscle strength: Mannion 2001 part 3, Steiger 2012, Rittweger 2002 did not explain;
    # Steele 2019 did.
    assert (value("muscle-strength", "mediatorTested"), value("muscle-strength", "explained")) == (
        4,
        1,
    )
    assert value("muscle-strength", "notExplained") == 3
    explains = httpx.get(live_server.url + "/api/questions/mediation-explains", timeout=30).json()
    studies = {r["mechanism"].rsplit("/", 1)[1]: r["studies"] for r in explains["rows"]}
    assert set(studies["motor-control"].split(", ")) == {
        "Ferreira 2010",
        "Marshall 2008",
        "Unsgaard-Tøndel 2011",
    }
    assert studies["muscle-strength"] == "Steele 2019"


def test_shapes_refuse_a_second_parent_an_unknown_caveat_and_an_untagged_note(
    tmp_path: Path, runner: CliRunner
) -> None:
    """`exmech validate --data` over the shipped data plus a bad description of one study."""
    from exmech.cli import main

    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix exm: <https://w3id.org/exmech/ontology#> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        f"<{ID}study/chan-2011> exm:caveat exm:Rumour ; skos:editorialNote 'plain' ;\n"
        f"  exm:secondaryReportOf <{ID}study/costa-2009>, <{ID}study/hall-2011> .\n",
        encoding="utf-8",
    )
    # without bad.ttl the same command passes: test_cli.py's
    # test_validate_accepts_every_shipped_data_file runs it (a whole-data SHACL run, not repeated)
    files = sorted(str(p) for p in (ROOT / "data").glob("*.t*"))
    result = runner.invoke(main, ["validate", "--data", *files, str(bad)])
    assert result.exit_code == 1, result.output
    for words in (
        "further report of at most one trial",
        "exm:caveat takes one of the caveat kinds",
        "a language-tagged literal",
    ):
        assert words in result.output, words
