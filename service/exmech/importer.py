"""Generate the shipped RDF in data/ from the curated source tables in data/sources/.

Inputs (the only place the facts live):

- ``trials.csv`` and ``trials-more.csv``: the researched tables of studies, copied unchanged
  (byte for byte; ``SHA256SUMS`` records the hand-off's checksums); the source of truth.
- ``study-links.csv``: which rows report a trial another row already reports (same trial,
  another report), and ``study-caveats.csv``: the caveats the rows' notes give, each quoting them.
- ``mechanism-mapping.csv``: one curation decision per mechanism cell of the table (a cell that
  names two ideas has one row per idea; a cell that is not a mechanism has an empty
  ``mechanism`` and no claim).
- ``mechanisms.csv`` and ``exercise-types.csv``: the concepts, with our own definitions.

Outputs: ``exercise-types.ttl``, ``mechanisms.ttl``, ``studies.ttl`` and ``claims.trig``.
Everything is pure and deterministic so that regenerating gives byte-identical files, which
the tests check: ``python -m exmech.importer [--out DIR] [--sources DIR]`` (inside a checkout
both default to its data/; elsewhere, e.g. from an installed package, give both).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, RDFS, XSD, BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.plugins.serializers.trig import TrigSerializer

from exmech import nanopub, vocab
from exmech.settings import find_checkout

# The source tree's data/ (tests use it); the command line finds the checkout from the
# working folder instead, or takes explicit paths, so it runs from an installed package too.
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SOURCES_DIR = DATA_DIR / "sources"

EXM = Namespace(vocab.EXM)
SKOS = Namespace(vocab.SKOS)
DCTERMS = Namespace(vocab.DCTERMS)
FABIO = Namespace(vocab.FABIO)
BIBO = Namespace(vocab.BIBO)
PROV = Namespace(vocab.PROV)

# The lexical form "…Z" that docs/model.md shows (pyoxigraph keeps lexical forms as given).
DATE_TIME = ox.NamedNode(vocab.XSD + "dateTime")
CREATED = ox.Literal("2026-11-27T00:00:00Z", datatype=DATE_TIME)
CURATOR = URIRef(vocab.iri("curator", "exmech-import"))
# The researched tables, in reading order; each row's facts cite the table it came from.
TABLES = ("trials.csv", "trials-more.csv")


def node(iri: URIRef) -> ox.NamedNode:
    """An IRI of the importer's graphs as a term of ``exmech.nanopub``."""
    return ox.NamedNode(str(iri))


