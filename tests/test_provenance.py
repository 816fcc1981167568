"""Provenance questions: exact answers on the shipped data and on a purpose-built history.

Expectations never come from the queries: they are recomputed here from the data files with
rdflib (a small model of claims, retractions and studies, with its own "in force" rule), from
the source CSVs, from the review's printed figures, or written out by hand from
tests/data/history.trig, whose header says what it contains.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from conftest import ROOT
from exmech import provenance, queries
from exmech.build import build
from exmech.errors import BadRequest, NotFound
from exmech.settings import Settings
from exmech.store.cache import AnswerCache
from exmech.store.embedded import EmbeddedStore

ID = "https://w3id.org/exmech/id/"
EXM = rdflib.Namespace("https://w3id.org/exmech/ontology#")
NP = rdflib.Namespace("http://www.nanopub.org/nschema#")
NPX = rdflib.Namespace("http://purl.org/nanopub/x/")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
BIBO = rdflib.Namespace("http://purl.org/ontology/bibo/")
SKOS = rdflib.SKOS
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(ConjunctiveGraph|default_context).*:DeprecationWarning"
)
FIXTURE = ROOT / "tests" / "data" / "history.trig"
ADA, BO = "https://example.org/curator/ada", "https://example.org/curator/bo"
IMPORT = ID + "curator/exmech-import"
REVIEW_CLASSES = {EXM.SystematicReview, EXM.MetaAnalysis}
TRIAL_CLASSES = {
    EXM.RandomisedControlledTrial,
    EXM.NonRandomisedControlledTrial,
    EXM.SecondaryAnalysis,
}

# The fixture's nanopublications (tests/data/history.trig).
S1, S2 = ID + "claim/b4430077aab51b613f10", ID + "claim/7648b24b318a7e633e78"
H1, H2 = ID + "claim/cc73521e18342c2aaae0", ID + "claim/a6cf86ab2bccabd457ca"
H3, H4 = ID + "claim/76e04bc72855fcb7d1bf", ID + "claim/2ec6a3ebcf6c15beb050"
R1, R2 = ID + "claim/720df0cb9607374dbd6f", ID + "claim/e8d507eb83e3f8c7e303"


# --- an independent model of the files -------------------------------------------------


@dataclass
class Claim:
    iri: str
    exercise: str
    mechanism: str
    study: str
    location: str | None
    status: str | None
    curator: str
    created: str
    supersedes: set[str] = field(default_factory=set)


@dataclass
class Model:
    claims: dict[str, Claim]
    retractions: dict[str, tuple[str, str, set[str]]]  # iri -> (curator, created, targets)
    types: dict[str, set[str]]
    doi: dict[str, str]  # study -> DOI
    label: dict[str, str]
    theme: dict[str, str]  # mechanism -> theme
    reported: dict[str, tuple[int, int]]  # theme -> (mentions, percent)

    @property
    def current(self) -> dict[str, Claim]:
        gone = {old for c in self.claims.values() for old in c.supersedes}
        gone |= {t for _c, _d, targets in self.retractions.values() for t in targets}
        return {k: c for k, c in self.claims.items() if k not in gone}


def read_model(extra: Path | None = None) -> Model:
    ds = rdflib.Dataset()
    for path in sorted((ROOT / "data").glob("*.ttl")) + sorted((ROOT / "ontology").glob("*.ttl")):
        ds.graph(rdflib.URIRef(f"file:{path.name}")).parse(path, format="turtle")
    ds.parse(ROOT / "data" / "claims.trig", format="trig")
    if extra is not None:
        ds.parse(extra, format="trig")

    def graph(name: rdflib.term.Node) -> rdflib.Graph:
        return ds.graph(rdflib.URIRef(str(name)))

    def one(g: rdflib.Graph, s: rdflib.term.Node, p: rdflib.URIRef) -> str | None:
        values = [str(o) for o in g.objects(s, p)]
        assert len(values) <= 1, (s, p, values)
        return values[0] if values else None

    union = rdflib.Graph()
    for s, p, o, _g in ds.quads((None, None, None, None)):
        union.add((s, p, o))
    claims: dict[str, Claim] = {}
    retractions: dict[str, tuple[str, str, set[str]]] = {}
    for np_iri in set(union.subjects(NP.hasAssertion, None)):
        head = union
        assertion = graph(next(head.objects(np_iri, NP.hasAssertion)))
        pubinfo = graph(next(head.objects(np_iri, NP.hasPublicationInfo)))
        curator = one(pubinfo, np_iri, PROV.wasAttributedTo)
        created = one(pubinfo, np_iri, rdflib.DCTERMS.created)
        assert curator and created
        created = created.replace("+00:00", "Z")  # rdflib normalises the lexical form
        kinds = set(union.objects(np_iri, rdflib.RDF.type))
        if EXM.Retraction in kinds:
            targets = {str(o) for o in assertion.objects(None, NPX.retracts)}
            retractions[str(np_iri)] = (curator, created, targets)
            continue
        ((exercise, _, mechanism),) = list(assertion)
        provenance_graph = graph(next(head.objects(np_iri, NP.hasProvenance)))
        study = one(provenance_graph, rdflib.URIRef(str(assertion.identifier)), PROV.wasDerivedFrom)
        assert study
        claims[str(np_iri)] = Claim(
            str(np_iri),
            str(exercise),
            str(mechanism),
            study,
            one(provenance_graph, assertion.identifier, EXM.locationInStudy),
            one(provenance_graph, assertion.identifier, EXM.mediatorStatus),
            curator,
            created,
            {str(o) for o in pubinfo.objects(np_iri, NPX.supersedes)},
        )
    types: dict[str, set[str]] = defaultdict(set)
    for s, o in union.subject_objects(rdflib.RDF.type):
        types[str(s)].add(str(o))
    labels = {str(s): str(o) for s, o in union.subject_objects(SKOS.prefLabel)}
    labels.update(
        {
            str(s): str(o)
            for s, o in union.subject_objects(rdflib.RDFS.label)
            if str(s).startswith(ID + "study/")
        }
    )
    reported = {}
    for f in union.subjects(rdflib.RDF.type, EXM.ThemeFrequency):
        reported[str(union.value(f, EXM.ofTheme))] = (
            int(str(union.value(f, EXM.mentionCount))),
            int(str(union.value(f, EXM.reportedPercentage))),
        )
    return Model(
        claims,
        retractions,
        dict(types),
        {str(s): str(o) for s, o in union.subject_objects(BIBO.doi)},
        labels,
        {str(s): str(o) for s, o in union.subject_objects(EXM.inTheme)},
        reported,
    )


@pytest.fixture(scope="module")
def shipped_model() -> Model:
    return read_model()


@pytest.fixture(scope="module")
def history_model() -> Model:
    return read_model(FIXTURE)


def build_history(target: Path) -> Path:
    """A state dir built from a copy of ontology/ + data/ + the history fixture."""
    root = target / "root"
    shutil.copytree(ROOT / "ontology", root / "ontology")
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copy(FIXTURE, root / "data" / "history.trig")
    state = target / "state"
    build(Settings(state_dir=state, data_root=root))
    return state


@pytest.fixture(scope="module")
def history_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    state = build_history(tmp_path_factory.mktemp("history"))
    store = EmbeddedStore(Settings(state_dir=state, data_root=state.parent / "root"), workers=False)
    yield store
    store.close()


@pytest.fixture(scope="module")
def shipped(reader: EmbeddedStore) -> AnswerCache:
    return AnswerCache(reader, 0)


@pytest.fixture(scope="module")
def history(history_store: EmbeddedStore) -> AnswerCache:
    return AnswerCache(history_store, 0)


@pytest.fixture(params=["shipped", "history"])
def case(request: pytest.FixtureRequest) -> tuple[AnswerCache, Model]:
    """Each generic test runs on the shipped data and on shipped data + history fixture."""
    return request.getfixturevalue(request.param), request.getfixturevalue(request.param + "_model")


def ask(cache: AnswerCache, name: str, value: str | None = None) -> list[dict[str, Any]]:
    return provenance.ask(cache, provenance.QUESTION[name], value).rows


# --- the query files -----------------------------------------------------------------


MINE = [
    "mechanism-claims",
    "study-claims",
    "curator-nanopublications",
    "exercise-mechanisms",
    "evidence-map",
    "claim-history",
    "study-by-doi",
    "doi-claims",
    "claims-by-evidence",
    "theme-frequencies-recomputed",
    "resource-types",
]


@pytest.mark.parametrize("name", MINE)
def test_bound_variables_are_declared_and_projected(name: str) -> None:
    query = queries.load(name)
    assert query.answers.endswith("?")
    assert set(query.binds) <= set(query.columns)


def test_every_question_is_a_query_file_with_the_binds_its_parameter_needs() -> None:
    for question in provenance.QUESTIONS:
        binds = queries.load(question.query).binds
        assert binds == ((question.parameter.variable,) if question.parameter else ())


# --- exact answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "mechanism", ["pain-self-efficacy", "mood", "kinesiophobia", "muscle-strength"]
)
def test_mechanism_claims(mechanism: str, case: tuple[AnswerCache, Model]) -> None:
    cache, model = case
    iri = ID + "mechanism/" + mechanism
    expected = {
        (
            c.iri,
            c.exercise,
            c.study,
            model.doi.get(c.study),
            c.location,
            c.status,
            c.curator,
            c.created,
        )
        for c in model.current.values()
        if c.mechanism == iri
    }
    rows = ask(cache, "mechanism-claims", mechanism)
    got = {
        (
            r["claim"],
            r["exercise"],
            r["study"],
            r["doi"],
            r["location"],
            r["mediatorStatus"],
            r["curator"],
            r["created"],
        )
        for r in rows
    }
    assert got == expected and len(rows) == len(expected) > 0
    assert all(r["nanopublications"] == [r["claim"]] for r in rows)


def test_history_changes_what_mechanism_claims_show(
    shipped: AnswerCache, history: AnswerCache
) -> None:
    before = {r["claim"] for r in ask(shipped, "mechanism-claims", "pain-self-efficacy")}
    after = {r["claim"] for r in ask(history, "mechanism-claims", "pain-self-efficacy")}
    assert before - after == {S1} and after <= before
    assert {r["claim"] for r in ask(history, "mechanism-claims", "mastery")} == (
        {r["claim"] for r in ask(shipped, "mechanism-claims", "mastery")} | {H2}
    )
    assert H1 not in {r["claim"] for r in ask(history, "mechanism-claims", "kinesiophobia")}
    assert S2 not in {r["claim"] for r in ask(history, "mechanism-claims", "mood")}
    assert H3 not in {r["claim"] for r in ask(history, "mechanism-claims", "endorphins")}


@pytest.mark.parametrize("study", ["sherman-2013", "rae-2020", "owen-2020-nma", "wun-2021"])
def test_study_claims(study: str, case: tuple[AnswerCache, Model]) -> None:
    cache, model = case
    iri = ID + "study/" + study
    expected = {
        (c.iri, c.exercise, c.mechanism, c.location, c.status)
        for c in model.current.values()
        if c.study == iri
    }
    rows = ask(cache, "study-claims", study)
    assert {
        (r["claim"], r["exercise"], r["mechanism"], r["location"], r["mediatorStatus"])
        for r in rows
    } == expected
    assert len(rows) == len(expected)


def test_a_study_without_claims_answers_empty_but_exists(shipped: AnswerCache) -> None:
    assert ask(shipped, "study-claims", "wun-2021") == []


def test_curator_of_every_shipped_claim(case: tuple[AnswerCache, Model]) -> None:
    cache, model = case
    rows = ask(cache, "curator-nanopublications", "exmech-import")
    expected = {c.iri for c in model.current.values() if c.curator == IMPORT}
    # and the import's retractions of the 8 withdrawn claims of release 0.1.0 (issue 14)
    withdrawals = {iri for iri, (curator, _, _) in model.retractions.items() if curator == IMPORT}
    assert len(withdrawals) == 8
    expected |= withdrawals
    assert {r["nanopub"] for r in rows} == expected and len(rows) == len(expected)
    assert {r["kind"] for r in rows} == {"claim", "retraction"}
    assert {r["created"] for r in rows} == {"2026-11-27T00:00:00Z", "2026-12-03T00:00:00Z"}


def test_fictional_curators_in_force(history: AnswerCache) -> None:
    def of(curator: str) -> list[tuple[Any, ...]]:
        result = provenance.run_named(
            history,
            queries.load("curator-nanopublications"),
            {"curator": ox.NamedNode(curator)},
            100,
        )
        return [
            (r["nanopub"], r["kind"], r["created"], r["supersedes"], r["retracts"])
            for r in result[2]
        ]

    # Written out from tests/data/history.trig: H1 (superseded) and H3 (retracted) are gone.
    assert of(ADA) == [
        (R1, "retraction", "2026-11-29T08:00:00Z", None, H3),
        (R2, "retraction", "2026-11-30T08:00:00Z", None, S2),
        (H4, "claim", "2026-12-02T12:00:00Z", None, None),
    ]
    assert of(BO) == [(H2, "claim", "2026-12-01T09:30:00Z", H1, None)]


@pytest.mark.parametrize("exercise", ["yoga", "aerobic", "walking", "pilates", "motor-control"])
def test_exercise_mechanisms_ranked_by_distinct_studies(
    exercise: str, case: tuple[AnswerCache, Model]
) -> None:
    cache, model = case
    iri = ID + "exercise/" + exercise
    by_mechanism: dict[str, list[Claim]] = defaultdict(list)
    for c in model.current.values():
        if c.exercise == iri:
            by_mechanism[c.mechanism].append(c)
    expected = sorted(
        (
            (
                -len({c.study for c in cs}),
                -len(cs),
                model.label[m],
                m,
                model.theme[m],
                sorted(c.iri for c in cs),
            )
            for m, cs in by_mechanism.items()
        ),
    )
    rows = ask(cache, "exercise-mechanisms", exercise)
    got = [
        (
            -r["studies"],
            -r["claimCount"],
            r["mechanismLabel"],
            r["mechanism"],
            r["theme"],
            r["nanopublications"],
        )
        for r in rows
    ]
    assert got == expected and rows


def test_evidence_map_is_the_full_matrix(case: tuple[AnswerCache, Model]) -> None:
    cache, model = case
    cells: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for c in model.current.values():
        cells[(c.exercise, c.mechanism)].append(c)
    rows = ask(cache, "evidence-map")
    got = {
        (r["exercise"], r["mechanism"]): (
            r["studies"],
            r["claimCount"],
            r["theme"],
            r["nanopublications"],
        )
        for r in rows
    }
    expected = {
        key: (len({c.study for c in cs}), len(cs), model.theme[key[1]], sorted(c.iri for c in cs))
        for key, cs in cells.items()
    }
    assert got == expected and len(rows) == len(expected)
    order = [
        (model.label[r["exercise"]], -r["studies"], -r["claimCount"], r["mechanismLabel"])
        for r in rows
    ]
    assert order == sorted(order)


def test_evidence_map_from_the_source_tables(shipped: AnswerCache) -> None:
    """The matrix recomputed from trials.csv + mechanism-mapping.csv, not from the RDF."""
    keys = {
        row["key"]
        for table in ("trials.csv", "trials-more.csv")
        for row in csv.DictReader(open(ROOT / "data/sources" / table, encoding="utf-8"))
    }
    studies: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in csv.DictReader(open(ROOT / "data/sources/mechanism-mapping.csv", encoding="utf-8")):
        assert row["key"] in keys
        if row["mechanism"]:
            for exercise in row["exercise_types"].split():
                studies[(exercise, row["mechanism"])].add(row["key"])
    rows = ask(shipped, "evidence-map")
    got = {
        (r["exercise"].rsplit("/", 1)[1], r["mechanism"].rsplit("/", 1)[1]): r["studies"]
        for r in rows
    }
    assert got == {k: len(v) for k, v in studies.items()}


# The fixture, written out by hand: (event, nanopub, target, curator, created).
CHAIN = [
    ("asserts", S1, None, IMPORT, "2026-11-27T00:00:00Z"),
    ("supersedes", H1, S1, ADA, "2026-11-27T10:00:00Z"),
    ("supersedes", H2, H1, BO, "2026-12-01T09:30:00Z"),
]
HISTORIES = {
    S1: CHAIN,
    H1: CHAIN,
    H2: CHAIN,
    H3: [
        ("asserts", H3, None, BO, "2026-11-28T08:00:00Z"),
        ("retracts", R1, H3, ADA, "2026-11-29T08:00:00Z"),
    ],
    S2: [
        ("asserts", S2, None, IMPORT, "2026-11-27T00:00:00Z"),
        ("retracts", R2, S2, ADA, "2026-11-30T08:00:00Z"),
    ],
    H4: [("asserts", H4, None, ADA, "2026-12-02T12:00:00Z")],
}


@pytest.mark.parametrize("claim", list(HISTORIES), ids=lambda c: c.rsplit("/", 1)[1])
def test_claim_history(claim: str, history: AnswerCache) -> None:
    rows = ask(history, "claim-history", claim.rsplit("/", 1)[1])
    assert [
        (r["event"], r["nanopub"], r["target"], r["curator"], r["created"]) for r in rows
    ] == HISTORIES[claim]
    assert all(r["claim"] == claim for r in rows)
    assert all(r["nanopub"] in r["nanopublications"] for r in rows)


def test_history_of_a_shipped_claim_is_its_assertion(
    shipped: AnswerCache, shipped_model: Model
) -> None:
    c = shipped_model.claims[S1]
    rows = ask(shipped, "claim-history", S1.rsplit("/", 1)[1])
    assert [
        (r["event"], r["nanopub"], r["exercise"], r["mechanism"], r["study"]) for r in rows
    ] == [("asserts", S1, c.exercise, c.mechanism, c.study)]


@pytest.mark.parametrize(
    "doi",
    ["10.2522/ptj.20110290", "10.1136/bjsports-2019-100886", "10.1002/14651858.cd009790.PUB2"],
)
def test_doi_claims(doi: str, case: tuple[AnswerCache, Model]) -> None:
    cache, model = case
    (study,) = [s for s, d in model.doi.items() if d.lower() == doi.lower()]
    result = provenance.ask(cache, provenance.QUESTION["doi-claims"], doi)
    assert result.bindings["doi"].value == model.doi[study]  # as the graph writes it
    expected = {
        (c.iri, c.exercise, c.mechanism) for c in model.current.values() if c.study == study
    }
    assert {(r["claim"], r["exercise"], r["mechanism"]) for r in result.rows} == expected
    assert {r["study"] for r in result.rows} <= {study}


def test_claims_by_evidence(case: tuple[AnswerCache, Model]) -> None:
    cache, model = case
    cells: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for c in model.current.values():
        cells[(c.exercise, c.mechanism)].append(c)
    expected = {}
    for key, cs in cells.items():
        reviews = {c.study for c in cs if {str(t) for t in REVIEW_CLASSES} & model.types[c.study]}
        trials = {c.study for c in cs if {str(t) for t in TRIAL_CLASSES} & model.types[c.study]}
        assert reviews | trials == {c.study for c in cs}
        support = (
            "reviews only" if not trials else "trials only" if not reviews else "reviews and trials"
        )
        expected[key] = (support, len(reviews), len(trials), sorted(c.iri for c in cs))
    rows = ask(cache, "claims-by-evidence")
    got = {
        (r["exercise"], r["mechanism"]): (
            r["support"],
            r["reviewStudies"],
            r["trialStudies"],
            r["nanopublications"],
        )
        for r in rows
    }
    assert got == expected and len(rows) == len(expected)
    assert {r["support"] for r in rows} == {"reviews only", "trials only", "reviews and trials"}


def test_theme_frequencies_recomputed_beside_the_reported(case: tuple[AnswerCache, Model]) -> None:
    cache, model = case
    current = list(model.current.values())
    rows = ask(cache, "theme-frequencies")
    themes = {t for t, kinds in model.types.items() if str(EXM.Theme) in kinds}
    assert {r["theme"] for r in rows} == themes
    for r in rows:
        mine = [c for c in current if model.theme[c.mechanism] == r["theme"]]
        assert r["claimCount"] == len(mine)
        assert r["studies"] == len({c.study for c in mine})
        assert r["claimPercent"] == round(1000 * len(mine) / len(current)) / 10
        assert (r["reportedMentions"], r["reportedPercent"]) == model.reported.get(
            r["theme"], (None, None)
        )
        assert r["nanopublications"] == sorted(c.iri for c in mine)


def test_theme_frequencies_recomputed_on_sparql_is_one_row_per_theme_and_claim(
    case: tuple[AnswerCache, Model],
) -> None:
    """No GROUP_CONCAT (Virtuoso cannot hold a theme's claims in one): the API folds the rows."""
    cache, model = case
    named = queries.load("theme-frequencies-recomputed")
    results, _columns, rows, _ = provenance.run_named(cache, named, {}, 10_000)
    solutions = results.dicts()
    got = [(s["theme"].value, s["claims"].value) for s in solutions if "claims" in s]
    expected = {(model.theme[c.mechanism], c.iri) for c in model.current.values()}
    assert sorted(got) == sorted(expected)
    themes = {s["theme"].value for s in solutions}
    assert sorted(r["theme"] for r in rows) == sorted(themes) and len(rows) < len(solutions)


def test_theme_claims_from_the_source_tables(shipped: AnswerCache) -> None:
    """Claims per theme from the CSVs: one claim per (row key, exercise type, mechanism)."""
    theme = {
        r["slug"]: r["theme"]
        for r in csv.DictReader(open(ROOT / "data/sources/mechanisms.csv", encoding="utf-8"))
    }
    # A proposal and a finding (by its direction) about one mechanism are separate claims.
    proposals = {"NotMeasured", "Planned", "TestedInCompanionPaper", "SeldomTested"}
    claims: set[tuple[str, str, str, str]] = set()
    for row in csv.DictReader(open(ROOT / "data/sources/mechanism-mapping.csv", encoding="utf-8")):
        if row["mechanism"]:
            said = "proposed" if row["mediator_status"] in proposals else row["direction"]
            claims |= {
                (row["key"], e, said, row["mechanism"]) for e in row["exercise_types"].split()
            }
    counts: dict[str, int] = defaultdict(int)
    for _key, _e, _said, mechanism in claims:
        counts[theme[mechanism]] += 1
    rows = ask(shipped, "theme-frequencies")
    assert sum(r["claimCount"] for r in rows) == len(claims) == 279
    assert {
        r["theme"].rsplit("/", 1)[1]: r["claimCount"] for r in rows if r["claimCount"]
    } == counts
    # The review's printed figures (Wun et al. 2021), beside ours.
    reported = {
        r["theme"].rsplit("/", 1)[1]: (r["reportedMentions"], r["reportedPercent"]) for r in rows
    }
    assert reported == {
        "neuromuscular": (105, 44),
        "psychosocial": (87, 36),
        "neurophysiological": (22, 9),
        "cardiometabolic": (15, 6),
        "tissue-healing": (12, 5),
        "other": (None, None),
    }


def test_study_by_doi_ignores_case(shipped: AnswerCache) -> None:
    rows = provenance.run_named(
        shipped,
        queries.load("study-by-doi"),
        {"doi": ox.Literal("10.1002/14651858.cd009790.PUB2")},
        10,
    )[2]
    assert [(r["study"], r["storedDoi"]) for r in rows] == [
        (ID + "study/hayden-2021", "10.1002/14651858.CD009790.pub2")
    ]


def test_resource_types(shipped: AnswerCache) -> None:
    rows = provenance.run_named(
        shipped,
        queries.load("resource-types"),
        {"resource": ox.NamedNode(ID + "study/wun-2021")},
        10,
    )[2]
    assert [r["type"] for r in rows] == [str(EXM.SystematicReview)]


# --- validation and existence ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("mechanism-claims", "Mood", BadRequest),
        ("mechanism-claims", "mood> } ?s ?p ?o {", BadRequest),
        ("mechanism-claims", "-mood", BadRequest),
        ("mechanism-claims", "no-such-mechanism", NotFound),
        ("mechanism-claims", "yoga", NotFound),  # an exercise type, not a mechanism
        ("study-claims", "muscle-strength", NotFound),
        ("curator-nanopublications", "wun-2021", NotFound),
        ("exercise-mechanisms", "mood", NotFound),
        ("claim-history", R1.rsplit("/", 1)[1], NotFound),  # a retraction, not a claim
        ("claim-history", "0000000000000000000a", NotFound),
        ("doi-claims", '10.2522/ptj.x" } ', BadRequest),
        ("doi-claims", "doi:10.2522/ptj.20110290", BadRequest),
        ("doi-claims", "10.9999/not-in-the-graph", NotFound),
    ],
)
def test_malformed_is_400_unknown_is_404(
    name: str, value: str, error: type[Exception], history: AnswerCache
) -> None:
    with pytest.raises(error):
        provenance.ask(history, provenance.QUESTION[name], value)


def test_fixture_conforms_to_the_shapes() -> None:
    from exmech.validation import validate_files

    report = validate_files([FIXTURE, ROOT / "data" / "claims.trig"], ROOT)
    assert report.to_text().startswith("conforms"), report.to_text()
