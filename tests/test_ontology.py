"""The ontology is well formed, covers every exm: term, and the shipped data is consistent.

Consistency means: after an OWL 2 RL closure (owlrl) of the ontology and every data file, no
individual sits in two disjoint classes, no functional property has two distinct values, nothing
is an owl:Nothing, and owlrl itself reports no inconsistency.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import owlrl
import pytest
from rdflib import RDF, RDFS, BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, SH, SKOS

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_FILE = ROOT / "ontology" / "exmech.ttl"
SHAPES_FILE = ROOT / "ontology" / "shapes.ttl"
EXM = Namespace("https://w3id.org/exmech/ontology#")
ONTOLOGY_IRI = URIRef("https://w3id.org/exmech/ontology")
ERRNS = Namespace("http://www.daml.org/2002/03/agents/agent-ont#")


def parse(path: Path) -> Graph:
    """One file as a single graph; the named graphs of a TriG file are merged."""
    if path.suffix == ".trig":
        ds = Dataset()
        with warnings.catch_warnings():  # rdflib's TriG parser uses deprecated internals
            warnings.simplefilter("ignore", DeprecationWarning)
            ds.parse(path, format="trig")
        merged = Graph()
        for s, p, o, _ in ds.quads((None, None, None, None)):
            merged.add((s, p, o))
        return merged
    return Graph().parse(path, format="turtle")


def data_files() -> list[Path]:
    data = ROOT / "data"
    return sorted([*data.glob("*.ttl"), *data.glob("*.trig")])


def merged(paths: Iterable[Path]) -> Graph:
    g = Graph()
    for path in paths:
        g += parse(path)
    return g


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return parse(ONTOLOGY_FILE)


@pytest.fixture(scope="module")
def everything() -> Graph:
    return merged([*sorted((ROOT / "ontology").glob("*.ttl")), *data_files()])


# --------------------------------------------------------------------------- the checker


def contradictions(closed: Graph) -> list[str]:
    """Inconsistencies in a graph that already holds its OWL 2 RL closure (one line each)."""
    problems: list[str] = []
    for message in closed.subjects(RDF.type, ERRNS.ErrorMessage):
        for text in closed.objects(message, ERRNS.error):
            problems.append(f"owlrl: {text}")
    for x in closed.subjects(RDF.type, OWL.Nothing):
        problems.append(f"{x} is a member of owl:Nothing")

    pairs: set[tuple[URIRef, URIRef]] = set()
    for c1, c2 in closed.subject_objects(OWL.disjointWith):
        pairs.add((c1, c2))
    for axiom in closed.subjects(RDF.type, OWL.AllDisjointClasses):
        for members in closed.objects(axiom, OWL.members):
            pairs.update(combinations(list(Collection(closed, members)), 2))
    for c1, c2 in sorted(pairs):
        for x in set(closed.subjects(RDF.type, c1)) & set(closed.subjects(RDF.type, c2)):
            problems.append(f"{x} is in disjoint classes {c1} and {c2}")

    for prop in set(closed.subjects(RDF.type, OWL.FunctionalProperty)):
        values: dict[object, list[object]] = {}
        for s, o in closed.subject_objects(prop):
            if isinstance(s, Literal):  # owlrl's literal proxies
                continue
            values.setdefault(s, []).append(o)
        for s, objects in values.items():
            distinct: list[object] = []
            for o in objects:
                if not any(_same_value(o, d) for d in distinct):
                    distinct.append(o)
            if len(distinct) > 1:
                shown = ", ".join(sorted(str(d) for d in distinct))
                problems.append(f"functional {prop} has several values on {s}: {shown}")
    return problems


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, Literal) and isinstance(b, Literal):
        return a == b or a.eq(b)
    return a == b


def closure(g: Graph) -> Graph:
    closed = Graph()
    closed += g
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(closed)
    return closed


# --------------------------------------------------------------------------- ontology header


def test_ontology_has_version(ontology: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in ontology
    assert ontology.value(ONTOLOGY_IRI, OWL.versionIRI) == URIRef(
        "https://w3id.org/exmech/ontology/0.2.0"
    )
    assert str(ontology.value(ONTOLOGY_IRI, OWL.versionInfo)) == "0.2.0"
    assert ontology.value(ONTOLOGY_IRI, OWL.priorVersion) == URIRef(
        "https://w3id.org/exmech/ontology/0.1.0"
    )
    dct = Namespace("http://purl.org/dc/terms/")
    for p in (dct.title, dct.description, dct.license, dct.created):
        assert ontology.value(ONTOLOGY_IRI, p) is not None, p
    assert ontology.value(ONTOLOGY_IRI, dct.license) == URIRef(
        "https://creativecommons.org/licenses/by/4.0/"
    )


def test_shapes_graph_has_version() -> None:
    shapes = parse(SHAPES_FILE)
    iri = URIRef("https://w3id.org/exmech/shapes")
    assert shapes.value(iri, OWL.versionIRI) == URIRef("https://w3id.org/exmech/shapes/0.2.0")
    assert str(shapes.value(iri, OWL.versionInfo)) == "0.2.0"
    assert shapes.value(iri, OWL.priorVersion) == URIRef("https://w3id.org/exmech/shapes/0.1.0")


def test_every_exm_term_is_declared(ontology: Graph, everything: Graph) -> None:
    used = {
        term
        for triple in everything
        for term in triple
        if isinstance(term, URIRef) and str(term).startswith(str(EXM))
    }
    assert used, "no exm: term found at all"
    missing = []
    for term in sorted(used):
        lacks = [
            what
            for what, ok in (
                ("a declaration (rdf:type)", ontology.value(term, RDF.type) is not None),
                ("rdfs:label", ontology.value(term, RDFS.label) is not None),
                ("skos:definition", ontology.value(term, SKOS.definition) is not None),
                ("rdfs:isDefinedBy", (term, RDFS.isDefinedBy, ONTOLOGY_IRI) in ontology),
            )
            if not ok
        ]
        if lacks:
            missing.append(f"{term}: no {', '.join(lacks)}")
    assert not missing, "\n".join(missing)


def test_model_terms_present(ontology: Graph) -> None:
    """The functional properties docs/model.md says have exactly one value."""
    for name in (
        "inTheme",
        "themeBasis",
        "rank",
        "mediatorStatus",
        "reportedIn",
        "ofTheme",
        "mentionCount",
        "reportedPercentage",
        "listedIn",
        "listedMechanism",
    ):
        assert (EXM[name], RDF.type, OWL.FunctionalProperty) in ontology, name
    assert (EXM.inTheme, RDFS.subPropertyOf, SKOS.broader) in ontology
    for cls in (EXM.Theme, EXM.Mechanism, EXM.ExerciseType):
        assert (cls, RDFS.subClassOf, SKOS.Concept) in ontology


# --------------------------------------------------------------------------- consistency


@pytest.fixture(scope="module")
def closed_all() -> Graph:
    return closure(merged([ONTOLOGY_FILE, *data_files()]))


def test_shipped_data_is_consistent_under_owl_rl(closed_all: Graph) -> None:
    problems = contradictions(closed_all)
    assert not problems, "\n".join(problems)


STUDY = Namespace("https://w3id.org/exmech/id/study/")
THEME = Namespace("https://w3id.org/exmech/id/theme/")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # a review that is also a trial
        ([(STUDY["wun-2021"], RDF.type, EXM.RandomisedControlledTrial)], "disjoint classes"),
        # a mechanism that is also a theme
        ([(THEME.psychosocial, RDF.type, EXM.Mechanism)], "disjoint classes"),
        # a trial figure only reviews report: the domain makes the trial a review
        (
            [
                (STUDY["fictional-2020"], RDF.type, EXM.RandomisedControlledTrial),
                (STUDY["fictional-2020"], EXM.trialsIncluded, Literal(3)),
            ],
            "disjoint classes",
        ),
        # two mention counts for one theme frequency
        (
            [(URIRef(STUDY["wun-2021"] + "#theme-psychosocial"), EXM.mentionCount, Literal(88))],
            "functional",
        ),
        # two themes for one theme frequency
        (
            [(URIRef(STUDY["wun-2021"] + "#theme-psychosocial"), EXM.ofTheme, THEME.other)],
            "functional",
        ),
        # an explicit member of owl:Nothing
        ([(BNode("nothing"), RDF.type, OWL.Nothing)], "owl:Nothing"),
    ],
)
def test_checker_reports_contradictions(
    extra: list[tuple[object, object, object]], expected: str
) -> None:
    """The consistency check can fail: deliberately broken copies are reported."""
    base = merged([ONTOLOGY_FILE, ROOT / "data" / "themes.ttl", ROOT / "data" / "review.ttl"])
    assert not contradictions(closure(base))
    broken = Graph()
    broken += base
    for triple in extra:
        broken.add(triple)  # type: ignore[arg-type]
    problems = contradictions(closure(broken))
    assert any(expected in p for p in problems), problems


# --------------------------------------------------------------------------- shapes hygiene

NODE_LEVEL = (
    SH["class"],
    SH.datatype,
    SH.nodeKind,
    SH.pattern,
    SH["in"],
    SH["or"],
    SH["and"],
    SH.xone,
    SH["not"],
    SH.node,
    SH.hasValue,
    SH.closed,
    SH.minInclusive,
    SH.maxInclusive,
    SH.minExclusive,
    SH.maxExclusive,
    SH.minLength,
    SH.maxLength,
    SH.languageIn,
    SH.equals,
    SH.disjoint,
    SH.sparql,
)


def test_every_constraint_has_a_message() -> None:
    shapes = parse(SHAPES_FILE)
    lacking = []
    for prop_shape in set(shapes.objects(None, SH.property)):
        if shapes.value(prop_shape, SH.message) is None:
            lacking.append(
                f"property shape {shapes.value(prop_shape, SH.path)} of "
                f"{list(shapes.subjects(SH.property, prop_shape))}"
            )
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    assert len(node_shapes) >= 20
    for node_shape in node_shapes:
        if any(shapes.value(node_shape, p) is not None for p in NODE_LEVEL):
            if shapes.value(node_shape, SH.message) is None:
                lacking.append(f"node shape {node_shape}")
    assert not lacking, "\n".join(lacking)
    assert not list(shapes.subjects(SH.sparql, None)), "SHACL Core only"


def test_a_mechanism_given_two_themes_is_reported_not_merged(everything: Graph) -> None:
    """The themes are pairwise different, so OWL RL itself reports the clash (issue 14);
    without owl:AllDifferent it would only conclude that the two themes are the same."""
    mechanism = URIRef("https://w3id.org/exmech/id/mechanism/motor-control")
    psychosocial = URIRef("https://w3id.org/exmech/id/theme/psychosocial")
    clash = Graph()
    clash += everything
    clash.add((mechanism, EXM.inTheme, psychosocial))
    reported = [p for p in contradictions(closure(clash)) if p.startswith("owlrl:")]
    assert any("psychosocial" in p and "neuromuscular" in p for p in reported), reported

    without = Graph()
    without += clash
    for axiom in list(without.subjects(RDF.type, OWL.AllDifferent)):
        members = list(Collection(without, without.value(axiom, OWL.distinctMembers)))
        if psychosocial in members:
            without.remove((axiom, None, None))
    merged_only = [p for p in contradictions(closure(without)) if p.startswith("owlrl:")]
    assert merged_only == [], merged_only


def test_every_concept_scheme_names_its_top_concepts(everything: Graph) -> None:
    for scheme in everything.subjects(RDF.type, SKOS.ConceptScheme):
        tops = set(everything.objects(scheme, SKOS.hasTopConcept))
        members = set(everything.subjects(SKOS.inScheme, scheme))
        assert tops and tops <= members, scheme
        for concept in members - tops:
            broader = set(everything.objects(concept, SKOS.broader)) & members
            assert broader, f"{concept} has no broader concept in {scheme} and is no top concept"