def rdflib_term(term: object) -> URIRef | BNode | Literal:
    """The rdflib term of a pyoxigraph term, lexical form kept (``normalize=False``)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language, normalize=False)
        datatype = term.datatype.value
        if datatype == nanopub.XSD_STRING:
            return Literal(term.value, normalize=False)
        return Literal(term.value, datatype=URIRef(datatype), normalize=False)
    raise TypeError(f"not a pyoxigraph subject or object: {term!r}")


def dataset(quads: Iterable[ox.Quad]) -> Dataset:
    """Quads built by ``exmech.nanopub`` as an rdflib dataset (for the TriG writer), term by
    term, never through a parser."""
    ds = Dataset(default_union=False)
    for q in quads:
        graph = ds.graph(URIRef(q.graph_name.value))  # type: ignore[union-attr]
        graph.add((rdflib_term(q.subject), URIRef(q.predicate.value), rdflib_term(q.object)))
    return ds


def table_iri(name: str) -> URIRef:
    """The IRI of a source table (as published with the data)."""
    return URIRef(f"{vocab.BASE}/data/sources/{name}")


TRIALS_TABLE = table_iri(TABLES[0])
LINKS_TABLE = "study-links.csv"
CAVEATS_TABLE = "study-caveats.csv"
# The kinds of caveat a row's notes give (exm:CaveatKind individuals in the ontology).
CAVEAT_KINDS = (
    "PmidFromLinkAddress",
    "OnlineYearDiffers",
    "NotFullyRandomised",
    "SameTrialUncertain",
    "PopulationNotStrictlyChronic",
)
CITO = Namespace("http://purl.org/spar/cito/")

SEPARATOR = " | "
OUTPUTS = (
    "exercise-types.ttl",
    "mechanisms.ttl",
    "studies.ttl",
    "claims.trig",
    "claim-iris.ttl",
)
# The claims as shipped before the evidence recode (issue 14): their IRIs must keep resolving.
RELEASED = "claims-0.1.0.csv"
RECODED = ox.Literal("2026-12-03T00:00:00Z", datatype=DATE_TIME)

# The table's `measured_as_mediator` wordings start with one of these (trials.md column
# conventions); the first match names the exm:MediatorStatus individual.
STATUS_PREFIXES: tuple[tuple[str, str], ...] = (
    ("mediation-tested", "MediationTested"),
    ("mechanism-tested", "MechanismTested"),
    ("moderator-tested", "ModeratorTested"),
    ("see companion", "TestedInCompanionPaper"),
    ("outcome-only", "OutcomeOnly"),
    ("pooled outcome", "PooledOutcome"),
    ("planned", "Planned"),
    ("seldom tested", "SeldomTested"),
    ("not-measured", "NotMeasured"),
)
# When cells merge into one claim, the most informative status wins: this order.
STATUS_ORDER = tuple(status for _, status in STATUS_PREFIXES)

LEVELS = nanopub.LEVELS
DIRECTIONS = nanopub.DIRECTIONS
PROPOSED = nanopub.PROPOSED
FINDING_PREDICATES = nanopub.FINDING_PREDICATES
WORDING_SOURCES = (
    "StudyRecord",
    "Protocol",
    "CompanionPaper",
    "TrialRegistry",
    "PressRelease",
    "NewsReport",
    "GrantRecord",
    "SecondarySource",
)
ECO_AUTHOR_STATEMENT = nanopub.ECO_AUTHOR_STATEMENT
ECO_CLINICAL_STUDY = nanopub.ECO_CLINICAL_STUDY
ECO_REVIEW_STATEMENT = nanopub.ECO_REVIEW_STATEMENT
# MeSH codes, each checked where data/README.md says; designs without a verified one get none.
MESH = "http://id.nlm.nih.gov/mesh/"
PUBLICATION_TYPES: dict[str, URIRef] = {
    "systematic review": URIRef(f"{MESH}D000078182"),
    "meta-analysis": URIRef(f"{MESH}D017418"),
}
DESIGN_PUBLICATION_TYPES: dict[str, URIRef] = {
    "RandomisedControlledTrial": URIRef(f"{MESH}D016449"),
    "NonRandomisedControlledTrial": URIRef(f"{MESH}D018848"),
}
# The condition the mechanisms are about (Low Back Pain, Chronic Pain) and the field of the
# exercise types (Exercise Therapy): dcterms:subject of the two concept schemes.
CONDITION = (URIRef(f"{MESH}D017116"), URIRef(f"{MESH}D059350"))
EXERCISE_THERAPY = URIRef(f"{MESH}D005081")
MESH_MATCHES = ("exactMatch", "closeMatch", "broadMatch")
MAPPING_TABLE = URIRef(f"{vocab.BASE}/data/sources/mechanism-mapping.csv")
ORGANISATION = URIRef(vocab.iri("curator", "exmech"))
# Who published every imported claim, and when.
PUBINFO = nanopub.PubInfo(ox.NamedNode(str(CURATOR)), CREATED)

NO_MECHANISM = re.compile(r"^none\b|\bno mechanism stated\b", re.IGNORECASE)

# Rows whose surname-year collides with another row's get a suffix; chosen by hand.
SLUG_SUFFIXES: dict[str, str] = {
    "mannion2001_part3_disability_change": "part-3",
    "owen2020_exercise_ivd": "ivd",
    "owen2020_bjsm_nma": "nma",
}

# Letters NFKD does not decompose into ASCII.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "œ": "oe",
        "Œ": "OE",
    }
)

Row = dict[str, str]


@dataclass(frozen=True)
class ExerciseType:
    """One row of exercise-types.csv: a concept and how the table refers to it."""

    slug: str
    label: str
    broader: tuple[str, ...]
    table_label: str
    other_keys: tuple[str, ...]
    definition: str
    mesh: tuple[str, str] | None = None  # (SKOS mapping property, MeSH descriptor UI)


@dataclass(frozen=True)
class Mechanism:
    """One row of mechanisms.csv."""

    slug: str
    label: str
    theme: str
    in_review: bool
    theme_basis: str
    see_also: tuple[str, ...]
    definition: str


@dataclass(frozen=True)
class Mapping:
    """One row of mechanism-mapping.csv: a table cell read as one mechanism (or as none)."""

    key: str
    index: int
    wording: str
    theme: str
    mechanism: str
    exercise_types: tuple[str, ...]
    mediator_status: str
    rationale: str
    direction: str = ""
    direction_wording: str = ""
    read_from_kind: str = ""
    read_from: str = ""

    @property
    def level(self) -> str:
        """The exm:EvidenceLevel local name: what the study did with the mechanism."""
        return LEVELS[self.mediator_status]

    @property
    def predicate(self) -> str:
        """The local name of the assertion's predicate."""
        if self.level == "ProposedAsRationale":
            return PROPOSED
        return FINDING_PREDICATES[self.direction]

    def decision(self) -> str:
        """This mapping row as one line the provenance repeats."""
        types = " ".join(self.exercise_types)
        decision = f"{self.key}[{self.index}] -> {self.mechanism} for {types}"
        return f"{decision}: {self.rationale}" if self.rationale else decision


@dataclass(frozen=True)
class Link:
    """One row of study-links.csv: a further report (secondary, mechanistic or mediation
    analysis) of the trial whose main report is another row."""

    key: str
    parent: str
    quote: str
    rationale: str


@dataclass(frozen=True)
class Caveat:
    """One row of study-caveats.csv: a caveat the row's notes give, in our words."""

    key: str
    kind: str
    quote: str
    note: str


@dataclass(frozen=True)
class Sources:
    """All curated inputs, loaded and cross-checked."""

    trials: tuple[Row, ...]
    exercise_types: tuple[ExerciseType, ...]
    mechanisms: tuple[Mechanism, ...]
    mappings: tuple[Mapping, ...]
    tables: dict[str, str] = field(default_factory=dict)  # row key -> its table's file name
    links: tuple[Link, ...] = ()
    caveats: tuple[Caveat, ...] = ()

    def table_of(self, key: str) -> URIRef:
        """The IRI of the table a row comes from."""
        return table_iri(self.tables.get(key, TABLES[0]))


# --- reading -------------------------------------------------------------------------------


