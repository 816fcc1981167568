"""Issue 14: the evidence questions give exact answers, and no null or negative finding is ever
counted as support, by the assertions, a shipped question, an API answer, a page or the map.

The expected answers come from an independent model of the source tables (data/sources/), read
with the coding rules data/README.md states, not from the importer's output.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from conftest import ROOT, LiveServer, select
from exmech import importer, queries
from flask.testing import FlaskClient

ID = "https://w3id.org/exmech/id/"
EXM = "https://w3id.org/exmech/ontology#"
SOURCES = ROOT / "data" / "sources"
# data/README.md, "Evidence coding": the level is a rule on the table's mediator code.
LEVEL = {
    "NotMeasured": "ProposedAsRationale",
    "Planned": "ProposedAsRationale",
    "TestedInCompanionPaper": "ProposedAsRationale",
    "OutcomeOnly": "MeasuredAsOutcome",
    "MediationTested": "TestedAsMediator",
    "MechanismTested": "TestedAsMediator",
    "ModeratorTested": "TestedAsModerator",
    "PooledOutcome": "PooledInReview",
}
# data/README.md, "Mediator status": the most informative status first.
INFORMATIVE = [
    "MediationTested",
    "MechanismTested",
    "ModeratorTested",
    "TestedInCompanionPaper",
    "OutcomeOnly",
    "PooledOutcome",
    "Planned",
    "SeldomTested",
    "NotMeasured",
]
NULL = {"NoEffect", "Contradicts"}
# How the table words a null or negative result; read apart from the mapping's direction column.
NULL_WORDING = re.compile(
    r"no change|not improved|unchanged|did not explain|little or no correlation|"
    r"no whole-disc group difference|unrelated to|not associated|fell about 5% with strengthening",
    re.IGNORECASE,
)


def slug(iri: str) -> str:
    return iri.rsplit("/", 1)[-1]


# Each mechanism's theme, read from the data file with rdflib (not through a shipped query).
THEMES = {
    slug(str(m)): slug(str(t))
    for m, t in rdflib.Graph()
    .parse(ROOT / "data" / "mechanisms.ttl")
    .subject_objects(rdflib.URIRef(EXM + "inTheme"))
}

LABELS_OF_THEMES = {
    slug(str(t)): str(label)
    for t, label in rdflib.Graph()
    .parse(ROOT / "data" / "themes.ttl")
    .subject_objects(rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"))
}


@dataclass(frozen=True)
class Row:
    study: str
    exercise: str
    mechanism: str
    level: str
    direction: str

    @property
    def theme(self) -> str:
        return THEMES[self.mechanism]


def model() -> tuple[set[Row], set[str], dict[str, str]]:
    """Claims as (study slug, exercise, mechanism, level, direction); review slugs; labels."""
    trials = [
        row
        for table in ("trials.csv", "trials-more.csv")
        for row in csv.DictReader(open(SOURCES / table, encoding="utf-8"))
    ]
    slugs = importer.study_slugs(trials)
    reviews = {
        slugs[t["key"]]
        for t in trials
        if "review" in t["study_type"].lower() or "meta-analysis" in t["study_type"].lower()
    }
    labels = {slugs[t["key"]]: f"{importer.surname(t['first_author'])} {t['year']}" for t in trials}
    # data/README.md: cells that make the same statement (study, exercise type, proposal or
    # direction, mechanism) are one claim, whose status is the most informative of theirs.
    best: dict[tuple[str, str, str, str], str] = {}
    for m in csv.DictReader(open(SOURCES / "mechanism-mapping.csv", encoding="utf-8")):
        if m["mechanism"]:
            for exercise in m["exercise_types"].split():
                proposal = LEVEL[m["mediator_status"]] == "ProposedAsRationale"
                key = (
                    slugs[m["key"]],
                    exercise,
                    m["mechanism"],
                    "" if proposal else m["direction"],
                )
                status = min(
                    best.get(key, m["mediator_status"]), m["mediator_status"], key=INFORMATIVE.index
                )
                best[key] = status
    rows = {
        Row(study, exercise, mechanism, LEVEL[status], direction or "NotReported")
        for (study, exercise, mechanism, direction), status in best.items()
    }
    return rows, reviews, labels


ROWS, REVIEWS, LABELS = model()


def verdict(rows: set[Row], key: tuple[str, ...]) -> dict[tuple[str, ...], dict[str, int]]:
    """The verdict counts of docs/model.md, per mechanism or per (exercise, mechanism)."""
    per_study: dict[tuple[str, ...], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in rows:
        group = tuple(getattr(r, k) for k in key)
        flags = per_study[group]
        flags["studies"].add(r.study)
        finding = r.level != "ProposedAsRationale"
        support, null = r.direction == "Supports", r.direction in NULL
        for name, hit in (
            ("proposed", not finding),
            ("proposedInReviews", not finding and r.study in REVIEWS),
            ("measured", r.level == "MeasuredAsOutcome"),
            ("measuredChanged", r.level == "MeasuredAsOutcome" and support),
            ("measuredNoChange", r.level == "MeasuredAsOutcome" and null),
            ("mediatorTested", r.level == "TestedAsMediator"),
            ("explained", r.level == "TestedAsMediator" and support),
            ("notExplained", r.level == "TestedAsMediator" and null),
            ("moderatorTested", r.level == "TestedAsModerator"),
            ("modified", r.level == "TestedAsModerator" and support),
            ("pooled", r.level == "PooledInReview"),
            ("findings", finding),
            ("findingsFromTrials", finding and r.study not in REVIEWS),
            ("findingsFromReviews", finding and r.study in REVIEWS),
            ("supporting", support),
            ("nullOrContradicting", null),
        ):
            if hit:
                flags[name].add(r.study)
    return {g: {k: len(v) for k, v in f.items()} for g, f in per_study.items()}


COLUMNS = [
    "studies proposed proposedInReviews measured measuredChanged measuredNoChange mediatorTested "
    "explained notExplained moderatorTested modified pooled findings findingsFromTrials "
    "findingsFromReviews supporting nullOrContradicting"
][0].split()


def ask(reader: object, name: str) -> list[dict[str, str]]:
    return select(reader, queries.load(name).text)


# --- exact answers ----------------------------------------------------------------------


def test_mechanism_verdicts_are_exact(reader: object) -> None:
    expected = verdict(ROWS, ("mechanism",))
    got = {
        (slug(r["mechanism"]),): {c: int(r[c]) for c in COLUMNS}
        for r in ask(reader, "mechanism-verdict")
    }
    assert got == {k: {c: v.get(c, 0) for c in COLUMNS} for k, v in expected.items()}
    # The sentence the pages print, for one mechanism with mediator tests both ways: Mannion
    # 2001 part 3 and Unsgaard-Tondel 2011 (thickness) did not explain; Ferreira 2010,
    # Marshall 2008 and Unsgaard-Tondel 2011 (lateral slide) did.
    assert got[("motor-control",)]["notExplained"] == 2
    assert got[("motor-control",)]["explained"] == 3


def test_theme_verdicts_are_exact(reader: object) -> None:
    """Distinct studies per theme: a study with claims on several of a theme's mechanisms
    counts once (the sum over the theme's mechanisms would count it again)."""
    expected = verdict(ROWS, ("theme",))
    got = {
        (slug(r["theme"]),): {c: int(r[c]) for c in COLUMNS} for r in ask(reader, "theme-verdict")
    }
    assert got == {k: {c: v.get(c, 0) for c in COLUMNS} for k, v in expected.items()}
    per_mechanism = verdict(ROWS, ("mechanism",))
    summed = sum(v["studies"] for (m,), v in per_mechanism.items() if THEMES[m] == "neuromuscular")
    assert got[("neuromuscular",)]["studies"] < summed


def test_exercise_mechanism_verdicts_are_exact(reader: object) -> None:
    expected = verdict(ROWS, ("exercise", "mechanism"))
    got = {
        (slug(r["exercise"]), slug(r["mechanism"])): {c: int(r[c]) for c in COLUMNS}
        for r in ask(reader, "exercise-mechanism-verdict")
    }
    assert got == {k: {c: v.get(c, 0) for c in COLUMNS} for k, v in expected.items()}


def test_null_findings_are_exactly_the_null_and_contradicting_claims(reader: object) -> None:
    expected = {(r.study, r.exercise, r.mechanism) for r in ROWS if r.direction in NULL}
    rows = ask(reader, "null-findings")
    assert {(slug(r["study"]), slug(r["exercise"]), slug(r["mechanism"])) for r in rows} == expected
    assert len(rows) == len(expected) == 30 + 11
    assert all(NULL_WORDING.search(r["wording"]) for r in rows), rows


def test_mediation_explains_is_exact(reader: object) -> None:
    tested: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in ROWS:
        if r.level == "TestedAsMediator":
            tested[r.mechanism][r.direction].add(r.study)
    expected = {}
    for mechanism, by in tested.items():
        explained = by["Supports"]
        if explained:
            failed = (by["NoEffect"] | by["Contradicts"]) - explained
            unreported = by["NotReported"] - explained - failed
            names = sorted(LABELS[s] for s in explained)
            expected[mechanism] = (len(explained), len(failed), len(unreported), names)
    got = {
        slug(r["mechanism"]): (
            int(r["explainedIn"]),
            int(r["notExplainedIn"]),
            int(r["notReportedIn"]),
            sorted(r["studies"].split(", ")),
        )
        for r in ask(reader, "mediation-explains")
    }
    assert got == expected
    assert set(got) == {
        "endorphins", "exercise-adherence", "fear-avoidance", "catastrophizing",
        "pain-self-efficacy", "psychological-distress", "sleep",
        # issue 18: Ferreira 2010, Marshall 2008, Unsgaard-Tondel 2011; Steele 2019
        "motor-control", "muscle-strength",
    }  # fmt: skip


def test_proposals_outnumber_tests_is_exact(reader: object) -> None:
    proposed, tested = defaultdict(set), defaultdict(set)
    for r in ROWS:
        if r.level == "ProposedAsRationale":
            proposed[r.mechanism].add(r.study)
        if r.level in ("TestedAsMediator", "TestedAsModerator"):
            tested[r.mechanism].add(r.study)
    expected = {
        m: (len(proposed[m]), len(tested[m]), len(proposed[m]) - len(tested[m]))
        for m in proposed
        if len(proposed[m]) > len(tested[m])
    }
    rows = ask(reader, "proposals-outnumber-tests")
    got = {
        slug(r["mechanism"]): (int(r["proposedIn"]), int(r["testedIn"]), int(r["gap"]))
        for r in rows
    }
    assert got == expected
    gaps = [int(r["gap"]) for r in rows]
    assert gaps == sorted(gaps, reverse=True) and got["motor-control"] == (11, 4, 7)


# --- no null finding counted as support ---------------------------------------------------


def shipped_dataset(drop: set[str] = frozenset()) -> ox.Store:
    """The shipped files in memory, leaving out the four graphs of the claims in ``drop``."""
    store = ox.Store()
    for path in sorted((ROOT / "ontology").glob("*.ttl")):
        store.load(
            path=str(path), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(f"urn:{path.name}")
        )
    for path in sorted((ROOT / "data").glob("*.ttl")):
        store.load(
            path=str(path), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(f"urn:{path.name}")
        )
    store.load(path=str(ROOT / "data" / "claims.trig"), format=ox.RdfFormat.TRIG)
    for claim in drop:
        for part in ("head", "assertion", "provenance", "pubinfo"):
            store.remove_graph(ox.NamedNode(f"{ID}graph/{slug(claim)}-{part}"))
    return store


def run(store: ox.Store, name: str) -> list[dict[str, str]]:
    result = store.query(queries.load(name).text, use_default_graph_as_union=True)
    return [{v.value: s[v].value for v in result.variables if s[v] is not None} for s in result]


def null_claims(store: ox.Store) -> set[str]:
    """Claims whose table wording (the mediator note, or the words from the row's notes that
    decide the direction) reports a null or negative result."""
    text = f"""PREFIX np: <http://www.nanopub.org/nschema#>
    SELECT ?claim ?note ?words WHERE {{ ?claim np:hasProvenance ?p ; np:hasAssertion ?a .
      GRAPH ?p {{ ?a <{EXM}mediatorStatusNote> ?note
                  OPTIONAL {{ ?a <{EXM}directionWording> ?words }} }} }}"""
    return {
        s["claim"].value
        for s in store.query(text, use_default_graph_as_union=True)
        if NULL_WORDING.search(s["note"].value + " " + (s["words"].value if s["words"] else ""))
    }


@pytest.fixture(scope="module")
def stores() -> tuple[ox.Store, ox.Store, set[str]]:
    full = shipped_dataset()
    nulls = null_claims(full)
    # Mannion part 3 (15), Steiger (9), Owen, Liu, Chatzitheodorou, Neason; then (issue 18)
    # Danneels (2), Berglund (2), Marshall 2008, Franca, Unsgaard-Tondel 2011 (3), Rittweger (2)
    assert len(nulls) == 30 + 11
    return full, shipped_dataset(nulls), nulls


SUPPORT_COUNTS = ("supporting", "explained", "measuredChanged", "modified")


def test_assertions_alone_never_read_a_null_finding_as_support(stores) -> None:
    full, _, nulls = stores

    def stating(predicate: str) -> set[str]:
        text = (
            "SELECT ?claim WHERE { ?claim <http://www.nanopub.org/nschema#hasAssertion> ?a . "
            f"GRAPH ?a {{ ?e <{EXM}{predicate}> ?m }} }}"
        )
        return {s["claim"].value for s in full.query(text, use_default_graph_as_union=True)}

    supported = stating("supportedMechanism")
    assert supported and not supported & nulls
    assert not stating("proposedMechanism") & nulls
    assert stating("unsupportedMechanism") | stating("contradictedMechanism") == nulls
    assert len(stating("contradictedMechanism")) == 1  # Franca 2010, strengthening arm


@pytest.mark.parametrize(
    "name,key",
    [
        ("mechanism-verdict", ("mechanism",)),
        ("exercise-mechanism-verdict", ("exercise", "mechanism")),
        ("theme-verdict", ("theme",)),
    ],
)
def test_null_findings_add_nothing_to_any_support_count(
    stores, name: str, key: tuple[str, ...]
) -> None:
    """Taking every null claim out changes no supporting number a shipped question gives."""
    full, without, nulls = stores

    def counts(store: ox.Store) -> dict[tuple[str, ...], tuple[int, ...]]:
        return {
            tuple(r[k] for k in key): tuple(int(r[c]) for c in SUPPORT_COUNTS)
            for r in run(store, name)
        }

    with_nulls, without_nulls = counts(full), counts(without)
    for group, support in without_nulls.items():
        assert with_nulls[group] == support, group
    for group in set(with_nulls) - set(without_nulls):  # only null claims there
        assert with_nulls[group] == (0, 0, 0, 0), group


def test_null_findings_add_nothing_to_mediation_evidence(stores) -> None:
    full, without, nulls = stores

    def explained(store: ox.Store) -> dict[str, tuple[str, str]]:
        return {
            r["mechanism"]: (r["explainedIn"], r["studies"])
            for r in run(store, "mediation-explains")
        }

    assert explained(full) == explained(without)
    for row in run(full, "mediation-explains"):
        assert not set(row["claims"].split()) & nulls, row


# --- pages, API and the evidence map --------------------------------------------------------


def test_api_verdicts_count_no_null_finding_as_support(client: FlaskClient, stores) -> None:
    _, without, nulls = stores
    body = client.get("/api/verdicts/mechanisms").get_json()
    clean = {r["mechanism"]: r for r in run(without, "mechanism-verdict")}
    for row in body["rows"]:
        base = clean.get(row["mechanism"], {})
        for count in SUPPORT_COUNTS:
            assert row[count] == int(base.get(count, 0)), (row["mechanism"], count)
    answer = client.get("/api/questions/null-findings").get_json()
    assert {r["claim"] for r in answer["rows"]} == nulls


def test_the_evidence_map_colours_null_only_cells_as_null(client: FlaskClient, stores) -> None:
    full, without, nulls = stores
    html = client.get("/evidence-map").get_data(as_text=True)
    cells = re.findall(
        r'<td class="hit dir-([a-z]+)"[^>]*>'
        r'<a href="/id/mechanism/([a-z0-9-]+)#exercise-([a-z0-9-]+)"',
        html,
    )
    assert cells
    support = {
        (slug(r["mechanism"]), slug(r["exercise"]))
        for r in run(without, "exercise-mechanism-verdict")
        if int(r["supporting"])
    }
    null_only = {
        (slug(r["mechanism"]), slug(r["exercise"]))
        for r in run(full, "exercise-mechanism-verdict")
        if int(r["nullOrContradicting"]) and not int(r["supporting"])
    }
    assert null_only
    for direction, mechanism, exercise in cells:
        if direction in ("supports", "mixed"):
            assert (mechanism, exercise) in support, (mechanism, exercise)
        if (mechanism, exercise) in null_only:
            assert direction == "null", (mechanism, exercise, direction)


def test_mechanism_and_theme_pages_state_the_verdict(client: FlaskClient) -> None:
    html = client.get("/id/mechanism/muscle-strength").get_data(as_text=True)
    assert (
        # issue 18 adds Suh 2019 (measured, not reported), Steele 2019 (explained) and
        # Rittweger 2002 (did not explain) to Mannion 2001 part 3 and Steiger 2012
        "Muscle strength: proposed in 6 studies; measured as an outcome in 7 (1 changed, "
        "0 no change); tested as a mediator in 4 (explained in 1, did not explain in 3)." in html
    )
    theme = client.get("/id/theme/neuromuscular").get_data(as_text=True)
    assert "tested as a mediator in 4 (explained in 1, did not explain in 3)" in theme
    home = client.get("/").get_data(as_text=True)
    assert "no effect or no association" in home and "tested as mediator" in home


def test_exmech_stats_counts_by_level_and_direction(built_state: Path, runner: CliRunner) -> None:
    from exmech.cli import main

    result = runner.invoke(main, ["--state-dir", str(built_state), "stats"])
    assert result.exit_code == 0, result.output
    line = next(
        x for x in result.output.splitlines() if "exm:TestedAsMediator" in x and "exm:NoEffect" in x
    )
    # Mannion 2001 part 3 (15) and Steiger 2012 (9); Berglund 2017 (2), Unsgaard-Tondel 2011
    # (3) and Rittweger 2002 (2)
    assert line.split()[-2:] == ["31", "5"]


def test_the_three_questions_are_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("mediation-explains", "null-findings", "proposals-outnumber-tests"):
        assert f"exmech query {name}" in readme, name
        json.dumps(name)


# --- the theme pages, over HTTP ----------------------------------------------------------

SENTENCE = {  # what the theme sentence says -> the counts it says it with
    r"proposed in (\d+) stud(?:y|ies)(?: \((\d+) of them (?:a )?reviews?\))?": (
        "proposed",
        "proposedInReviews",
    ),
    r"measured as an outcome in (\d+) \((\d+) changed, (\d+) no change\)": (
        "measured",
        "measuredChanged",
        "measuredNoChange",
    ),
    r"tested as a mediator in (\d+) \(explained in (\d+), did not explain in (\d+)\)": (
        "mediatorTested",
        "explained",
        "notExplained",
    ),
    r"tested as a moderator in (\d+) \(modified the effect in (\d+)\)": (
        "moderatorTested",
        "modified",
    ),
    r"pooled in (\d+) reviews?": ("pooled",),
}
COUNTS_TABLE = ("proposed", "measured", "mediatorTested", "moderatorTested", "pooled")


def test_theme_pages_state_the_theme_verdict(live_server: LiveServer) -> None:
    """Each theme page opens with one sentence and a table of counts for the whole theme, equal
    to distinct studies counted from the source tables; a count of 0 is left out of the
    sentence, and no null finding is among the supporting numbers."""
    expected = verdict(ROWS, ("theme",))
    assert {t for (t,) in expected} >= {"neuromuscular", "psychosocial", "tissue-healing"}
    for (theme,), counts in expected.items():
        page = httpx.get(f"{live_server.url}/id/theme/{theme}", timeout=30)
        assert page.status_code == 200, theme
        found = re.search(
            r'<section id="verdict">.*?<p class="verdict">(.*?)</p>(.*?)</section>', page.text, re.S
        )
        assert found, theme
        sentence, table = html.unescape(found.group(1)), found.group(2)
        label, _, said = sentence.partition(": ")
        assert said.endswith(".") and label == LABELS_OF_THEMES[theme], sentence
        parts = said[:-1].split("; ")
        stated: dict[str, int] = {}
        for part in parts:
            pattern = next(p for p in SENTENCE if re.fullmatch(p, part))
            numbers = re.fullmatch(pattern, part).groups()  # type: ignore[union-attr]
            stated.update({k: int(n or 0) for k, n in zip(SENTENCE[pattern], numbers, strict=True)})
        assert stated == {k: counts.get(k, 0) for k in stated}, (theme, sentence)
        # every kind of evidence the theme has is in the sentence, and nothing it has not
        assert {k for k in COUNTS_TABLE if k in stated} == {
            k for k in COUNTS_TABLE if counts.get(k)
        }
        cells = [int(c) for c in re.findall(r"<td>(\d+)</td>", table)]
        assert cells == [
            counts.get(k, 0)
            for k in (
                "proposed measured measuredChanged measuredNoChange mediatorTested explained "
                "notExplained moderatorTested modified pooled"
            ).split()
        ], (theme, cells)
        trials = re.search(r"Findings from trials: (\d+); from reviews: (\d+)\.", table)
        assert trials and trials.groups() == (
            str(counts.get("findingsFromTrials", 0)),
            str(counts.get("findingsFromReviews", 0)),
        ), theme


def test_api_theme_verdicts_are_exact_and_name_every_claim(client: FlaskClient) -> None:
    """One row per theme, with the counts of the source tables and the claims counted (each
    current claim is about one mechanism, so in exactly one theme)."""
    body = client.get("/api/verdicts/themes").get_json()
    assert not body["truncated"]
    expected = verdict(ROWS, ("theme",))
    assert {(slug(r["theme"]),): {c: r[c] for c in COLUMNS} for r in body["rows"]} == {
        k: {c: v.get(c, 0) for c in COLUMNS} for k, v in expected.items()
    }
    assert len(body["rows"]) == len(expected)
    named = [iri for r in body["rows"] for iri in r["nanopublications"]]
    assert len(named) == len(set(named)) == len(ROWS)


def table_counts() -> dict[str, int]:
    """Counted from the source tables: a further report of a trial in the graph is a report
    (and its claims count) but not another study or trial; a pooled analysis is no trial."""
    trials = [
        row
        for table in ("trials.csv", "trials-more.csv")
        for row in csv.DictReader(open(SOURCES / table, encoding="utf-8"))
    ]
    further = {
        r["key"] for r in csv.DictReader(open(SOURCES / "study-links.csv", encoding="utf-8"))
    }
    reviews = {
        t["key"]
        for t in trials
        if "review" in t["study_type"].lower() or "meta-analysis" in t["study_type"].lower()
    }
    pooled = {t["key"] for t in trials if "pooled" in t["study_type"]}
    findings = [r for r in ROWS if r.level != "ProposedAsRationale"]
    return {
        "reports": len(trials),
        "furtherReports": len(further),
        "studies": len(trials) - len(further),
        "trials": len(trials) - len(further) - len(reviews) - len(pooled),
        "reviews": len(reviews),
        "claims": len(ROWS),
        "proposals": len(ROWS) - len(findings),
        "supporting": sum(r.direction == "Supports" for r in findings),
        "noEffect": sum(r.direction == "NoEffect" for r in findings),
        "contradicting": sum(r.direction == "Contradicts" for r in findings),
        "notReported": sum(r.direction == "NotReported" for r in findings),
    }


def test_report_counts_tell_reports_studies_trials_and_claims_apart(reader: object) -> None:
    (row,) = ask(reader, "report-counts")
    got = {k: int(v) for k, v in row.items()}
    assert got == table_counts()
    assert (got["reports"], got["studies"], got["trials"], got["claims"]) == (78, 74, 60, 279)


def test_the_home_page_counts_studies_trials_reports_and_claims_in_force(
    live_server: LiveServer,
) -> None:
    """The headline numbers a reader sees first: a further report of a trial is not another
    study, and a retracted claim is not in force (the home page once added up design classes)."""
    page = httpx.get(live_server.url + "/", timeout=30).text
    stats = re.search(r'<ul class="stats">(.*?)</ul>', page, re.S)
    assert stats, "the home page lists no headline numbers"
    text = re.sub(r"<[^>]+>", "", stats.group(1))
    want = table_counts()
    assert f"{want['claims']} claims in force" in text, text
    assert (
        f"{want['studies']} studies ({want['trials']} trials, {want['reviews']} reviews) "
        f"in {want['reports']} reports"
    ) in text, text
