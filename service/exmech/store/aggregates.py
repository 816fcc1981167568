"""The aggregate questions answered from counts kept per generation, not by scanning every claim.

``evidence-map``, ``claims-by-evidence``, ``theme-frequencies-recomputed`` and
``claims-per-theme`` join every claim of the store; on pyoxigraph that takes seconds at 1M quads
and minutes at 10M (bench/README.md). The store only ever grows (a write adds quads; a
retraction or a new version is itself an added nanopublication), so what each claim contributes
to those questions can be kept up to date from the quads a write adds:

* ``Facts`` of a claim: is it typed ``exm:Claim``, is it in force (no effective ``npx:supersedes``
  or ``npx:retracts``), its (exercise, mechanism) links and (exercise, mechanism, study) rows.
  They are read with the patterns of the ``.rq`` files, from a ``Lookup`` on the store. A write
  re-reads the facts of exactly the claims its quads can change (``affected``), on the store
  after the write; everything else keeps its facts.
* per-group counts derived from the facts (claims and studies per (exercise, mechanism), ...),
  updated by removing a claim's old contribution and adding its new one;
* the small relations the answers join (labels, themes, study classes, reported frequencies),
  mirrored quad by quad.

An answer is rendered from them once per generation (sorted as the query's ORDER BY sorts) and
is only given for the generation and dataset hash it was computed on; when anything is outside
what this module reproduces (blank nodes, labels that are not strings), it answers nothing and
the engine runs the query. tests/test_aggregates.py compares every answer with the engine's.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from sys import intern
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson
import pyoxigraph as ox

from exmech import queries
from exmech.vocab import EXM, NP, NPX, PROV, RDF, SKOS

if TYPE_CHECKING:
    from exmech.store import Query

log = logging.getLogger(__name__)
MAGIC = b"exmech-aggregates"  # a checkpoint begins: MAGIC, its format version, SHA-256 of the body
FORMAT_VERSION = 2  # 2: JSON (1 was a pickle, refused: it could run code when read)
FREEZE_FACTS = 50_000  # claims (about 1M quads) from which the loaded state is frozen for gc
QUESTIONS = (
    "evidence-map",
    "claims-by-evidence",
    "theme-frequencies-recomputed",
    "claims-per-theme",
)

TYPE = f"<{RDF}type>"
HAS_ASSERTION, HAS_PROVENANCE, HAS_PUBINFO = (
    f"<{NP}{name}>" for name in ("hasAssertion", "hasProvenance", "hasPublicationInfo")
)
DERIVED = f"<{PROV}wasDerivedFrom>"
SUPERSEDES, RETRACTS = f"<{NPX}supersedes>", f"<{NPX}retracts>"
LINKS = tuple(
    f"<{EXM}{name}Mechanism>"
    for name in ("proposed", "supported", "unsupported", "contradicted", "examined")
)
CLAIM, RETRACTION = f"<{EXM}Claim>", f"<{EXM}Retraction>"
REVIEWS = tuple(f"<{EXM}{c}>" for c in ("SystematicReview", "MetaAnalysis"))
TRIALS = tuple(
    f"<{EXM}{c}>"
    for c in ("RandomisedControlledTrial", "NonRandomisedControlledTrial", "SecondaryAnalysis")
)
THEME, FREQUENCY = f"<{EXM}Theme>", f"<{EXM}ThemeFrequency>"
DIMENSION_TYPES = frozenset((THEME, FREQUENCY, *REVIEWS, *TRIALS))
# Relations the answers join, mirrored quad by quad: name -> predicate.
DIMENSIONS = {
    "label": f"<{SKOS}prefLabel>",
    "inTheme": f"<{EXM}inTheme>",
    "ofTheme": f"<{EXM}ofTheme>",
    "mentionCount": f"<{EXM}mentionCount>",
    "reportedPercentage": f"<{EXM}reportedPercentage>",
}
_DIMENSION_OF = {p: name for name, p in DIMENSIONS.items()}
CLAIM_PREDICATES = frozenset(
    (HAS_ASSERTION, HAS_PROVENANCE, HAS_PUBINFO, DERIVED, SUPERSEDES, RETRACTS, *LINKS)
)
# How ``facts`` reads each claim predicate: objects (spo), subjects (pos), pairs in a graph
# (pg), subjects and graphs by object (po). A full scan indexes each quad only these ways.
READS: dict[Key, tuple[str, ...]] = {
    TYPE: ("spo",),
    HAS_ASSERTION: ("spo", "pos"),
    HAS_PROVENANCE: ("spo",),
    HAS_PUBINFO: ("spo",),
    DERIVED: ("pg",),
    SUPERSEDES: ("po",),
    RETRACTS: ("po",),
    **{link: ("pg",) for link in LINKS},
}
XSD = "http://www.w3.org/2001/XMLSchema#"
STRING, LANG_STRING = f"{XSD}string", f"{RDF}langString"

Key = str  # a term as N-Triples writes it (str(term)); None in a row is an unbound value
Row = tuple[Any, ...]


class Unsupported(Exception):
    """The data holds something this module does not reproduce; the engine must answer."""


class Lookup(Protocol):
    """The few reads the facts of a claim need, on one state of the store."""

    def objects(self, subject: Key, predicate: Key) -> set[Key]: ...
    def subjects(self, predicate: Key, obj: Key) -> set[Key]: ...
    def in_graph(self, predicate: Key, graph: Key) -> list[tuple[Key, Key]]: ...
    def targeting(self, predicate: Key, obj: Key) -> list[tuple[Key, Key]]: ...


def _node(key: Key) -> ox.NamedNode | None:
    """The IRI a key names (None for literals: they are never subjects or graphs)."""
    if key.startswith("<"):
        return ox.NamedNode(key[1:-1])
    if key.startswith("_:"):
        raise Unsupported("a blank node where the aggregate questions read claims")
    return None


class StoreLookup:
    """Lookups answered by pyoxigraph's indexes (a write's handful of claims)."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    def quads(self, s: Key | None, p: Key, o: Key | None, g: Key | None) -> Iterator[ox.Quad]:
        """Quads of the pattern (None: any; graph "": the default graph)."""
        subject = None if s is None else _node(s)
        graph: Any = None if g is None else ox.DefaultGraph() if g == "" else _node(g)
        if (s is not None and subject is None) or (g is not None and graph is None):
            return iter(())  # a literal subject or graph matches nothing
        obj: Any = None if o is None else _node(o) if o.startswith(("<", "_:")) else _literal(o)
        return self.store.quads_for_pattern(subject, ox.NamedNode(p[1:-1]), obj, graph)

    def objects(self, subject: Key, predicate: Key) -> set[Key]:
        return {str(q.object) for q in self.quads(subject, predicate, None, None)}

    def subjects(self, predicate: Key, obj: Key) -> set[Key]:
        return {str(q.subject) for q in self.quads(None, predicate, obj, None)}

    def in_graph(self, predicate: Key, graph: Key) -> list[tuple[Key, Key]]:
        return [(str(q.subject), str(q.object)) for q in self.quads(None, predicate, None, graph)]

    def targeting(self, predicate: Key, obj: Key) -> list[tuple[Key, Key]]:
        return [
            (str(q.subject), str(q.graph_name))
            for q in self.quads(None, predicate, obj, None)
            if not isinstance(q.graph_name, ox.DefaultGraph)
        ]