def read_csv(path: Path) -> list[Row]:
    """Rows of a UTF-8 CSV file as dicts."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def split_cell(cell: str) -> list[str]:
    """The values of a multi-value table cell, verbatim (trials.md: separated by ' | ')."""
    return cell.split(SEPARATOR) if cell else []


def states_no_mechanism(cell: str) -> bool:
    """True for a mechanism cell that says no mechanism was stated: such cells make no claim."""
    return bool(NO_MECHANISM.search(cell))


def status_from_note(note: str) -> str:
    """The exm:MediatorStatus local name for a `measured_as_mediator` wording."""
    lowered = note.strip().lower()
    for prefix, status in STATUS_PREFIXES:
        if lowered.startswith(prefix):
            return status
    raise ValueError(f"unknown measured_as_mediator wording {note!r}")


def load_exercise_types(path: Path) -> tuple[ExerciseType, ...]:
    """Exercise types in file order."""
    return tuple(
        ExerciseType(
            slug=r["slug"],
            label=r["pref_label"],
            broader=tuple(r["broader"].split()),
            table_label=r["table_label"],
            other_keys=tuple(r["other_keys"].split()),
            definition=r["definition"],
            mesh=mesh_match(r.get("mesh", "")),
        )
        for r in read_csv(path)
    )


def mesh_match(cell: str) -> tuple[str, str] | None:
    """`exactMatch D015013` -> ("exactMatch", "D015013"); empty -> None."""
    if not cell:
        return None
    relation, _, ui = cell.partition(" ")
    if relation not in MESH_MATCHES or not re.fullmatch(r"D\d{6,9}", ui):
        raise ValueError(f"mesh cell {cell!r}: expected one of {MESH_MATCHES} and a MeSH UI")
    return relation, ui


def load_mechanisms(path: Path) -> tuple[Mechanism, ...]:
    """Mechanisms in file order."""
    return tuple(
        Mechanism(
            slug=r["slug"],
            label=r["pref_label"],
            theme=r["theme"],
            in_review=r["in_review"] == "true",
            theme_basis=r["theme_basis"],
            see_also=tuple(r["see_also"].split()),
            definition=r["definition"],
        )
        for r in read_csv(path)
    )


def load_mappings(path: Path) -> tuple[Mapping, ...]:
    """Mapping rows in file order."""
    return tuple(
        Mapping(
            key=r["key"],
            index=int(r["index"]),
            wording=r["wording"],
            theme=r["theme"],
            mechanism=r["mechanism"],
            exercise_types=tuple(r["exercise_types"].split()),
            mediator_status=r["mediator_status"],
            rationale=r["rationale"],
            direction=r["direction"],
            direction_wording=r["direction_wording"],
            read_from_kind=r["read_from_kind"],
            read_from=r["read_from"],
        )
        for r in read_csv(path)
    )


def exercise_slugs_for_row(row: Row, types: Sequence[ExerciseType]) -> list[str]:
    """The exercise-type slugs a table row lists, with `other` resolved per row."""
    by_label = {t.table_label: t.slug for t in types if t.table_label}
    other = [t.slug for t in types if row["key"] in t.other_keys]
    slugs: list[str] = []
    for label in split_cell(row["exercise_types"]):
        if label == "other":
            if len(other) != 1:
                raise ValueError(f"{row['key']}: `other` needs exactly one type, found {other}")
            slugs.append(other[0])
        elif label in by_label:
            slugs.append(by_label[label])
        else:
            raise ValueError(f"{row['key']}: unknown exercise type label {label!r}")
    return slugs


def load_sources(sources_dir: Path = SOURCES_DIR) -> Sources:
    """Read and cross-check every curated table; raise ValueError on any inconsistency."""
    trials: list[Row] = []
    tables: dict[str, str] = {}
    for name in TABLES:
        path = sources_dir / name
        if not path.exists() and name != TABLES[0]:
            continue  # an older checkout or a trimmed copy: the first table alone
        for row in read_csv(path):
            if row["key"] in tables:
                raise ValueError(f"{name}: key {row['key']!r} is already in {tables[row['key']]}")
            tables[row["key"]] = name
            trials.append(row)
    optional = {
        n: read_csv(sources_dir / n) if (sources_dir / n).exists() else []
        for n in (LINKS_TABLE, CAVEATS_TABLE)
    }
    loaded = Sources(
        trials=tuple(trials),
        exercise_types=load_exercise_types(sources_dir / "exercise-types.csv"),
        mechanisms=load_mechanisms(sources_dir / "mechanisms.csv"),
        mappings=load_mappings(sources_dir / "mechanism-mapping.csv"),
        tables=tables,
        links=tuple(
            Link(r["key"], r["parent_key"], r["quote"], r["rationale"])
            for r in optional[LINKS_TABLE]
        ),
        caveats=tuple(
            Caveat(r["key"], r["caveat"], r["quote"], r["note"]) for r in optional[CAVEATS_TABLE]
        ),
    )
    check_sources(loaded)
    check_study_notes(loaded)
    return loaded


def check_study_notes(src: Sources) -> None:
    """Links and caveats must quote the row's own notes: nothing is added from elsewhere."""
    rows = {r["key"]: r for r in src.trials}
    parents: dict[str, str] = {}
    for link in src.links:
        where = f"{LINKS_TABLE} {link.key}"
        if link.key not in rows or link.parent not in rows or link.key == link.parent:
            raise ValueError(f"{where}: both rows must exist and differ ({link.parent!r})")
        notes = rows[link.key]["notes"]
        if link.quote not in notes or link.parent not in notes:
            raise ValueError(f"{where}: the quote and the parent key must be in the row's notes")
        if link.key in parents or link.parent in parents:
            raise ValueError(f"{where}: one parent per report, and a parent is a main report")
        parents[link.key] = link.parent
    for caveat in src.caveats:
        where = f"{CAVEATS_TABLE} {caveat.key} {caveat.kind}"
        if caveat.key not in rows or caveat.kind not in CAVEAT_KINDS or not caveat.note:
            raise ValueError(f"{where}: unknown row or caveat kind ({', '.join(CAVEAT_KINDS)})")
        if caveat.quote not in rows[caveat.key]["notes"]:
            raise ValueError(f"{where}: the quote must be in the row's notes")


