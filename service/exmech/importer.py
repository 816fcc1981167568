"""Generate the shipped RDF in data/ from the curated source tables in data/sources/.

Inputs (the only place the facts live):

- ``trials.csv``: the researched table of studies, copied unchanged; the source of truth.
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
from dataclasses import dataclass
from pathlib import Path

from rdflib import RDF, RDFS, XSD, Dataset, Graph, Literal, Namespace, URIRef
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

# normalize=False keeps the lexical form "…Z" that docs/model.md shows.
CREATED = Literal("2026-11-27T00:00:00Z", datatype=XSD.dateTime, normalize=False)
CURATOR = URIRef(vocab.iri("curator", "exmech-import"))
# The table itself, as the source of the mechanisms the review does not list.
TRIALS_TABLE = URIRef(f"{vocab.BASE}/data/sources/trials.csv")

SEPARATOR = " | "
OUTPUTS = ("exercise-types.ttl", "mechanisms.ttl", "studies.ttl", "claims.trig")

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


@dataclass(frozen=True)
class Sources:
    """All curated inputs, loaded and cross-checked."""

    trials: tuple[Row, ...]
    exercise_types: tuple[ExerciseType, ...]
    mechanisms: tuple[Mechanism, ...]
    mappings: tuple[Mapping, ...]


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
        )
        for r in read_csv(path)
    )


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
    loaded = Sources(
        trials=tuple(read_csv(sources_dir / "trials.csv")),
        exercise_types=load_exercise_types(sources_dir / "exercise-types.csv"),
        mechanisms=load_mechanisms(sources_dir / "mechanisms.csv"),
        mappings=load_mappings(sources_dir / "mechanism-mapping.csv"),
    )
    check_sources(loaded)
    return loaded


def check_sources(src: Sources) -> None:
    """Fail fast when the mapping drifts from the table or names unknown concepts."""
    rows = {r["key"]: r for r in src.trials}
    mechanisms = {m.slug: m for m in src.mechanisms}
    types = {t.slug for t in src.exercise_types}
    seen: set[tuple[str, int, str]] = set()
    for m in src.mappings:
        where = f"mapping {m.key}[{m.index}]"
        if m.key not in rows:
            raise ValueError(f"{where}: no such table row")
        cells = split_cell(rows[m.key]["mechanisms"])
        if not 0 <= m.index < len(cells) or cells[m.index] != m.wording:
            raise ValueError(f"{where}: wording does not match the table cell")
        if states_no_mechanism(m.wording):
            raise ValueError(f"{where}: the cell states no mechanism and must not be mapped")
        if (m.key, m.index, m.mechanism) in seen:
            raise ValueError(f"{where}: mechanism {m.mechanism!r} mapped twice")
        seen.add((m.key, m.index, m.mechanism))
        if not m.mechanism:
            if m.exercise_types or m.mediator_status or not m.rationale:
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
    for t in src.exercise_types:
        if not set(t.broader) <= types:
            raise ValueError(f"exercise type {t.slug}: unknown broader {t.broader}")


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
    for t in types:
        node = resource("exercise", t.slug)
        g.add((node, RDF.type, EXM.ExerciseType))
        g.add((node, SKOS.inScheme, EXM.exerciseTypes))
        g.add((node, SKOS.prefLabel, Literal(t.label)))
        g.add((node, SKOS.definition, Literal(t.definition)))
        for broader in t.broader:
            g.add((node, SKOS.broader, resource("exercise", broader)))
    return g


def mechanisms_graph(mechanisms: Sequence[Mechanism]) -> Graph:
    """The exm:mechanisms concept scheme: the review's 15 and those taken from the table."""
    g = new_graph()
    g.add((EXM.mechanisms, RDF.type, SKOS.ConceptScheme))
    for m in mechanisms:
        node = resource("mechanism", m.slug)
        g.add((node, RDF.type, EXM.Mechanism))
        g.add((node, SKOS.inScheme, EXM.mechanisms))
        g.add((node, SKOS.prefLabel, Literal(m.label)))
        g.add((node, SKOS.definition, Literal(m.definition)))
        g.add((node, EXM.inTheme, resource("theme", m.theme)))
        g.add((node, EXM.themeBasis, EXM[m.theme_basis]))
        g.add((node, EXM.listedInReview, Literal(m.in_review)))
        for url in m.see_also:
            g.add((node, RDFS.seeAlso, URIRef(url)))
        if not m.in_review:
            g.add((node, DCTERMS.source, TRIALS_TABLE))
    return g


