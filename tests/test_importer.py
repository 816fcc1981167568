"""The generated RDF in data/ matches its sources and never carries an untraceable fact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from exmech import importer, nanopub, vocab
from rdflib import RDF, Dataset, Graph, Literal, Namespace, URIRef

DATA = importer.DATA_DIR
SOURCES = importer.SOURCES_DIR
EXM = Namespace(vocab.EXM)
BIBO = Namespace(vocab.BIBO)
NP = Namespace(vocab.NP)
PROV = Namespace(vocab.PROV)

DOI_IN_TEXT = re.compile(r"\b10\.\d{4,9}/[^\s,;)\]]+")
PMID_IN_TEXT = re.compile(r"\bPMID:?\s*(\d+)")
DOI_URL = re.compile(r"^https?://(?:dx\.)?doi\.org/(.+)$")
PUBMED_URL = re.compile(r"^https?://pubmed\.ncbi\.nlm\.nih\.gov/(\d+)/?$")
REVIEW_MECHANISMS = (
    "muscle-strength motor-control muscle-endurance fear-avoidance pain-self-efficacy mood "
    "flexibility endorphins kinesiophobia aerobic-fitness stabilization pain-tolerance "
    "disability-perception mastery biomechanics"
).split()


@pytest.fixture(scope="module")
def src() -> importer.Sources:
    return importer.load_sources(SOURCES)


@pytest.fixture(scope="module")
def everything() -> Dataset:
    """Every RDF file in data/, including those other parts of the project write."""
    ds = Dataset()
    for path in sorted(DATA.glob("*.ttl")):
        ds.graph(URIRef(f"urn:file:{path.name}")).parse(path, format="turtle")
    for path in sorted(DATA.glob("*.trig")):
        ds.parse(path, format="trig")
    return ds


@pytest.fixture(scope="module")
def claims() -> Dataset:
    ds = Dataset(default_union=True)
    ds.parse(DATA / "claims.trig", format="trig")
    return ds


def parse(name: str) -> Graph:
    return Graph().parse(DATA / name, format="turtle")


def assertions(claims: Dataset) -> list[tuple[URIRef, URIRef, URIRef]]:
    """(assertion graph, exercise type, mechanism) for each claim."""
    found = []
    for ctx in claims.graphs():
        for s, _, o in ctx.triples((None, EXM.proposedMechanism, None)):
            found.append((ctx.identifier, s, o))
    return found


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    assert importer.main(["--out", str(tmp_path), "--sources", str(SOURCES)]) == 0
    for name in importer.OUTPUTS:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_every_identifier_in_the_rdf_is_in_the_table(everything: Dataset) -> None:
    table_text = (SOURCES / "trials.csv").read_text(encoding="utf-8")
    rows = importer.read_csv(SOURCES / "trials.csv")
    dois = {r["doi"] for r in rows if r["doi"]}
    pmids = {r["pmid"] for r in rows if r["pmid"]}
    for _, _, doi, _ in everything.quads((None, BIBO.doi, None, None)):
        assert str(doi) in dois, doi
    for _, _, pmid, _ in everything.quads((None, BIBO.pmid, None, None)):
        assert str(pmid) in pmids, pmid
    for quad in everything.quads((None, None, None, None)):
        for term in quad[:3]:
            text = str(term)
            if isinstance(term, URIRef):
                if match := DOI_URL.match(text):
                    assert match.group(1) in dois, text
                if match := PUBMED_URL.match(text):
                    assert match.group(1) in pmids, text
            elif isinstance(term, Literal):
                for doi in DOI_IN_TEXT.findall(text):
                    assert doi.rstrip(".") in table_text, doi
                for pmid in PMID_IN_TEXT.findall(text):
                    assert pmid in table_text, pmid


def test_every_mechanism_cell_is_mapped_or_states_none(src: importer.Sources) -> None:
    mapped = {(m.key, m.index): m.wording for m in src.mappings}
    for row in src.trials:
        for index, cell in enumerate(importer.split_cell(row["mechanisms"])):
            if importer.states_no_mechanism(cell):
                assert (row["key"], index) not in mapped, (row["key"], index)
            else:
                assert mapped.get((row["key"], index)) == cell, (row["key"], index)


def test_mapping_wording_and_status_match_the_table(src: importer.Sources) -> None:
    rows = {r["key"]: r for r in src.trials}
    for m in src.mappings:
        row = rows[m.key]
        assert importer.split_cell(row["mechanisms"])[m.index] == m.wording
        assert importer.split_cell(row["themes"])[m.index].replace(" ", "-") == m.theme
        if m.mechanism:
            note = importer.split_cell(row["measured_as_mediator"])[m.index]
            assert m.mediator_status == importer.status_from_note(note)


def test_one_claim_per_distinct_study_exercise_mechanism(
    src: importer.Sources, claims: Dataset
) -> None:
    slugs = importer.study_slugs(src.trials)
    expected = {
        (slugs[m.key], exercise, m.mechanism)
        for m in src.mappings
        if m.mechanism
        for exercise in m.exercise_types
    }
    nanopubs = set(claims.subjects(RDF.type, NP.Nanopublication))
    assert len(nanopubs) == len(expected)
    found = set()
    for graph, exercise, mechanism in assertions(claims):
        study = claims.value(graph, PROV.wasDerivedFrom)
        found.add(tuple(str(t).rsplit("/", 1)[1] for t in (study, exercise, mechanism)))
    assert found == expected


def test_claims_follow_the_model(claims: Dataset) -> None:
    for graph, exercise, mechanism in assertions(claims):
        slug = str(graph).rsplit("/", 1)[1].removesuffix("-assertion")
        parts = {p: URIRef(i) for p, i in vocab.claim_graphs(slug).items()}
        np_iri = URIRef(vocab.iri("claim", slug))
        study = claims.value(graph, PROV.wasDerivedFrom)
        triple = (exercise, EXM.proposedMechanism, mechanism)
        assert nanopub.claim_slug([triple], str(study)) == slug
        head = claims.graph(parts["head"])
        assert (np_iri, NP.hasProvenance, parts["provenance"]) in head
        assert (np_iri, NP.hasPublicationInfo, parts["pubinfo"]) in head
        provenance = claims.graph(parts["provenance"])
        for prop in (EXM.sourceWording, EXM.mediatorStatus, EXM.mediatorStatusNote):
            assert len(list(provenance.objects(graph, prop))) == 1, (slug, prop)
        pubinfo = claims.graph(parts["pubinfo"])
        assert pubinfo.value(np_iri, PROV.wasAttributedTo) == importer.CURATOR
        assert len(claims.graph(graph)) == 1


def test_rows_without_a_mechanism_are_studies_without_claims(
    src: importer.Sources, claims: Dataset
) -> None:
    slugs = importer.study_slugs(src.trials)
    claimed = {m.key for m in src.mappings if m.mechanism}
    studies = parse("studies.ttl")
    derived = {str(o) for o in claims.objects(None, PROV.wasDerivedFrom)}
    unclaimed = [r["key"] for r in src.trials if r["key"] not in claimed]
    assert "saper2017_yoga_pt_education" in unclaimed and "wun_mechanisms_review" in unclaimed
    for row in src.trials:
        study = vocab.iri("study", slugs[row["key"]])
        assert (URIRef(study), EXM.sourceKey, Literal(row["key"])) in studies
        assert (study in derived) == (row["key"] in claimed), row["key"]


def test_claim_targets_exist(claims: Dataset) -> None:
    types = set(parse("exercise-types.ttl").subjects(RDF.type, EXM.ExerciseType))
    mechanisms = set(parse("mechanisms.ttl").subjects(RDF.type, EXM.Mechanism))
    studies = set(parse("studies.ttl").subjects(EXM.sourceKey, None))
    for graph, exercise, mechanism in assertions(claims):
        assert exercise in types and mechanism in mechanisms, graph
        assert claims.value(graph, PROV.wasDerivedFrom) in studies, graph


def test_study_slugs(src: importer.Sources) -> None:
    slugs = importer.study_slugs(src.trials)
    assert len(set(slugs.values())) == len(src.trials) == 58
    assert slugs["wun_mechanisms_review"] == "wun-2021"
    assert slugs["unsgaard2010_mce_sling_general"] == "unsgaard-tondel-2010"
    assert slugs["cruzdiaz2018_pilates_kinesiophobia"] == "cruz-diaz-2018"
    assert slugs["magalhaes2018_ga_vs_physio"] == "magalhaes-2018"
    assert slugs["vandillen2016_msi_classification"] == "van-dillen-2016"
    assert slugs["mannion2001_part3_disability_change"] == "mannion-2001-part-3"
    assert all(vocab.SLUG.match(s) for s in slugs.values())


def test_review_mechanisms_are_listed_and_others_are_not() -> None:
    g = parse("mechanisms.ttl")
    listed = {str(s).rsplit("/", 1)[1] for s in g.subjects(EXM.listedInReview, Literal(True))}
    assert listed == set(REVIEW_MECHANISMS)
    for mechanism in g.subjects(EXM.listedInReview, Literal(False)):
        assert g.value(mechanism, EXM.themeBasis) == EXM.InferredByCurator
    for mechanism in g.subjects(RDF.type, EXM.Mechanism):
        assert len(list(g.objects(mechanism, EXM.inTheme))) == 1


def test_every_curated_concept_is_used(src: importer.Sources) -> None:
    """A mechanism taken from the table must carry a claim; every exercise type a study."""
    used = {c.mechanism for c in importer.claims(src)}
    assert {m.slug for m in src.mechanisms if not m.in_review} <= used
    studied = {
        s for row in src.trials for s in importer.exercise_slugs_for_row(row, src.exercise_types)
    }
    assert {t.slug for t in src.exercise_types} <= studied