def check_sources(src: Sources) -> None:
    """Fail fast when the mapping drifts from the table or names unknown concepts."""
    rows = {r["key"]: r for r in src.trials}
    mechanisms = {m.slug: m for m in src.mechanisms}
    types = {t.slug for t in src.exercise_types}
    seen: set[tuple[str, int, str, str, str]] = set()
    for m in src.mappings:
        where = f"mapping {m.key}[{m.index}]"
        if m.key not in rows:
            raise ValueError(f"{where}: no such table row")
        cells = split_cell(rows[m.key]["mechanisms"])
        if not 0 <= m.index < len(cells) or cells[m.index] != m.wording:
            raise ValueError(f"{where}: wording does not match the table cell")
        if states_no_mechanism(m.wording):
            raise ValueError(f"{where}: the cell states no mechanism and must not be mapped")
        # One cell may give findings in two directions for one arm (mixed results).
        for exercise in m.exercise_types or ("",):
            if (m.key, m.index, m.mechanism, exercise, m.direction) in seen:
                raise ValueError(f"{where}: mechanism {m.mechanism!r} mapped twice")
            seen.add((m.key, m.index, m.mechanism, exercise, m.direction))
        if not m.mechanism:
            if m.exercise_types or m.mediator_status or m.direction or not m.rationale:
                raise ValueError(f"{where}: an unmapped cell needs only a rationale")
            continue
        mech = mechanisms.get(m.mechanism)
        if mech is None:
            raise ValueError(f"{where}: unknown mechanism {m.mechanism!r}")
        if mech.theme != m.theme and not m.rationale:
            raise ValueError(f"{where}: theme differs from the mechanism's; explain why")
        if not m.exercise_types or not set(m.exercise_types) <= types:
            raise ValueError(f"{where}: unknown or missing exercise types {m.exercise_types}")
        note = split_cell(rows[m.key]["measured_as_mediator"])[m.index]
        if m.mediator_status != status_from_note(note):
            raise ValueError(f"{where}: mediator_status disagrees with {note!r}")
        check_evidence(m, rows[m.key], note)
    for t in src.exercise_types:
        if not set(t.broader) <= types:
            raise ValueError(f"exercise type {t.slug}: unknown broader {t.broader}")


def row_text(row: Row) -> str:
    """Everything a table row says about where its facts were seen."""
    return " ".join((row["seen_at"], row["source_url"], row["notes"], row["mechanism_location"]))


def check_evidence(m: Mapping, row: Row, note: str) -> None:
    """Direction and wording source must be read from the row itself, never guessed."""
    where = f"mapping {m.key}[{m.index}] {m.mechanism}"
    if m.direction not in DIRECTIONS:
        raise ValueError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}")
    if m.level == "ProposedAsRationale" and m.direction != "NotReported":
        raise ValueError(f"{where}: a proposal reports no finding; direction must be NotReported")
    if m.direction == "NotReported":
        if m.direction_wording:
            raise ValueError(f"{where}: NotReported takes no direction_wording")
    elif not m.direction_wording or m.direction_wording not in f"{note} {row['notes']}":
        raise ValueError(
            f"{where}: direction_wording must quote the row's measured_as_mediator cell or notes"
        )
    if m.read_from_kind not in WORDING_SOURCES:
        raise ValueError(f"{where}: read_from_kind must be one of {', '.join(WORDING_SOURCES)}")
    seen = row_text(row)
    doi = m.read_from.removeprefix("https://doi.org/")
    if m.read_from and m.read_from not in seen and doi not in seen:
        raise ValueError(f"{where}: read_from {m.read_from!r} is not named by the table row")


# --- identifiers ---------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    """Text with accents stripped (Tøndel -> Tondel, Díaz -> Diaz, Magalhães -> Magalhaes)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def surname(first_author: str) -> str:
    """The surname as printed: the table writes 'Surname INITIALS' ('Van Dillen LR')."""
    *name, initials = first_author.split()
    if not name or not initials.isupper():
        raise ValueError(f"cannot split first author {first_author!r}")
    return " ".join(name)


def study_slug(row: Row) -> str:
    """`{surname}-{year}[-suffix]`, lower-case ASCII."""
    words = re.findall(r"[a-z0-9]+", ascii_fold(surname(row["first_author"])).lower())
    parts = [*words, row["year"]]
    if row["key"] in SLUG_SUFFIXES:
        parts.append(SLUG_SUFFIXES[row["key"]])
    return "-".join(parts)