def studies_graph(src: Sources) -> Graph:
    """Every table row as a study, traceable to its row through exm:sourceKey."""
    g = new_graph()
    slugs = study_slugs(src.trials)
    for row in src.trials:
        node = resource("study", slugs[row["key"]])
        g.add((node, RDF.type, design_class(row["study_type"])))
        g.add((node, RDFS.label, Literal(f"{surname(row['first_author'])} {row['year']}")))
        g.add((node, DCTERMS.title, Literal(row["title"])))
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
        if row["n"].isdigit():
            g.add((node, EXM.sampleSize, Literal(int(row["n"]))))
        for slug in exercise_slugs_for_row(row, src.exercise_types):
            g.add((node, EXM.studiesExerciseType, resource("exercise", slug)))
        g.add((node, EXM.sourceKey, Literal(row["key"])))
        if row["notes"]:
            g.add((node, RDFS.comment, Literal(row["notes"])))
    return g


@dataclass(frozen=True)
class Claim:
    """One (study, exercise type, mechanism) edge and the table cells behind it, in order."""

    study: str
    exercise: str
    mechanism: str
    cells: tuple[int, ...]


def claims(src: Sources) -> list[Claim]:
    """Distinct (study, exercise type, mechanism) edges; cells mapping to one edge merge."""
    slugs = study_slugs(src.trials)
    cells: dict[tuple[str, str, str], list[int]] = {}
    for m in src.mappings:
        if not m.mechanism:
            continue
        for exercise in m.exercise_types:
            indices = cells.setdefault((slugs[m.key], exercise, m.mechanism), [])
            if m.index not in indices:
                indices.append(m.index)
    return [Claim(s, e, mech, tuple(sorted(ix))) for (s, e, mech), ix in sorted(cells.items())]


def _joined(values: Iterable[str]) -> str:
    """Distinct non-empty values in order, joined as the table joins them."""
    return SEPARATOR.join(dict.fromkeys(v for v in values if v))


def claims_dataset(src: Sources) -> Dataset:
    """One nanopublication per claim, structured as docs/model.md §Claims."""
    slugs = study_slugs(src.trials)
    rows = {slugs[r["key"]]: r for r in src.trials}
    ds = Dataset(default_union=False)
    for claim in claims(src):
        row = rows[claim.study]
        pick = [
            split_cell(row[column])
            for column in ("mechanisms", "mechanism_location", "measured_as_mediator")
        ]
        wordings, locations, notes = ([values[i] for i in claim.cells] for values in pick)
        status = min((status_from_note(n) for n in notes), key=STATUS_ORDER.index)
        nanopub.add_claim(
            ds,
            (
                resource("exercise", claim.exercise),
                EXM.proposedMechanism,
                resource("mechanism", claim.mechanism),
            ),
            nanopub.Provenance(
                study=resource("study", claim.study),
                location=_joined(locations) or None,
                status=EXM[status],
                note=_joined(notes),
                wording=_joined(wordings),
            ),
            nanopub.PubInfo(CURATOR, CREATED),
        )
    bind_prefixes(ds)
    return ds


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
    return {
        "exercise-types.ttl": turtle(exercise_types_graph(src.exercise_types)),
        "mechanisms.ttl": turtle(mechanisms_graph(src.mechanisms)),
        "studies.ttl": turtle(studies_graph(src)),
        "claims.trig": trig(claims_dataset(src)),
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