@dataclass
class IndexLookup:
    """The same lookups over quads read once, for a full build (one index scan per predicate)."""

    spo: dict[Key, dict[Key, set[Key]]] = field(default_factory=dict)  # p -> s -> objects
    pos: dict[Key, dict[Key, set[Key]]] = field(default_factory=dict)  # p -> o -> subjects
    pg: dict[Key, dict[Key, list[tuple[Key, Key]]]] = field(default_factory=dict)  # p -> g -> so
    po: dict[Key, dict[Key, list[tuple[Key, Key]]]] = field(default_factory=dict)  # p -> o -> sg

    def add(self, s: Key, p: Key, o: Key, g: Key | None) -> None:
        """Index a quad the ways ``facts`` reads its predicate (see ``READS``), no more."""
        reads = READS[p]
        if "spo" in reads:
            self.spo.setdefault(p, {}).setdefault(s, set()).add(o)
        if "pos" in reads:
            self.pos.setdefault(p, {}).setdefault(o, set()).add(s)
        if g is not None:
            if "pg" in reads:
                self.pg.setdefault(p, {}).setdefault(g, []).append((s, o))
            if "po" in reads:
                self.po.setdefault(p, {}).setdefault(o, []).append((s, g))

    def objects(self, subject: Key, predicate: Key) -> set[Key]:
        return self.spo.get(predicate, {}).get(subject, set())

    def subjects(self, predicate: Key, obj: Key) -> set[Key]:
        return self.pos.get(predicate, {}).get(obj, set())

    def in_graph(self, predicate: Key, graph: Key) -> list[tuple[Key, Key]]:
        return self.pg.get(predicate, {}).get(graph, [])

    def targeting(self, predicate: Key, obj: Key) -> list[tuple[Key, Key]]:
        return self.po.get(predicate, {}).get(obj, [])


class Facts(NamedTuple):
    """What one claim contributes, read with the patterns of the aggregate queries.

    Tuples of strings all the way down, sorted: Python's cyclic garbage collector stops
    tracking such tuples, so the facts of 500,000 claims add nothing to its pauses.
    """

    typed: bool  # ?claim a exm:Claim
    current: bool  # neither superseded nor retracted
    links: tuple[tuple[Key, Key], ...]  # (exercise, mechanism) in one of its assertion graphs
    rows: tuple[tuple[Key, Key, Key], ...]  # (exercise, mechanism, study) via its provenance

    @property
    def in_force(self) -> bool:
        return self.typed and self.current


def facts(lookup: Lookup, claim: Key) -> Facts | None:
    """The facts of ``claim`` (None: it contributes to no aggregate question)."""
    if not claim.startswith(("<", "_:")):
        return None  # a literal is never a claim
    _node(claim)
    links: set[tuple[Key, Key]] = set()
    rows: set[tuple[Key, Key, Key]] = set()
    provenances = lookup.objects(claim, HAS_PROVENANCE)
    for assertion in lookup.objects(claim, HAS_ASSERTION):
        if _node(assertion) is None:
            continue
        found = [pair for link in LINKS for pair in lookup.in_graph(link, assertion)]
        links.update(found)
        if not found:
            continue
        studies = {
            study
            for provenance in provenances
            if _node(provenance) is not None
            for subject, study in lookup.in_graph(DERIVED, provenance)
            if subject == assertion
        }
        rows.update((intern(e), intern(m), intern(s)) for e, m in found for s in studies)
    if not links:
        return None
    for key in {k for row in rows for k in row} | {k for pair in links for k in pair}:
        if key.startswith("_:"):
            raise Unsupported("a blank node in a claim's assertion or provenance")
    superseded = any(
        newer_info in lookup.objects(newer, HAS_PUBINFO)
        for newer, newer_info in lookup.targeting(SUPERSEDES, claim)
    )
    retracted = any(
        RETRACTION in lookup.objects(retraction, TYPE)
        for _, graph in lookup.targeting(RETRACTS, claim)
        for retraction in lookup.subjects(HAS_ASSERTION, graph)
    )
    typed = CLAIM in lookup.objects(claim, TYPE)
    return Facts(typed, not (superseded or retracted), tuple(sorted(links)), tuple(sorted(rows)))