def study_slugs(rows: Iterable[Row]) -> dict[str, str]:
    """Table key -> study slug; raises if two rows would share a slug."""
    slugs: dict[str, str] = {}
    for row in rows:
        slug = study_slug(row)
        if slug in slugs.values():
            raise ValueError(f"slug {slug!r} collides; add {row['key']!r} to SLUG_SUFFIXES")
        slugs[row["key"]] = slug
    return slugs


def resource(kind: str, slug: str) -> URIRef:
    """One of our resource IRIs as an rdflib term."""
    return URIRef(vocab.iri(kind, slug))


def publication_types(study_type: str) -> list[URIRef]:
    """The verified MeSH publication types for the table's design wording: the design class's
    (randomised or non-randomised controlled trial) and the review kinds the wording names."""
    found = [
        mesh
        for local, mesh in DESIGN_PUBLICATION_TYPES.items()
        if design_class(study_type) == EXM[local]
    ]
    lowered = study_type.lower()
    found += [mesh for wording, mesh in PUBLICATION_TYPES.items() if wording in lowered]
    return found


def is_pooled(study_type: str) -> bool:
    """A secondary analysis that pools several studies stands for no single trial."""
    return design_class(study_type) == EXM.SecondaryAnalysis and "pooled" in study_type.lower()


def is_review(study_type: str) -> bool:
    """Reviews, meta-analyses and network meta-analyses, as design_class groups them."""
    return design_class(study_type) in (EXM.SystematicReview, EXM.MetaAnalysis)


def design_class(study_type: str) -> URIRef:
    """The design class for the table's `study_type` wording."""
    lowered = study_type.lower()
    if "meta-analysis" in lowered:
        return EXM.MetaAnalysis
    if "systematic review" in lowered:
        return EXM.SystematicReview
    if "secondary" in lowered:
        return EXM.SecondaryAnalysis
    if "non-randomised" in lowered:
        return EXM.NonRandomisedControlledTrial
    if "rct" in lowered:
        return EXM.RandomisedControlledTrial
    raise ValueError(f"unknown study type {study_type!r}")


def doi_url(doi: str) -> URIRef:
    """The resolver link for a DOI."""
    return URIRef(f"https://doi.org/{doi}")


