"""The generated RDF in data/ matches its sources and never carries an untraceable fact."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
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


LINKS = {EXM[f"{d}Mechanism"] for d in ("proposed", "supported", "unsupported", "examined")}
LINKS.add(EXM.contradictedMechanism)


def assertions(claims: Dataset) -> list[tuple[URIRef, URIRef, URIRef]]:
    """(assertion graph, exercise type, mechanism) for each claim."""
    return [(g, s, o) for g, s, _, o in linked(claims)]


def linked(claims: Dataset) -> list[tuple[URIRef, URIRef, URIRef, URIRef]]:
    """(assertion graph, exercise type, predicate, mechanism) for each claim in force."""
    withdrawn = {
        URIRef(str(c).replace("/claim/", "/graph/") + "-assertion")
        for c in claims.objects(None, URIRef(vocab.NPX + "retracts"))
    }
    found = []
    for ctx in claims.graphs():
        if ctx.identifier in withdrawn:
            continue
        for s, p, o in ctx:
            if p in LINKS:
                found.append((ctx.identifier, s, p, o))
    return found


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    assert importer.main(["--out", str(tmp_path), "--sources", str(SOURCES)]) == 0
    for name in importer.OUTPUTS:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_every_identifier_in_the_rdf_is_in_the_table(everything: Dataset) -> None:
    """Both research tables: every DOI and PMID of data/ was seen by the research."""
    table_text = "\n".join((SOURCES / t).read_text(encoding="utf-8") for t in importer.TABLES)
    rows = [r for t in importer.TABLES for r in importer.read_csv(SOURCES / t)]
    assert len(rows) == 78 and {r["doi"] for r in rows} >= {"10.1136/bjsm.2011.085506"}
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


def test_one_claim_per_distinct_study_exercise_statement_mechanism(
    src: importer.Sources, claims: Dataset
) -> None:
    slugs = importer.study_slugs(src.trials)
    expected = {
        (slugs[m.key], exercise, m.predicate, m.mechanism)
        for m in src.mappings
        if m.mechanism
        for exercise in m.exercise_types
    }
    in_force = set(claims.subjects(RDF.type, EXM.Claim)) - set(
        claims.objects(None, URIRef(vocab.NPX + "retracts"))
    )
    assert len(in_force) == len(expected)
    found = set()
    for graph, exercise, predicate, mechanism in linked(claims):
        study = claims.value(graph, PROV.wasDerivedFrom)
        found.add(
            tuple(
                str(t).rsplit("/", 1)[1].rsplit("#", 1)[-1]
                for t in (study, exercise, predicate, mechanism)
            )
        )
    assert found == expected


def test_claims_follow_the_model(claims: Dataset) -> None:
    for graph, exercise, predicate, mechanism in linked(claims):
        slug = str(graph).rsplit("/", 1)[1].removesuffix("-assertion")
        parts = {p: URIRef(i) for p, i in vocab.claim_graphs(slug).items()}
        np_iri = URIRef(vocab.iri("claim", slug))
        study = claims.value(graph, PROV.wasDerivedFrom)
        triple = (importer.node(exercise), importer.node(predicate), importer.node(mechanism))
        assert nanopub.claim_slug([triple], str(study)) == slug
        head = claims.graph(parts["head"])
        assert (np_iri, NP.hasProvenance, parts["provenance"]) in head
        assert (np_iri, NP.hasPublicationInfo, parts["pubinfo"]) in head
        provenance = claims.graph(parts["provenance"])
        for prop in (
            EXM.sourceWording,
            EXM.mediatorStatus,
            EXM.mediatorStatusNote,
            EXM.evidenceLevel,
            EXM.findingDirection,
            EXM.evidenceKind,
            EXM.wordingSourceKind,
            PROV.wasGeneratedBy,
        ):
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
    derived = {str(claims.value(graph, PROV.wasDerivedFrom)) for graph, *_ in linked(claims)}
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
    assert len(set(slugs.values())) == len(src.trials) == 58 + 20
    assert slugs["unsgaard2011_tra_activation_pain"] == "unsgaard-tondel-2011"
    assert slugs["blodt2015_qigong"] == "blodt-2015"
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


# Words with which the table reports a null or negative result. Read independently of the
# mapping's direction column, so that a miscoded direction fails here.
NULL_WORDING = re.compile(
    r"no change|not improved|unchanged|did not explain|little or no correlation|"
    r"no whole-disc group difference|no link to",
    re.IGNORECASE,
)
DIRECTION_OF = {
    EXM.proposedMechanism: EXM.NotReported,
    EXM.supportedMechanism: EXM.Supports,
    EXM.unsupportedMechanism: EXM.NoEffect,
    EXM.contradictedMechanism: EXM.Contradicts,
    EXM.examinedMechanism: EXM.NotReported,
}


def test_the_assertion_never_states_what_its_provenance_contradicts(claims: Dataset) -> None:
    """The predicate, the direction and the level of every claim agree."""
    for graph, _, predicate, _ in linked(claims):
        direction = claims.value(graph, EXM.findingDirection)
        level = claims.value(graph, EXM.evidenceLevel)
        assert DIRECTION_OF[predicate] == direction, graph
        assert (predicate == EXM.proposedMechanism) == (level == EXM.ProposedAsRationale), graph
        if direction != EXM.NotReported:
            assert claims.value(graph, EXM.directionWording), graph


def test_null_wording_is_never_coded_as_support(claims: Dataset) -> None:
    """A claim whose status note reports a null result is a null finding, not support."""
    nulls = 0
    for graph, _, predicate, _ in linked(claims):
        note = str(claims.value(graph, EXM.mediatorStatusNote))
        if NULL_WORDING.search(note):
            nulls += 1
            assert predicate == EXM.unsupportedMechanism, (graph, note)
    assert nulls >= 20  # mannion part 3 (15), Steiger (9 minus merges), Liu, Neason...


def test_direction_wording_is_quoted_from_the_table(src: importer.Sources) -> None:
    rows = {r["key"]: r for r in src.trials}
    for m in src.mappings:
        if m.direction_wording:
            row = rows[m.key]
            cell = importer.split_cell(row["measured_as_mediator"])[m.index]
            assert m.direction_wording in f"{cell} {row['notes']}", m


def test_a_miscoded_direction_is_refused(tmp_path: Path) -> None:
    import shutil

    for name in ("trials.csv", "mechanisms.csv", "exercise-types.csv"):
        shutil.copy(SOURCES / name, tmp_path / name)
    text = (SOURCES / "mechanism-mapping.csv").read_text(encoding="utf-8")
    for old, new in (
        ("NoEffect,did NOT explain disability change", "Supports,explained it all"),
        (",NotMeasured,NotReported,", ",NotMeasured,Supports,"),
        (",StudyRecord,", ",Rumour,"),
    ):
        assert old in text
        (tmp_path / "mechanism-mapping.csv").write_text(text.replace(old, new, 1), "utf-8")
        with pytest.raises(ValueError):
            importer.load_sources(tmp_path)


def test_wording_sources_name_the_pages_the_table_names(claims: Dataset) -> None:
    kinds = {}
    for graph, *_ in linked(claims):
        kinds[graph] = claims.value(graph, EXM.wordingSourceKind)
    counts = {k: list(kinds.values()).count(k) for k in set(kinds.values())}
    for kind in ("PressRelease", "NewsReport", "GrantRecord", "CompanionPaper", "Protocol"):
        assert counts.get(EXM[kind], 0) >= 1, kind
    release = EXM.PressRelease
    pages = {str(claims.value(g, EXM.wordingReadFrom)) for g, k in kinds.items() if k == release}
    assert pages == {"https://eurekalert.org/pub_releases/2018-04/jn-rct041218.php"}


def test_the_nma_cells_that_propose_and_measure_nothing_make_no_claim(
    src: importer.Sources,
) -> None:
    nma = [m for m in src.mappings if m.key == "owen2020_bjsm_nma"]
    assert [m.mechanism for m in nma] == ["", "", ""]
    assert all("No claim" in m.rationale for m in nma)


EXTERNAL_CODE = re.compile(
    r"https?://(?:purl\.obolibrary\.org/obo/[A-Z]+_\d+|id\.nlm\.nih\.gov/mesh/[A-Z]?\d+|"
    r"snomed\.info/id/\d+|identifiers\.org/[a-z]+:\S+)"
)


def test_every_external_code_is_listed_with_where_it_was_checked() -> None:
    """No code from memory: each external code in data/ or ontology/ has a row in data/README.md
    naming the page (or release file) it was checked on."""
    root = DATA.parent
    files = [*DATA.glob("*.ttl"), *DATA.glob("*.trig"), *(root / "ontology").glob("*.ttl")]
    used = {m.group(0) for f in files for m in EXTERNAL_CODE.finditer(f.read_text("utf-8"))}
    assert len(used) >= 5  # three ECO kinds, two MeSH publication types
    rows = {}
    for line in (DATA / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`http"):
            rows[cells[0].strip("`")] = cells[3]
    for code in sorted(used):
        assert code in rows, f"{code} is used but data/README.md does not say where it was checked"
        checked = rows[code]
        # The vocabulary's own page or release file, or a repository file pinned by commit.
        pinned = re.search(r"github\.com/\S+, commit [0-9a-f]{40}", checked)
        assert "meshb.nlm.nih.gov" in checked or "eco.obo" in checked or pinned, (code, checked)
        if "mesh/" in code:
            assert code.rsplit("/", 1)[1] in checked, (code, checked)


PEOPLE_FACING = {
    URIRef(vocab.SKOS + "prefLabel"),
    URIRef(vocab.SKOS + "definition"),
    URIRef(vocab.SKOS + "scopeNote"),
    URIRef(vocab.RDFS + "label"),
    URIRef(vocab.RDFS + "comment"),
    URIRef(vocab.DCTERMS + "title"),
}


def test_literals_meant_for_people_carry_a_language_tag(everything: Dataset) -> None:
    untagged = {
        (str(s), str(p))
        for s, p, o, _ in everything.quads((None, None, None, None))
        if p in PEOPLE_FACING and isinstance(o, Literal) and not o.language
    }
    assert not untagged, sorted(untagged)[:5]


def test_withdrawn_claims_of_release_0_1_0_are_kept_and_retracted(claims: Dataset) -> None:
    """The Owen 2020 network meta-analysis claims keep their IRIs, retracted with the reason."""
    retracted = set(claims.objects(None, URIRef(vocab.NPX + "retracts")))
    assert len(retracted) == 8
    released = {r["claim"] for r in importer.read_csv(SOURCES / importer.RELEASED)}
    for claim in retracted:
        assert str(claim).rsplit("/", 1)[1] in released
        graph = URIRef(str(claim).replace("/claim/", "/graph/") + "-provenance")
        assert "owen-2020-nma" in str(next(claims.graph(graph).objects(None, PROV.wasDerivedFrom)))
    comments = [str(c) for c in claims.objects(None, URIRef(vocab.RDFS + "comment"))]
    assert sum("too few trials" in c for c in comments) == 6
    assert sum("mental health" in c for c in comments) == 2


def test_source_tables_are_the_research_hand_off_byte_for_byte() -> None:
    """data/sources/SHA256SUMS holds the checksums of the research hand-off's two tables."""
    import hashlib

    sums = {}
    for line in (SOURCES / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    assert set(sums) == set(importer.TABLES)
    for name, digest in sums.items():
        assert hashlib.sha256((SOURCES / name).read_bytes()).hexdigest() == digest, name


def test_secondary_reports_point_at_their_parent_trial(src: importer.Sources) -> None:
    """The four further reports the notes name link to the trial already in the graph."""
    studies = parse("studies.ttl")
    slugs = importer.study_slugs(src.trials)
    expected = {
        "ferreira2010_tra_recruitment": "ferreira2007_ge_mce_smt",
        "unsgaard2011_tra_activation_pain": "unsgaard2010_mce_sling_general",
        "berglund2017_multifidus_thickness": "aasa2015_lowload_vs_deadlift",
        "hall2016_taichi_catastrophising_mediation": "hall2011_tai_chi",
    }
    found = {
        (str(s).rsplit("/", 1)[1], str(o).rsplit("/", 1)[1])
        for s, o in studies.subject_objects(EXM.secondaryReportOf)
    }
    assert found == {(slugs[k], slugs[v]) for k, v in expected.items()}
    for report, trial in studies.subject_objects(EXM.secondaryReportOf):
        assert (trial, EXM.hasSecondaryReport, report) in studies
        assert src.tables[str(studies.value(trial, EXM.sourceKey))] == "trials.csv"


def test_caveats_quote_the_notes_and_reach_the_study(src: importer.Sources) -> None:
    rows = {r["key"]: r for r in src.trials}
    studies = parse("studies.ttl")
    slugs = importer.study_slugs(src.trials)
    kinds = {c.kind for c in src.caveats}
    assert kinds == set(importer.CAVEAT_KINDS)
    for c in src.caveats:
        assert c.quote in rows[c.key]["notes"]
        node = URIRef(vocab.iri("study", slugs[c.key]))
        assert (node, EXM.caveat, EXM[c.kind]) in studies
        assert Literal(c.note, lang="en") in set(
            studies.objects(node, URIRef(vocab.SKOS + "editorialNote"))
        )
    # Every row whose notes say its PMID came from an address carries that caveat.
    from_address = {
        k
        for k, r in rows.items()
        if re.search(r"PMID (read )?from the (path|mirror|access_num)", r["notes"])
    }
    flagged = {c.key for c in src.caveats if c.kind == "PmidFromLinkAddress"}
    assert from_address == flagged and len(flagged) == 5


@pytest.mark.parametrize(
    "table, old, new",
    [
        ("study-links.csv", "Cohort of the unsgaard2010", "Sister study of the unsgaard2010"),
        ("study-links.csv", ",hall2011_tai_chi,", ",hall2011_tai_chi_x,"),
        ("study-caveats.csv", "print 2019; online 12 Jan 2018", "print 2020; online 2017"),
        ("study-caveats.csv", ",OnlineYearDiffers,", ",Rumour,"),
        ("trials-more.csv", "chan2011_aerobic_plus_physio,", "costa2009_mce_placebo,"),
    ],
)
def test_links_and_caveats_not_in_the_notes_are_refused(
    tmp_path: Path, table: str, old: str, new: str
) -> None:
    import shutil

    for path in SOURCES.iterdir():
        shutil.copy(path, tmp_path / path.name)
    text = (tmp_path / table).read_text(encoding="utf-8")
    assert old in text
    (tmp_path / table).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ValueError):
        importer.load_sources(tmp_path)