def affected(lookup: Lookup, quads: Iterable[tuple[Key, Key, Key, Key | None]]) -> set[Key]:
    """Claims whose facts the added quads can change, looked up on the store after the write.

    One rule per pattern of ``facts``: a quad can only complete a pattern it takes part in,
    so each rule walks from the quad to the claims of that pattern.
    """
    found: set[Key] = set()
    for s, p, o, g in quads:
        if p == TYPE and o == CLAIM or p == HAS_PROVENANCE:
            found.add(s)
        elif p == TYPE and o == RETRACTION:
            for graph in lookup.objects(s, HAS_ASSERTION):
                found.update(c for _, c in lookup.in_graph(RETRACTS, graph))
        elif p == HAS_ASSERTION:
            found.add(s)
            found.update(c for _, c in lookup.in_graph(RETRACTS, o))
        elif p == HAS_PUBINFO:
            found.update(c for _, c in lookup.in_graph(SUPERSEDES, o))
        elif p in LINKS and g is not None:
            found.update(lookup.subjects(HAS_ASSERTION, g))
        elif p == DERIVED and g is not None:
            found.update(lookup.subjects(HAS_PROVENANCE, g))
        elif p in (SUPERSEDES, RETRACTS):
            found.add(o)
    return found


def _keys(quad: ox.Quad) -> tuple[Key, Key, Key, Key | None]:
    g = quad.graph_name
    return (
        str(quad.subject),
        str(quad.predicate),
        str(quad.object),
        None if isinstance(g, ox.DefaultGraph) else str(g),
    )


def relevant(s: Key, p: Key, o: Key) -> str | None:
    """Which part of the state a quad feeds: "claim", "dimension" or None."""
    if p == TYPE:
        if o in (CLAIM, RETRACTION):
            return "claim"
        return "dimension" if o in DIMENSION_TYPES else None
    if p in CLAIM_PREDICATES:
        return "claim"
    return "dimension" if p in _DIMENSION_OF else None


@lru_cache(maxsize=65536)
def _literal(key: Key) -> ox.Literal:
    """A literal back from its N-Triples form."""
    quad = next(iter(ox.parse(f"<x:s> <x:p> {key} .".encode(), format=ox.RdfFormat.N_TRIPLES)))
    assert isinstance(quad.object, ox.Literal)
    return quad.object


def sort_key(value: Key | int | None) -> tuple[Any, ...]:
    """How ``ordering.safe_order``'s keys sort a value of these answers (unbound first)."""
    if value is None:
        return (0,)
    if isinstance(value, int):
        return (3, value)
    if value.startswith("<"):
        return (2, value[1:-1])
    literal = _literal(value)
    if literal.datatype.value == STRING:
        return (5, literal.value)
    if literal.datatype.value == LANG_STRING:
        return (8, literal.value, LANG_STRING, literal.language or "")
    raise Unsupported(f"a label typed {literal.datatype.value} in an ordered answer")


def _plain(text: str) -> Key:
    return str(ox.Literal(text))


@dataclass(frozen=True)
class Table:
    """An aggregate question's answer, as SPARQL TSV (the engine parses and writes it)."""

    columns: tuple[str, ...]
    tsv: bytes
    rows: int
    truncated: bool
    generation: str

    def solutions(self) -> ox.QuerySolutions:
        parsed = ox.parse_query_results(self.tsv, format=ox.QueryResultsFormat.TSV)
        assert isinstance(parsed, ox.QuerySolutions)  # TSV holds solutions, never a boolean
        return parsed

    def terms(self) -> list[tuple[ox.NamedNode | ox.Literal | None, ...]]:
        """The rows as pyoxigraph terms (None: unbound)."""
        return [tuple(s[c] for c in self.columns) for s in self.solutions()]


def _tsv(value: Key | int | None) -> str:
    """A value as SPARQL TSV writes it: N-Triples, with tabs escaped inside literals."""
    if value is None:
        return ""
    if isinstance(value, int):
        return f'"{value}"^^<{XSD}integer>'
    if value.startswith("_:"):
        raise Unsupported("a blank node in an aggregate answer")
    return value.replace("\t", "\\t")


def _line(row: Row) -> str:
    return "\t".join(map(_tsv, row))


@dataclass(frozen=True)
class Ordered:
    """A rendered answer: its rows in the query's order as TSV lines, the first n on demand."""

    columns: tuple[str, ...]
    first: Callable[[int | None], list[str]]  # the first n rows (all for None)

    def table(self, max_rows: int | None, generation: str) -> Table:
        rows = self.first(None if max_rows is None else max_rows + 1)
        shown = rows if max_rows is None else rows[:max_rows]
        header = "\t".join("?" + c for c in self.columns)
        tsv = "\n".join([header, *shown, ""]).encode("utf-8")
        return Table(self.columns, tsv, len(shown), len(rows) > len(shown), generation)


def _ties(row: Row) -> tuple[tuple[int, Any], ...]:
    """Any fixed order, for rows the ORDER BY leaves tied (the engine's is arbitrary too)."""
    return tuple((0, 0) if v is None else (1, v) if isinstance(v, int) else (2, v) for v in row)


def _sorted(columns: tuple[str, ...], rows: list[Row], conditions: Iterable[str]) -> list[Row]:
    """Rows sorted as ``ORDER BY conditions`` ("-name" descending); ties in a fixed order."""
    rows.sort(key=_ties)  # ties: any fixed order (the engine's is arbitrary too)
    for condition in reversed(list(conditions)):
        i = columns.index(condition.lstrip("-"))
        keys = {v: sort_key(v) for v in {row[i] for row in rows}}
        rows.sort(key=lambda row: keys[row[i]], reverse=condition.startswith("-"))
    return rows


def order(columns: tuple[str, ...], rows: list[Row], conditions: Iterable[str]) -> Ordered:
    lines = [_line(row) for row in _sorted(columns, rows, conditions)]
    return Ordered(columns, lambda n: lines[:n])


def _expand(values: dict[Key, set[str]] | None) -> list[Key]:
    """Objects of a mirrored relation, each once per graph that holds it (union default graph)."""
    return [o for o, graphs in (values or {}).items() for _ in graphs]


def _bump(table: dict[Any, dict[Key, int]], group: Any, key: Key, step: int) -> int:
    """Count ``key`` in ``group`` up or down; 1 when it appears there, -1 when it leaves, else 0."""
    inner = table.setdefault(group, {})
    before = inner.get(key, 0)
    n = before + step
    if n:
        inner[key] = n
    else:
        del inner[key]
        if not inner:
            del table[group]
    return 1 if not before else -1 if not n else 0