def pubmed_url(pmid: str) -> URIRef:
    """The PubMed page for a PMID."""
    return URIRef(f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/")


# --- graphs --------------------------------------------------------------------------------


def bind_prefixes(graph: Graph) -> None:
    """Bind the shared prefixes plus one per resource kind (`mechanism:`, `study:`...)."""
    for prefix, namespace in vocab.PREFIXES.items():
        graph.bind(prefix, namespace, override=True, replace=True)
    for kind in vocab.KINDS:
        graph.bind(kind, f"{vocab.ID}{kind}/", override=True, replace=True)


def new_graph() -> Graph:
    """An empty graph with only our prefixes bound."""
    graph = Graph(bind_namespaces="none")
    bind_prefixes(graph)
    return graph


def exercise_types_graph(types: Sequence[ExerciseType]) -> Graph:
    """The exm:exerciseTypes concept scheme."""
    g = new_graph()
    g.add((EXM.exerciseTypes, RDF.type, SKOS.ConceptScheme))
    g.add((EXM.exerciseTypes, DCTERMS.subject, EXERCISE_THERAPY))
    for t in types:
        if not t.broader:
            g.add((EXM.exerciseTypes, SKOS.hasTopConcept, resource("exercise", t.slug)))
        node = resource("exercise", t.slug)
        g.add((node, RDF.type, EXM.ExerciseType))
        g.add((node, SKOS.inScheme, EXM.exerciseTypes))
        g.add((node, SKOS.prefLabel, Literal(t.label, lang="en")))
        g.add((node, SKOS.definition, Literal(t.definition, lang="en")))
        for broader in t.broader:
            g.add((node, SKOS.broader, resource("exercise", broader)))
        if t.mesh:
            g.add((node, SKOS[t.mesh[0]], URIRef(MESH + t.mesh[1])))
    return g


def mechanisms_graph(
    mechanisms: Sequence[Mechanism], sources: dict[str, list[URIRef]] | None = None
) -> Graph:
    """The exm:mechanisms concept scheme: the review's 15 and those taken from the tables
    (each citing the tables whose rows name it; `sources`, default the first table)."""
    g = new_graph()
    g.add((EXM.mechanisms, RDF.type, SKOS.ConceptScheme))
    for condition in CONDITION:
        g.add((EXM.mechanisms, DCTERMS.subject, condition))
    for m in mechanisms:
        node = resource("mechanism", m.slug)
        # Mechanisms have no broader concept in their own scheme (themes are another scheme).
        g.add((EXM.mechanisms, SKOS.hasTopConcept, node))
        g.add((node, RDF.type, EXM.Mechanism))
        g.add((node, SKOS.inScheme, EXM.mechanisms))
        g.add((node, SKOS.prefLabel, Literal(m.label, lang="en")))
        g.add((node, SKOS.definition, Literal(m.definition, lang="en")))
        g.add((node, EXM.inTheme, resource("theme", m.theme)))
        g.add((node, EXM.themeBasis, EXM[m.theme_basis]))
        g.add((node, EXM.listedInReview, Literal(m.in_review)))
        for url in m.see_also:
            g.add((node, RDFS.seeAlso, URIRef(url)))
        if not m.in_review:
            for table in (sources or {}).get(m.slug) or [TRIALS_TABLE]:
                g.add((node, DCTERMS.source, table))
    return g


def mechanism_tables(src: Sources) -> dict[str, list[URIRef]]:
    """Mechanism slug -> the tables whose rows name it, in table order."""
    found: dict[str, set[str]] = {}
    for m in src.mappings:
        if m.mechanism:
            found.setdefault(m.mechanism, set()).add(src.tables.get(m.key, TABLES[0]))
    return {slug: [table_iri(t) for t in TABLES if t in names] for slug, names in found.items()}


def studies_graph(src: Sources) -> Graph:
    """Every table row as a study, traceable to its row through exm:sourceKey."""
    g = new_graph()
    slugs = study_slugs(src.trials)
    for row in src.trials:
        node = resource("study", slugs[row["key"]])
        g.add((node, RDF.type, design_class(row["study_type"])))
        label = f"{surname(row['first_author'])} {row['year']}"
        g.add((node, RDFS.label, Literal(label, lang="en")))
        g.add((node, DCTERMS.title, Literal(row["title"], lang="en")))
        g.add((node, FABIO.hasPublicationYear, Literal(row["year"], datatype=XSD.gYear)))
        if row["doi"]:
            g.add((node, BIBO.doi, Literal(row["doi"])))
            g.add((node, RDFS.seeAlso, doi_url(row["doi"])))
        if row["pmid"]:
            g.add((node, BIBO.pmid, Literal(row["pmid"])))
            g.add((node, RDFS.seeAlso, pubmed_url(row["pmid"])))
        g.add((node, EXM.firstAuthor, Literal(row["first_author"])))
        g.add((node, EXM.journalTitle, Literal(row["journal"])))
        g.add((node, EXM.designLabel, Literal(row["study_type"])))
        if is_pooled(row["study_type"]):
            g.add((node, RDF.type, EXM.PooledAnalysis))
        for mesh in publication_types(row["study_type"]):
            g.add((node, DCTERMS.type, mesh))
        if row["n"].isdigit():
            g.add((node, EXM.sampleSize, Literal(int(row["n"]))))
        for slug in exercise_slugs_for_row(row, src.exercise_types):
            g.add((node, EXM.studiesExerciseType, resource("exercise", slug)))
        g.add((node, EXM.sourceKey, Literal(row["key"])))
        g.add((node, DCTERMS.source, src.table_of(row["key"])))
        if row["notes"]:
            g.add((node, RDFS.comment, Literal(row["notes"], lang="en")))
    for link in src.links:
        report, trial = resource("study", slugs[link.key]), resource("study", slugs[link.parent])
        g.add((report, EXM.secondaryReportOf, trial))
        g.add((trial, EXM.hasSecondaryReport, report))
    for caveat in src.caveats:
        node = resource("study", slugs[caveat.key])
        g.add((node, EXM.caveat, EXM[caveat.kind]))
        g.add((node, SKOS.editorialNote, Literal(caveat.note, lang="en")))
    return g


@dataclass(frozen=True)
class Claim:
    """One (study, exercise type, predicate, mechanism) edge and the mapping rows behind it."""

    study: str
    exercise: str
    predicate: str
    mechanism: str
    mappings: tuple[Mapping, ...]

    @property
    def cells(self) -> tuple[int, ...]:
        """The table cells behind the claim, in cell order."""
        return tuple(sorted({m.index for m in self.mappings}))


def claims(src: Sources) -> list[Claim]:
    """Distinct (study, exercise type, predicate, mechanism) edges; their mapping rows merge.

    A proposal and a finding about the same mechanism stay apart, as do findings in
    different directions: each is its own claim.
    """
    slugs = study_slugs(src.trials)
    rows: dict[tuple[str, str, str, str], list[Mapping]] = {}
    for m in src.mappings:
        if not m.mechanism:
            continue
        for exercise in m.exercise_types:
            rows.setdefault((slugs[m.key], exercise, m.predicate, m.mechanism), []).append(m)
    return [
        Claim(s, e, p, mech, tuple(sorted(ms, key=lambda m: m.index)))
        for (s, e, p, mech), ms in sorted(rows.items())
    ]


def _joined(values: Iterable[str]) -> str:
    """Distinct non-empty values in order, joined as the table joins them."""
    return SEPARATOR.join(dict.fromkeys(v for v in values if v))


def evidence(claim: Claim, row: Row, status: str) -> nanopub.Evidence:
    """Level, direction, ECO kind and wording source of a claim, from its mapping rows."""
    level = LEVELS[status]
    directions = {m.direction for m in claim.mappings}
    if len(directions) != 1:  # cannot happen: the predicate groups by direction
        raise ValueError(f"{claim}: mapping rows disagree on the direction")
    if level == "ProposedAsRationale":
        kind = ECO_AUTHOR_STATEMENT
    elif is_review(row["study_type"]):
        kind = ECO_REVIEW_STATEMENT
    else:
        kind = ECO_CLINICAL_STUDY
    sources = dict.fromkeys((m.read_from_kind, m.read_from) for m in claim.mappings)
    if len(sources) != 1:
        raise ValueError(f"{claim}: cells read from different sources must not merge")
    (source_kind, source_url), *_ = sources
    return nanopub.Evidence(
        level=node(EXM[level]),
        direction=node(EXM[directions.pop()]),
        kind=kind,
        direction_note=_joined(m.direction_wording for m in claim.mappings) or None,
        read_from=ox.NamedNode(source_url) if source_url else None,
        read_from_kind=node(EXM[source_kind]),
    )


def import_activity(claim: Claim, row: Row, table: URIRef = TRIALS_TABLE) -> nanopub.ImportActivity:
    """The import run that made the claim, with the row and mapping decisions it applied."""
    return nanopub.ImportActivity(
        row=row["key"],
        decisions=tuple(dict.fromkeys(m.decision() for m in claim.mappings)),
        used=(node(table), node(MAPPING_TABLE)),
        agents=(node(CURATOR), node(ORGANISATION)),
        ended=None,
    )


def claims_dataset(src: Sources, released: Sequence[Former] = ()) -> Dataset:
    """One nanopublication per claim, structured as docs/model.md §Claims, handed to rdflib
    for its TriG writer."""
    ds = dataset(claims_quads(src, released))
    bind_prefixes(ds)
    return ds


def claims_quads(src: Sources, released: Sequence[Former] = ()) -> list[ox.Quad]:
    """The claims' quads as ``exmech.nanopub`` builds them (withdrawn ones retracted)."""
    slugs = study_slugs(src.trials)
    rows = {slugs[r["key"]]: r for r in src.trials}
    quads: list[ox.Quad] = []
    for claim in claims(src):
        row = rows[claim.study]
        pick = [
            split_cell(row[column])
            for column in ("mechanisms", "mechanism_location", "measured_as_mediator")
        ]
        wordings, locations, notes = ([values[i] for i in claim.cells] for values in pick)
        status = min((status_from_note(n) for n in notes), key=STATUS_ORDER.index)
        nanopub.add_claim(
            quads,
            (
                node(resource("exercise", claim.exercise)),
                node(EXM[claim.predicate]),
                node(resource("mechanism", claim.mechanism)),
            ),
            nanopub.Provenance(
                study=node(resource("study", claim.study)),
                location=_joined(locations) or None,
                status=node(EXM[status]),
                note=_joined(notes),
                wording=_joined(wordings),
                evidence=evidence(claim, row, status),
                activity=import_activity(claim, row, src.table_of(row["key"])),
            ),
            PUBINFO,
        )
    add_withdrawn(quads, src, released)
    return quads


# Which current claim a former IRI points to when several replace it: a finding before a
# proposal, support before a null finding (the table needs exactly one).
SUCCESSOR_ORDER = (*FINDING_PREDICATES.values(), PROPOSED)


@dataclass(frozen=True)
class Former:
    """A claim of release 0.1.0 (sources/claims-0.1.0.csv)."""

    slug: str
    study: str
    exercise: str
    mechanism: str


def formers(sources_dir: Path) -> list[Former]:
    return [
        Former(r["claim"], r["study"], r["exercise"], r["mechanism"])
        for r in read_csv(sources_dir / RELEASED)
    ]


def claim_iri(claim: Claim) -> URIRef:
    """The IRI a current claim gets (nanopub.claim_slug of its one assertion triple)."""
    triple = (
        node(resource("exercise", claim.exercise)),
        node(EXM[claim.predicate]),
        node(resource("mechanism", claim.mechanism)),
    )
    return resource("claim", nanopub.claim_slug([triple], str(resource("study", claim.study))))


def successors(src: Sources, released: Sequence[Former]) -> dict[URIRef, URIRef]:
    """Former IRI -> the current claim that replaces it, for formers that are no longer claims
    but whose (study, exercise type, mechanism) still is."""
    current: dict[tuple[str, str, str], list[Claim]] = {}
    for claim in claims(src):
        current.setdefault((claim.study, claim.exercise, claim.mechanism), []).append(claim)
    names = {claim_iri(c) for group in current.values() for c in group}
    table = {}
    for old in released:
        node = resource("claim", old.slug)
        group = current.get((old.study, old.exercise, old.mechanism))
        if node not in names and group:
            best = min(group, key=lambda c: SUCCESSOR_ORDER.index(c.predicate))
            table[node] = claim_iri(best)
    return table


def withdrawn(src: Sources, released: Sequence[Former]) -> list[tuple[Former, Mapping]]:
    """Formers whose cell no longer makes any claim, each with its (now unmapped) mapping row.

    The row is found by the mechanism's name in the row's reason (data/README.md says so).
    """
    current = {(c.study, c.exercise, c.mechanism) for c in claims(src)}
    slugs = study_slugs(src.trials)
    out = []
    for old in released:
        if (old.study, old.exercise, old.mechanism) in current:
            continue
        words = old.mechanism.replace("-", " ")
        (row,) = [
            m
            for m in src.mappings
            if slugs[m.key] == old.study and not m.mechanism and words in m.rationale
        ]
        out.append((old, row))
    return out


def add_withdrawn(quads: list[ox.Quad], src: Sources, released: Sequence[Former]) -> None:
    """Keep each withdrawn claim of release 0.1.0 under its IRI, as it was claimed, and retract
    it with the mapping table's reason (nothing is deleted; its IRI keeps resolving)."""
    rows = {r["key"]: r for r in src.trials}
    for old, mapping in withdrawn(src, released):
        row = rows[mapping.key]
        cell = [split_cell(row[c])[mapping.index] for c in ("mechanisms", "mechanism_location")]
        note = split_cell(row["measured_as_mediator"])[mapping.index]
        status = status_from_note(note)
        level = LEVELS[status]
        kind = ECO_AUTHOR_STATEMENT if level == "ProposedAsRationale" else ECO_REVIEW_STATEMENT
        claim = nanopub.add_claim(
            quads,
            (
                node(resource("exercise", old.exercise)),
                node(EXM[PROPOSED]),
                node(resource("mechanism", old.mechanism)),
            ),
            nanopub.Provenance(
                study=node(resource("study", old.study)),
                location=cell[1],
                status=node(EXM[status]),
                note=note,
                wording=cell[0],
                evidence=nanopub.Evidence(
                    level=node(EXM[level]),
                    direction=node(EXM.NotReported),
                    kind=kind,
                    read_from=ox.NamedNode(row["seen_at"] or row["source_url"]),
                    read_from_kind=node(EXM.StudyRecord),
                ),
                activity=nanopub.ImportActivity(
                    row=row["key"],
                    decisions=(
                        f"{mapping.key}[{mapping.index}] -> {old.mechanism} for {old.exercise}: "
                        "the mapping of release 0.1.0, withdrawn (retracted) in issue 14",
                    ),
                    used=(node(TRIALS_TABLE), node(MAPPING_TABLE)),
                    agents=(node(CURATOR), node(ORGANISATION)),
                    ended=None,
                ),
            ),
            PUBINFO,
        )
        if claim.value != vocab.iri("claim", old.slug):
            raise ValueError(f"withdrawn claim {old.slug} would not keep its IRI ({claim})")
        reason = f"Withdrawn in the evidence recode (issue 14). {mapping.rationale}"
        info = nanopub.PubInfo(node(CURATOR), RECODED, comment=reason, comment_language="en")
        nanopub.add_retraction(quads, claim, info)


CLAIM_IRIS_HEADER = """\
# Former claim IRIs and the current claims that replace them: `<current> dcterms:replaces
# <former>`, one line per former IRI, always to the claim that is current now (no chains).
# A claim's IRI is a hash of its assertion and study (nanopub.claim_slug); when a claim is
# regenerated under a new IRI, its former IRI goes here, so that /id/claim/<former> (and
# its four /id/graph/<former>-<part> graphs) answer 301 with the current one.
# docs/model.md, "Claim IRIs", says how this table is kept; tests/test_claim_iris.py checks
# that every claim IRI ever shipped still resolves.
# Written by exmech.importer from data/sources/claims-0.1.0.csv (the claims of release 0.1.0):
# a former claim points to the current claim about the same study, exercise type and
# mechanism (a finding before a proposal). Former claims whose cell makes no claim any more
# stay in claims.trig, retracted. Edit the sources, not this file.
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix claim: <https://w3id.org/exmech/id/claim/> .

"""


def claim_iris(src: Sources, released: Sequence[Former]) -> str:
    """The text of data/claim-iris.ttl."""
    lines = [
        f"claim:{slug_of(new)} dcterms:replaces claim:{slug_of(old)} ."
        for old, new in sorted(successors(src, released).items())
    ]
    return CLAIM_IRIS_HEADER + "\n".join(lines) + "\n"


def slug_of(iri: URIRef) -> str:
    return str(iri).rsplit("/", 1)[1]


# --- serialising ---------------------------------------------------------------------------


def turtle(graph: Graph) -> str:
    """Turtle text; rdflib sorts subjects and predicates, so the output is stable."""
    return graph.serialize(format="turtle")


def trig(ds: Dataset) -> str:
    """TriG text with the named graphs in IRI order (rdflib keeps them in a set)."""
    serializer = TrigSerializer(ds)
    serializer.contexts = sorted(
        (c for c in serializer.contexts if len(c)), key=lambda c: str(c.identifier)
    )
    buffer = io.BytesIO()
    serializer.serialize(buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


def generate(sources_dir: Path = SOURCES_DIR) -> dict[str, str]:
    """File name -> text of every generated file."""
    src = load_sources(sources_dir)
    released = formers(sources_dir)
    return {
        "exercise-types.ttl": turtle(exercise_types_graph(src.exercise_types)),
        "mechanisms.ttl": turtle(mechanisms_graph(src.mechanisms, mechanism_tables(src))),
        "studies.ttl": turtle(studies_graph(src)),
        "claims.trig": trig(claims_dataset(src, released)),
        "claim-iris.ttl": claim_iris(src, released),
    }


def write(files: dict[str, str], out_dir: Path) -> None:
    """Write the generated files (UTF-8, LF) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8", newline="\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate the RDF files from the source tables."""
    parser = argparse.ArgumentParser(
        prog="python -m exmech.importer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    checkout = find_checkout(Path.cwd())
    parser.add_argument(
        "--sources",
        type=Path,
        help="folder of the source tables (default: data/sources of the checkout found from "
        "the working folder)",
    )
    parser.add_argument("--out", type=Path, help="output folder (default: data/ of that checkout)")
    args = parser.parse_args(argv)
    if args.sources is None or args.out is None:
        if checkout is None:
            parser.error(
                f"no exmech checkout (ontology/exmech.ttl and data/) in {Path.cwd()} or above "
                "it: give --sources DIR and --out DIR (an installed exmech never writes into "
                "itself)"
            )
        args.sources = args.sources or checkout / "data" / "sources"
        args.out = args.out or checkout / "data"
    files = generate(args.sources)
    write(files, args.out)
    for name in OUTPUTS:
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