def test_mesh_codes_by_design() -> None:
    """RCTs carry MeSH Randomized Controlled Trial; meta-analyses Meta-Analysis; secondary
    analyses none (no verified publication type fits them)."""
    studies = parse("studies.ttl")
    mesh = "http://id.nlm.nih.gov/mesh/"
    for study in studies.subjects(RDF.type, EXM.RandomisedControlledTrial):
        assert URIRef(mesh + "D016449") in set(
            studies.objects(study, URIRef(vocab.DCTERMS + "type"))
        )
    for study in studies.subjects(RDF.type, EXM.SecondaryAnalysis):
        assert not set(studies.objects(study, URIRef(vocab.DCTERMS + "type")))
    for study in studies.subjects(RDF.type, EXM.MetaAnalysis):
        assert URIRef(mesh + "D017418") in set(
            studies.objects(study, URIRef(vocab.DCTERMS + "type"))
        )


def test_the_shipped_trig_holds_exactly_the_quads_nanopub_builds(src: importer.Sources) -> None:
    """The claims are built with pyoxigraph terms and written by rdflib's TriG writer: read
    back by pyoxigraph's parser, the file holds those quads, every lexical form kept."""
    built = importer.claims_quads(src, importer.formers(SOURCES))
    shipped = ox.parse((DATA / "claims.trig").read_bytes(), ox.RdfFormat.TRIG)
    assert len(built) == len(set(built))
    assert set(built) == set(shipped)