@dataclass
class State:
    """Facts per claim, counts per group and the mirrored relations, for one generation.

    Only ``facts`` and ``dims`` are the state; the rest is derived from them (rebuilt when a
    checkpoint is loaded) or cached for rendering and dropped when what it read changes.
    Per theme, the claims and studies it counts are tallied as claims come and go (a write
    costs what it changes, not a pass over the theme), and its claims in force are kept in
    the order the answer lists them once they have been listed.
    """

    facts: dict[Key, Facts] = field(default_factory=dict)
    # Relations the answers join: name -> subject -> object -> graphs ("" for the default).
    dims: dict[str, dict[Key, dict[Key, set[str]]]] = field(default_factory=dict)
    by_mechanism: dict[Key, dict[Key, int]] = field(default_factory=dict)  # m -> claim -> 1
    studies_by_mechanism: dict[Key, dict[Key, int]] = field(default_factory=dict)  # m -> s -> n
    in_force: dict[tuple[Key, Key], dict[Key, int]] = field(default_factory=dict)  # (e,m) -> c
    in_force_studies: dict[tuple[Key, Key], dict[Key, int]] = field(default_factory=dict)
    exercises_of: dict[Key, dict[Key, int]] = field(default_factory=dict)  # m -> e (in force)
    linked_in_force: set[Key] = field(default_factory=set)
    # Mechanism <-> theme (exm:inTheme), and per theme: claim or study -> how many of the
    # groups above (by mechanism; by (exercise, mechanism) for those in force) hold it.
    themes_of: dict[Key, set[Key]] = field(default_factory=dict)
    mechanisms_of: dict[Key, set[Key]] = field(default_factory=dict)
    theme_claims: dict[Key, dict[Key, int]] = field(default_factory=dict)
    theme_studies: dict[Key, dict[Key, int]] = field(default_factory=dict)
    theme_in_force: dict[Key, dict[Key, int]] = field(default_factory=dict)
    theme_in_force_studies: dict[Key, dict[Key, int]] = field(default_factory=dict)
    # What changed since the caches below were filled.
    dirty_groups: set[tuple[Key, Key]] = field(default_factory=set)
    dims_dirty: bool = True
    _group: dict[tuple[Key, Key], tuple[int, int, Key, int, int]] = field(default_factory=dict)
    # Theme -> IRIs (text, no brackets) of its claims in force, sorted; kept once listed.
    _theme_sorted: dict[Key, list[str]] = field(default_factory=dict)
    # Sorted rows of the questions grouped by (exercise, mechanism), and the groups to redo
    # (None: all of them).
    _entries: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    _of_group: dict[str, dict[tuple[Key, Key], list[tuple[Any, ...]]]] = field(default_factory=dict)
    _pending: dict[str, set[tuple[Key, Key]] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for m, themes in self.dims.get("inTheme", {}).items():
            for t in themes:
                self._join(m, t)

    def _count(self, claim: Key, f: Facts, step: int) -> None:
        for m in {m for _, m, _ in f.rows}:
            if _bump(self.by_mechanism, m, claim, step):
                for t in self.themes_of.get(m, ()):
                    _bump(self.theme_claims, t, claim, step)
        for m, s in {(m, s) for _, m, s in f.rows}:
            if _bump(self.studies_by_mechanism, m, s, step):
                for t in self.themes_of.get(m, ()):
                    _bump(self.theme_studies, t, s, step)
        if not f.in_force:
            return
        (self.linked_in_force.add if step > 0 else self.linked_in_force.discard)(claim)
        for e, m in {(e, m) for e, m, _ in f.rows}:
            _bump(self.in_force, (e, m), claim, step)
            _bump(self.exercises_of, m, e, step)
            self.dirty_groups.add((e, m))
            for t in self.themes_of.get(m, ()):
                self._theme_claim(t, claim, step)
        for e, m, s in f.rows:
            if _bump(self.in_force_studies, (e, m), s, step):
                for t in self.themes_of.get(m, ()):
                    _bump(self.theme_in_force_studies, t, s, step)

    def _theme_claim(self, t: Key, claim: Key, step: int) -> None:
        """Count a claim in force in or out of theme ``t``, keeping the theme's list sorted."""
        change = _bump(self.theme_in_force, t, claim, step)
        listed = self._theme_sorted.get(t)
        if change and listed is not None:
            iri = claim[1:-1]  # IRIs sort by their text
            if change > 0:
                bisect.insort(listed, iri)
            else:
                del listed[bisect.bisect_left(listed, iri)]

    def _join(self, m: Key, t: Key) -> None:
        """Mechanism ``m`` enters theme ``t``: its claims and studies count there too."""
        self.themes_of.setdefault(m, set()).add(t)
        self.mechanisms_of.setdefault(t, set()).add(m)
        self._theme_sorted.pop(t, None)  # sorted again when next listed
        for claim in self.by_mechanism.get(m, ()):
            _bump(self.theme_claims, t, claim, 1)
        for study in self.studies_by_mechanism.get(m, ()):
            _bump(self.theme_studies, t, study, 1)
        for e in self.exercises_of.get(m, ()):
            for claim in self.in_force[(e, m)]:
                _bump(self.theme_in_force, t, claim, 1)
            for study in self.in_force_studies.get((e, m), ()):
                _bump(self.theme_in_force_studies, t, study, 1)

    def set_facts(self, claim: Key, new: Facts | None) -> None:
        old = self.facts.pop(claim, None)
        if old == new:
            if new is not None:
                self.facts[claim] = new
            return
        if old is not None:
            self._count(claim, old, -1)
        if new is not None:
            self.facts[claim] = new
            self._count(claim, new, 1)

    def mirror(self, s: Key, p: Key, o: Key, g: Key | None) -> None:
        name = "type" if p == TYPE else _DIMENSION_OF[p]
        objects = self.dims.setdefault(name, {}).setdefault(s, {})
        graphs = objects.get(o)
        if graphs is None:
            graphs = objects[o] = set()
            if name == "inTheme":
                self._join(s, o)
        if (g or "") not in graphs:  # the store only grows: a quad seen again changes nothing
            graphs.add(g or "")
            self.dims_dirty = True

    def dim(self, name: str, subject: Key) -> dict[Key, set[str]]:
        return self.dims.get(name, {}).get(subject, {})

    def typed(self, cls: Key) -> list[Key]:
        return sorted(s for s, classes in self.dims.get("type", {}).items() if cls in classes)

    def refresh(self) -> None:
        """Drop the cached parts that read what changed since they were filled."""
        if self.dims_dirty:
            self._group.clear()
            self._pending.clear()
        else:
            for pending in self._pending.values():
                if pending is not None:
                    pending.update(self.dirty_groups)
            for group in self.dirty_groups:
                self._group.pop(group, None)
        self.dims_dirty = False
        self.dirty_groups.clear()

    # Rendering: one function per question, the query's joins over the counts.

    def claims_per_theme(self) -> Ordered:
        rows: list[Row] = []
        for t in self.typed(THEME):
            mechanisms = sum(1 for m in self.mechanisms_of.get(t, ()) if m in self.by_mechanism)
            claims = len(self.theme_claims.get(t, ()))
            counts = (claims, mechanisms, len(self.theme_studies.get(t, ())))
            rows.extend((t, label, *counts) for label in self.dim("label", t))
        columns = ("theme", "label", "claims", "mechanisms", "studies")
        return order(columns, rows, ("-claims", "label"))

    def _info(self, e: Key, m: Key) -> tuple[int, int, Key, int, int]:
        """(claims, studies, claims as GROUP_CONCAT writes them, reviews, trials) of a group."""
        info = self._group.get((e, m))
        if info is None:
            types = self.dims.get("type", {})
            claims = self.in_force[(e, m)]
            studies = self.in_force_studies.get((e, m), {})
            reviews = sum(1 for s in studies if any(c in types.get(s, ()) for c in REVIEWS))
            trials = sum(1 for s in studies if any(c in types.get(s, ()) for c in TRIALS))
            concat = _plain(" ".join(sorted(c[1:-1] for c in claims)))
            info = self._group[(e, m)] = (len(claims), len(studies), concat, reviews, trials)
        return info

    def _evidence_map_rows(self, e: Key, m: Key) -> list[tuple[Any, ...]]:
        claims, studies, concat, _, _ = self._info(e, m)
        return [
            (
                (sort_key(e_label), -studies, -claims, sort_key(m_label)),
                (e, e_label, m, m_label, t, t_label, studies, claims, concat),
            )
            for e_label in _expand(self.dim("label", e))
            for m_label in _expand(self.dim("label", m))
            for t in _expand(self.dim("inTheme", m))
            for t_label in _expand(self.dim("label", t))
        ]

    def _claims_by_evidence_rows(self, e: Key, m: Key) -> list[tuple[Any, ...]]:
        claims, _, concat, reviews, trials = self._info(e, m)
        support = _plain(
            "reviews only"
            if trials == 0
            else "trials only"
            if reviews == 0
            else "reviews and trials"
        )
        return [
            (
                (sort_key(support), sort_key(e_label), sort_key(m_label)),
                (e, e_label, m, m_label, support, reviews, trials, claims, concat),
            )
            for e_label in _expand(self.dim("label", e))
            for m_label in _expand(self.dim("label", m))
        ]

    def _kept(self, name: str) -> Ordered:
        """A question with one group of rows per (exercise, mechanism), kept sorted across
        generations: only the groups a write changed are taken out and put back in."""
        make = {
            "evidence-map": self._evidence_map_rows,
            "claims-by-evidence": self._claims_by_evidence_rows,
        }[name]
        pending = self._pending.get(name)
        entries = self._entries.setdefault(name, [])
        of_group = self._of_group.setdefault(name, {})
        if pending is None:  # everything, sorted once
            of_group.clear()
            for group in self.in_force:
                of_group[group] = [(k, _ties(r), _line(r)) for k, r in make(*group)]
            entries[:] = sorted(entry for found in of_group.values() for entry in found)
        else:
            for group in pending:
                for entry in of_group.pop(group, ()):
                    del entries[bisect.bisect_left(entries, entry)]
                if group in self.in_force:
                    of_group[group] = [(k, _ties(r), _line(r)) for k, r in make(*group)]
                    for entry in of_group[group]:
                        bisect.insort(entries, entry)
        self._pending[name] = set()
        return Ordered(COLUMNS[name], lambda n: [line for _, _, line in entries[:n]])

    def evidence_map(self) -> Ordered:
        return self._kept("evidence-map")

    def claims_by_evidence(self) -> Ordered:
        return self._kept("claims-by-evidence")

    def _in_force_of_theme(self, t: Key) -> tuple[list[str], int]:
        """IRIs of the claims in force of theme ``t``, sorted as ORDER BY sorts IRIs (by their
        text; sorted once, then kept by ``_theme_claim``), and how many studies they rest on."""
        listed = self._theme_sorted.get(t)
        if listed is None:
            listed = sorted([c[1:-1] for c in self.theme_in_force.get(t, ())])
            if t in self.mechanisms_of:  # kept only for themes a claim can enter
                self._theme_sorted[t] = listed
        return listed, len(self.theme_in_force_studies.get(t, ()))

    def theme_frequencies(self) -> Ordered:
        themes = self.typed(THEME)
        in_force = [self._in_force_of_theme(t) for t in themes]
        percents = _percentages([len(c) for c, _ in in_force], len(self.linked_in_force))
        frequencies = self.typed(FREQUENCY)
        heads: set[Row] = set()
        claims_of: dict[Key, list[str] | list[None]] = {}
        for t, (claims, studies), percent in zip(themes, in_force, percents, strict=True):
            reported: list[tuple[str | None, str | None]] = [
                (mentions, share)
                for f in frequencies
                if t in self.dim("ofTheme", f)
                for mentions in self.dim("mentionCount", f)
                for share in self.dim("reportedPercentage", f)
            ] or [(None, None)]
            claims_of[t] = claims or [None]  # read before the next write changes it
            for label in self.dim("label", t):
                heads.update(
                    (t, label, len(claims), studies, percent, m, share) for m, share in reported
                )
        columns = (
            "theme",
            "label",
            "claimCount",
            "studies",
            "claimPercent",
            "reportedMentions",
            "reportedPercent",
            "claims",
        )
        ordered = _sorted(columns[:-1], list(heads), ("-claimCount", "label"))

        def rows(head: Row) -> Iterator[tuple[tuple[Any, ...], str]]:
            prefix = _line(head) + "\t"
            for iri in claims_of[head[0]]:
                if iri is None:
                    yield (0,), prefix
                else:
                    yield (2, iri), f"{prefix}<{iri}>"

        def first(n: int | None) -> list[str]:
            # One row per head and claim: heads in order, each head's claims in order; heads
            # that tie on (claimCount, label) have their rows merged by claim.
            out: list[str] = []
            runs = itertools.groupby(ordered, key=lambda h: (h[2], sort_key(h[1])))
            for _, run in runs:
                heads_of_run = list(run)
                merged = (
                    rows(heads_of_run[0])
                    if len(heads_of_run) == 1
                    else heapq.merge(*map(rows, heads_of_run), key=lambda r: r[0])
                )
                wanted = None if n is None else n - len(out)
                out.extend(line for _, line in itertools.islice(merged, wanted))
                if n is not None and len(out) >= n:
                    break
            return out

        return Ordered(columns, first)


def _percentages(counts: list[int], total: int) -> list[Key | None]:
    """``ROUND(1000.0 * ?claimCount / ?allClaims) / 10`` as the engine computes it (unbound
    when it errs, as when no claim is in force): the arithmetic is left to pyoxigraph."""
    if not counts:
        return []
    values = " ".join(f"({i} {c} {total})" for i, c in enumerate(counts))
    text = (
        "SELECT ?i (ROUND(1000.0 * ?c / ?a) / 10 AS ?p) "
        f"WHERE {{ VALUES (?i ?c ?a) {{ {values} }} }}"
    )
    found: dict[int, Key | None] = {}
    solutions = ox.Store().query(text)
    assert isinstance(solutions, ox.QuerySolutions)  # a SELECT
    for solution in solutions:
        percent = solution["p"]
        found[int(solution["i"].value)] = None if percent is None else str(percent)
    return [found.get(i) for i in range(len(counts))]


RENDER: dict[str, Callable[[State], Ordered]] = {
    "evidence-map": State.evidence_map,
    "claims-by-evidence": State.claims_by_evidence,
    "theme-frequencies-recomputed": State.theme_frequencies,
    "claims-per-theme": State.claims_per_theme,
}


COLUMNS = {
    "evidence-map": (
        "exercise",
        "exerciseLabel",
        "mechanism",
        "mechanismLabel",
        "theme",
        "themeLabel",
        "studies",
        "claimCount",
        "claims",
    ),
    "claims-by-evidence": (
        "exercise",
        "exerciseLabel",
        "mechanism",
        "mechanismLabel",
        "support",
        "reviewStudies",
        "trialStudies",
        "claimCount",
        "claims",
    ),
}


class Aggregates:
    """The aggregate questions' state, tagged with the generation and dataset it describes.

    Thread-safe: ``apply`` (the writer, after each publish) and ``answer`` (any reader) take
    one lock; an answer is rendered at most once per generation and question.
    """

    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        self.generation = ""
        self.records = 0
        self.dataset_hash = ""
        self.unsupported = ""  # why the engine must answer instead, once something was
        self._rendered: dict[str, Ordered] = {}
        self._tables: dict[tuple[str, int | None], Table] = {}
        self._lock = threading.Lock()

    @classmethod
    def scan(cls, store: ox.Store) -> Aggregates:
        """Everything from a store (a full build): one index scan per relevant predicate."""
        index = IndexLookup()
        aggregates = cls()
        predicates = [*CLAIM_PREDICATES, *DIMENSIONS.values()]
        patterns = [(ox.NamedNode(p[1:-1]), None) for p in predicates] + [
            (ox.NamedNode(TYPE[1:-1]), ox.NamedNode(c[1:-1]))
            for c in (CLAIM, RETRACTION, *DIMENSION_TYPES)
        ]
        for predicate, obj in patterns:
            for quad in store.quads_for_pattern(None, predicate, obj, None):
                aggregates._take(_keys(quad), index)
        try:
            for claim in index.spo.get(HAS_ASSERTION, {}):
                aggregates.state.set_facts(claim, facts(index, claim))
        except Unsupported as exc:
            aggregates.unsupported = str(exc)
        return aggregates

    def _take(self, keys: tuple[Key, Key, Key, Key | None], index: IndexLookup | None) -> None:
        s, p, o, g = keys
        kind = relevant(s, p, o)
        if kind == "dimension":
            self.state.mirror(s, p, o, g)
        if kind == "claim" and index is not None:
            index.add(s, p, o, g)

    def apply(self, quads: Iterable[ox.Quad], store: ox.Store) -> None:
        """Fold quads just added to ``store`` (which already holds them) into the state.

        Everything is read back from the store, never taken from ``quads`` as written: the
        store keeps some literals in canonical form ("5.0"^^xsd:decimal is "5").
        """
        keyed = [k for k in map(_keys, quads) if relevant(*k[:3])]
        with self._lock:
            self._rendered, self._tables = {}, {}
            if self.unsupported:
                return
            lookup = StoreLookup(store)
            try:
                for s, p, o, g in keyed:
                    if relevant(s, p, o) == "dimension":
                        for quad in lookup.quads(s, p, None, g or ""):
                            self._take(_keys(quad), None)
                for claim in affected(lookup, keyed):
                    self.state.set_facts(claim, facts(lookup, claim))
            except Unsupported as exc:
                self.unsupported = str(exc)
                log.warning("aggregate questions answered by the engine from now on: %s", exc)

    def tag(self, generation: str, records: int, dataset_hash: str) -> None:
        """Say which generation (and journal length, dataset hash) the state now describes."""
        with self._lock:
            self.generation, self.records, self.dataset_hash = generation, records, dataset_hash
            self._rendered, self._tables = {}, {}

    def warm(self) -> None:
        """Render every question now (the first render sorts everything; later ones only
        redo what writes changed), so no request pays for it."""
        for name in QUESTIONS:
            self.answer(name, self.generation, self.dataset_hash, 0)

    def answer(
        self, name: str, generation: str, dataset_hash: str, max_rows: int | None
    ) -> Table | None:
        """The answer of question ``name`` on ``generation``, or None (the engine answers)."""
        with self._lock:
            if (
                self.unsupported
                or generation != self.generation
                or dataset_hash != self.dataset_hash
            ):
                return None
            table = self._tables.get((name, max_rows))
            if table is not None:
                return table
            ordered = self._rendered.get(name)
            if ordered is None:
                try:
                    self.state.refresh()
                    ordered = RENDER[name](self.state)
                except Unsupported as exc:
                    log.info("%s answered by the engine: %s", name, exc)
                    return None
                self._rendered[name] = ordered
            table = self._tables[(name, max_rows)] = ordered.table(max_rows, self.generation)
            return table

    def dumps(self) -> bytes:
        """A checkpoint: the facts and mirrored relations, their tag, and a checksum."""
        with self._lock:
            body = checkpoint_body(self)
        return _header(body) + b"\n" + body

    @classmethod
    def loads(cls, data: bytes) -> Aggregates:
        """A checkpoint back; raises ValueError when it is damaged, of another version or
        not a checkpoint at all. Reading it is parsing JSON: nothing in it can run code."""
        head, _, body = data.partition(b"\n")
        if head != _header(body):
            version = head.split(b" ")[1:2] if head.startswith(MAGIC + b" ") else None
            if version and version[0] != str(FORMAT_VERSION).encode():
                raise ValueError(
                    f"aggregate checkpoint of format {version[0]!r}, not {FORMAT_VERSION}"
                )
            raise ValueError("aggregate checkpoint damaged or not one (header or checksum differs)")
        try:
            return from_checkpoint(cls, orjson.loads(body))
        except (orjson.JSONDecodeError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"aggregate checkpoint malformed: {exc!r}") from exc


def _header(body: bytes) -> bytes:
    """A checkpoint's first line: what it is, its format, the SHA-256 of the rest."""
    return b"%s %d %s" % (MAGIC, FORMAT_VERSION, hashlib.sha256(body).hexdigest().encode())


def checkpoint_body(aggregates: Aggregates) -> bytes:
    """The state as JSON: every term once in ``terms``, referred to by its position."""
    terms: dict[str, int] = {}

    def t(key: str) -> int:
        n = terms.get(key)
        if n is None:
            n = terms[key] = len(terms)
        return n

    state = aggregates.state
    facts = [
        [
            t(claim),
            int(f.typed),
            int(f.current),
            [t(k) for pair in f.links for k in pair],
            [t(k) for row in f.rows for k in row],
        ]
        for claim, f in state.facts.items()
    ]
    dims = {
        name: [
            [t(s), t(o), sorted(t(g) for g in graphs)]
            for s, objects in relation.items()
            for o, graphs in objects.items()
        ]
        for name, relation in state.dims.items()
    }
    return orjson.dumps(
        {
            "generation": aggregates.generation,
            "records": aggregates.records,
            "dataset_hash": aggregates.dataset_hash,
            "unsupported": aggregates.unsupported,
            "terms": list(terms),
            "facts": facts,
            "dims": dims,
        }
    )


def from_checkpoint(cls: type[Aggregates], doc: dict[str, Any]) -> Aggregates:
    """``checkpoint_body`` read back, every field checked for its type (ValueError if not)."""
    terms = doc["terms"]
    if not isinstance(terms, list) or not all(isinstance(k, str) for k in terms):
        raise ValueError("aggregate checkpoint: terms are not strings")

    def keys(refs: Any, width: int) -> list[tuple[Key, ...]]:
        if not isinstance(refs, list) or len(refs) % width:
            raise ValueError("aggregate checkpoint: a tuple of the wrong length")
        found = [intern(terms[_index(r, len(terms))]) for r in refs]
        return [tuple(found[i : i + width]) for i in range(0, len(found), width)]

    dims: dict[str, dict[Key, dict[Key, set[str]]]] = {}
    for name, entries in doc["dims"].items():
        if name not in ("type", *DIMENSIONS):
            raise ValueError(f"aggregate checkpoint: unknown relation {name!r}")
        relation = dims[name] = {}
        for s, o, graphs in entries:
            objects = relation.setdefault(terms[_index(s, len(terms))], {})
            objects[terms[_index(o, len(terms))]] = {k for (k,) in keys(graphs, 1)}
    state = State(dims=dims)
    for claim, typed, current, links, rows in doc["facts"]:
        f = Facts(
            _flag(typed),
            _flag(current),
            tuple(sorted({(e, m) for e, m in keys(links, 2)})),
            tuple(sorted({(e, m, s) for e, m, s in keys(rows, 3)})),
        )
        state.set_facts(terms[_index(claim, len(terms))], f)
    aggregates = cls(state)
    tag = (doc["generation"], doc["records"], doc["dataset_hash"], doc["unsupported"])
    if not (all(isinstance(v, str) for v in tag[::2] + tag[3:]) and type(tag[1]) is int):
        raise ValueError("aggregate checkpoint: a malformed tag")
    aggregates.generation, aggregates.records, aggregates.dataset_hash, aggregates.unsupported = tag
    return aggregates


def _flag(value: Any) -> bool:
    if type(value) is not int or value not in (0, 1):
        raise ValueError(f"aggregate checkpoint: {value!r} is not a flag")
    return value == 1


def _index(ref: Any, size: int) -> int:
    if type(ref) is not int or not 0 <= ref < size:
        raise ValueError(f"aggregate checkpoint: {ref!r} names no term")
    return ref


@lru_cache(maxsize=1)
def question_texts() -> dict[str, str]:
    """Query text -> question name, for the questions answered here."""
    return {queries.load(name).text: name for name in QUESTIONS}


@dataclass(frozen=True)
class Published:
    """What the store has published: the snapshot folder and its meta.json fields."""

    snapshot: str
    records: int
    dataset_hash: str

    @property
    def generation(self) -> str:
        return self.snapshot.rstrip("/").rsplit("/", 1)[-1]


class Keeper:
    """Keeps ``Aggregates`` current beside one embedded store, from open to close.

    On open it loads the checkpoint (``aggregates.bin`` in the state directory) or, failing
    that, scans the current snapshot; then, holding the store's write lock, it folds in the
    journal records published since (the journal is the source of truth, and the checkpoint
    is used only when the dataset hash chains from its tag to the store's). From then on each
    write is folded in as it is published. Until that is done, and whenever anything goes
    wrong, ``answer`` gives None and the engine answers.
    """

    def __init__(
        self,
        checkpoint: Path,
        write_lock: threading.Lock,
        published: Callable[[], Published],
        journal: Callable[[], Iterator[bytes]],
        chain: Callable[[str, bytes], str],
        save: Callable[[Path, bytes], None],
    ) -> None:
        self.checkpoint = checkpoint
        self._write_lock = write_lock
        self._published = published
        self._journal = journal
        self._chain = chain
        self._save = save
        self.aggregates: Aggregates | None = None
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, scan: bool) -> None:
        """Load (and, with ``scan``, build when needed) in a background thread."""
        self._thread = threading.Thread(
            target=self._open, args=(scan,), name="exmech-aggregates", daemon=True
        )
        self._thread.start()
        if not scan:  # a one-shot reader (CLI): a checkpoint is quick to load, so wait for it
            self._thread.join()

    def _open(self, scan: bool) -> None:
        try:
            self._load_or_build(scan)
            aggregates = self.aggregates
            if aggregates is not None:  # outside the write lock: writes wait for no render
                aggregates.warm()
                if len(aggregates.state.facts) >= FREEZE_FACTS:
                    # The state lives as long as the process and holds no cycles: moved out
                    # of the cyclic collector's sight, so its full collections (seconds at
                    # 10M quads, paid by whichever write or request triggers one) skip it.
                    gc.freeze()
        except Exception:  # the engine answers; the store is unaffected
            log.exception("aggregate questions will be answered by the engine")
        finally:
            self.ready.set()

    def _load_or_build(self, scan: bool) -> None:
        aggregates: Aggregates | None = None
        try:
            aggregates = Aggregates.loads(self.checkpoint.read_bytes())
        except FileNotFoundError:
            pass
        except Exception as exc:  # damaged, truncated or of another version: rebuilt
            log.warning("aggregate checkpoint %s not used: %s", self.checkpoint, exc)
        if aggregates is not None and not self._catch_up(aggregates):
            aggregates = None
        if aggregates is None:
            if not scan:
                return
            with self._write_lock:
                start = self._published()
            aggregates = Aggregates.scan(ox.Store.read_only(start.snapshot))
            aggregates.tag(start.generation, start.records, start.dataset_hash)
            if not self._catch_up(aggregates):
                return
            self.save()

    def _catch_up(self, aggregates: Aggregates) -> bool:
        """Fold in the journal records the store published after the state's tag, under the
        write lock; serve it when the dataset hash chains (False: the state is not of this
        store's history)."""
        with self._write_lock:
            now = self._published()
            pending = list(self._journal())[aggregates.records : now.records]
            digest = aggregates.dataset_hash
            for payload in pending:
                digest = self._chain(digest, payload)
            if digest != now.dataset_hash or len(pending) != now.records - aggregates.records:
                log.info("aggregate state %s is not of this store's history", aggregates.generation)
                return False
            if pending:
                reader = ox.Store.read_only(now.snapshot)
                for payload in pending:
                    aggregates.apply(ox.parse(payload, format=ox.RdfFormat.N_QUADS), reader)
            aggregates.tag(now.generation, now.records, now.dataset_hash)
            self.aggregates = aggregates
            return True

    def published(self, quads: list[ox.Quad], store: ox.Store) -> None:
        """Fold one write in; called under the write lock once its snapshot is published."""
        aggregates = self.aggregates
        if aggregates is None:
            return  # still loading: the catch-up reads this write from the journal
        try:
            now = self._published()
            aggregates.apply(quads, store)
            aggregates.tag(now.generation, now.records, now.dataset_hash)
        except Exception:
            self.aggregates = None
            log.exception("aggregate questions will be answered by the engine")

    def answer(self, query: Query, generation: str, dataset_hash: str) -> Table | None:
        """The table for ``query`` when it is exactly an aggregate question,
        asked of the whole store, and the state is of ``generation``; else None."""
        aggregates = self.aggregates
        name = question_texts().get(query.text)
        if (
            aggregates is None
            or name is None
            or query.form != "SELECT"
            or query.default_graphs
            or query.named_graphs
            or query.substitutions
            or query.base_iri
        ):
            return None
        return aggregates.answer(name, generation, dataset_hash, query.max_rows)

    def save(self) -> None:
        """Write the checkpoint (atomically; a failure only costs a rebuild at next open)."""
        aggregates = self.aggregates
        if aggregates is None or aggregates.unsupported:
            return
        try:
            self._save(self.checkpoint, aggregates.dumps())
        except OSError as exc:
            log.warning("aggregate checkpoint not written: %s", exc)

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # still building: nothing worth saving yet (a daemon thread)
        with self._write_lock:
            self.save()
