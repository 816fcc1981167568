"""Every shipped .rq file: documented, parses, and gives the exact answer on the shipped data.

Expected values come from the review (as reported) or are recomputed here from the data
files with rdflib, independently of the store and of the queries.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from conftest import ROOT, select
from exmech import queries, vocab

EXM = rdflib.Namespace("https://w3id.org/exmech/ontology#")
ID = "https://w3id.org/exmech/id/"


@pytest.fixture(scope="module")
def files_dataset() -> rdflib.Dataset:
    ds = rdflib.Dataset()
    for path in sorted((ROOT / "data").glob("*.ttl")):
        ds.graph(rdflib.URIRef(f"file:{path.name}")).parse(path, format="turtle")
    ds.parse(ROOT / "data" / "claims.trig", format="trig")
    return ds


@pytest.mark.parametrize("name", queries.names())
def test_every_query_says_what_it_answers_and_runs(name: str, reader) -> None:
    query = queries.load(name)
    assert query.answers.endswith("?"), f"{name}.rq needs a '# Answers: ...?' line"
    select(reader, query.text)  # raises on a syntax error


def test_theme_percentages_computed_from_counts_match_the_review(reader) -> None:
    rows = select(reader, queries.load("theme-frequencies").text)
    got = {r["theme"].rsplit("/", 1)[1]: r for r in rows}
    expected = {
        "neuromuscular": (105, 44),
        "psychosocial": (87, 36),
        "neurophysiological": (22, 9),
        "cardiometabolic": (15, 6),
        "tissue-healing": (12, 5),
    }
    assert set(got) == set(expected)
    for slug, (mentions, percent) in expected.items():
        row = got[slug]
        assert int(row["mentions"]) == mentions
        assert int(row["total"]) == 241
        assert float(row["computedPercent"]) == percent
        assert row["matches"] == "true"
    assert [r["theme"].rsplit("/", 1)[1] for r in rows] == list(expected)


def test_review_figures(reader) -> None:
    (row,) = select(reader, queries.load("review-figures").text)
    assert row["review"] == ID + "study/wun-2021"
    assert (row["trials"], row["withoutMechanism"], row["mechanisms"]) == ("110", "36", "33")
    assert (row["records"], row["withMechanism"]) == ("186", "74")


def test_fifteen_of_thirty_three_listings_curated(reader) -> None:
    (row,) = select(reader, queries.load("completeness").text)
    assert (row["reported"], row["curated"], row["missing"]) == ("33", "15", "18")


def test_mechanisms_by_theme_ranks_the_fifteen_public_names(reader) -> None:
    rows = select(reader, queries.load("mechanisms-by-theme").text)
    ranked = sorted((int(r["rank"]), r["mechanism"].rsplit("/", 1)[1]) for r in rows if "rank" in r)
    assert ranked[:3] == [(1, "muscle-strength"), (2, "motor-control"), (3, "muscle-endurance")]
    assert [rank for rank, _ in ranked] == list(range(1, 16))
    basis = {r["mechanism"].rsplit("/", 1)[1]: r["themeBasis"].rsplit("#", 1)[1] for r in rows}
    assert basis["muscle-strength"] == "SeenInSource"
    assert basis["flexibility"] == "InferredByCurator"


@pytest.mark.parametrize("mechanism", ["pain-self-efficacy", "endorphins", "muscle-strength"])
def test_mechanism_claims_match_the_claims_file(mechanism: str, reader, files_dataset) -> None:
    iri = f"{ID}mechanism/{mechanism}"
    rows = select(reader, queries.load("mechanism-claims").text, mechanism=f"<{iri}>")
    expected = set()
    for exercise, _p, _o, graph in files_dataset.quads((None, None, rdflib.URIRef(iri), None)):
        if not str(_p).endswith("Mechanism") or str(_p) == vocab.EXM + "listedMechanism":
            continue
        claim = str(graph).replace("/graph/", "/claim/").removesuffix("-assertion")
        if any(
            files_dataset.quads(
                (None, rdflib.URIRef(vocab.NPX + "retracts"), rdflib.URIRef(claim), None)
            )
        ):
            continue  # withdrawn (retracted) claims of release 0.1.0
        expected.add((claim, str(exercise)))
    assert expected, f"the shipped data has claims for {mechanism}"
    assert {(r["claim"], r["exercise"]) for r in rows} == expected
    for r in rows:
        assert r["curator"] == ID + "curator/exmech-import"
        assert r["created"].startswith("2026-")
        assert "doi" in r or "pmid" in r


def test_claims_per_theme_counts_every_claim_once_per_theme(reader, files_dataset) -> None:
    rows = select(reader, queries.load("claims-per-theme").text)
    total = sum(int(r["claims"]) for r in rows)
    claims = {s for s, _p, _o, _g in files_dataset.quads((None, rdflib.RDF.type, EXM.Claim, None))}
    assert total == len(claims) > 200


def test_query_files_are_package_data() -> None:
    folder = Path(queries.__file__).parent
    assert sorted(p.stem for p in folder.glob("*.rq")) == queries.names()
