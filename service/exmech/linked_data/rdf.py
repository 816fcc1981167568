"""Resources as RDF: what the store says about one IRI, as terms, and serialized in any format.

Pure apart from ``AnswerCache`` reads: every read is a named ``page-*.rq`` query with its
values bound by substitution. Serialization uses pyoxigraph's writers, the one use of
pyoxigraph outside ``store/`` (``sparql.as_format`` does the same for the service
description), because the store answers SELECTs and CONSTRUCTs but cannot write datasets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from exmech import formats, queries, vocab
from exmech.querytext import Bound
from exmech.store import execute_named
from exmech.store.cache import AnswerCache

PAGE_ROWS = 50_000  # a bound for internal reads; the shipped data has ~6,000 quads
_XSD_STRING = vocab.XSD + "string"


@dataclass(frozen=True, order=True)
class Term:
    """An RDF term as SPARQL JSON results give it: kind is uri, literal or bnode."""

    kind: str
    value: str
    datatype: str = ""
    lang: str = ""

    @classmethod
    def of(cls, term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Term:
        """The page term of a pyoxigraph term (SPARQL JSON's spelling of plain literals).

        >>> Term.of(ox.Literal("3", language="en"))
        Term(kind='literal', value='3', datatype='', lang='en')
        """
        if isinstance(term, ox.NamedNode):
            return cls("uri", term.value)
        if isinstance(term, ox.BlankNode):
            return cls("bnode", term.value)
        if isinstance(term, ox.Literal):
            if term.language:
                return cls("literal", term.value, "", term.language)
            datatype = term.datatype.value
            return cls("literal", term.value, "" if datatype == _XSD_STRING else datatype)
        return cls("triple", str(term))

    @property
    def is_iri(self) -> bool:
        return self.kind == "uri"

    def to_ox(self) -> ox.NamedNode | ox.BlankNode | ox.Literal:
        if self.kind == "uri":
            return ox.NamedNode(self.value)
        if self.kind == "bnode":
            return ox.BlankNode(self.value)
        if self.lang:
            return ox.Literal(self.value, language=self.lang)
        return ox.Literal(
            self.value, datatype=ox.NamedNode(self.datatype) if self.datatype else None
        )


@dataclass(frozen=True, order=True)
class Statement:
    """A triple, in the default graph when ``graph`` is empty, else in that named graph."""

    graph: str
    s: Term
    p: Term
    o: Term


@dataclass(frozen=True)
class Description:
    """All exmech serves about one IRI: its triples as subject, plus its named graphs."""

    iri: str
    statements: tuple[Statement, ...]

    @property
    def triples(self) -> tuple[Statement, ...]:
        return tuple(st for st in self.statements if not st.graph)

    @property
    def graphs(self) -> dict[str, list[Statement]]:
        named: dict[str, list[Statement]] = {}
        for st in self.statements:
            if st.graph:
                named.setdefault(st.graph, []).append(st)
        return named

    def values(self, predicate: str, subject: str | None = None) -> list[Term]:
        """Objects of ``predicate`` on the subject (default: the resource), in order."""
        subject = subject or self.iri
        return [st.o for st in self.triples if st.s.value == subject and st.p.value == predicate]

    def first(self, predicate: str, subject: str | None = None) -> str:
        found = self.values(predicate, subject)
        return found[0].value if found else ""

    def parts(self) -> dict[str, list[Statement]]:
        """The hash-IRI parts (``iri#...``) and their triples, by part IRI."""
        out: dict[str, list[Statement]] = {}
        for st in self.triples:
            if st.s.value != self.iri:
                out.setdefault(st.s.value, []).append(st)
        return out


def select(
    cache: AnswerCache,
    name: str,
    binds: dict[str, Bound] | None = None,
    *,
    max_rows: int | None = PAGE_ROWS,
) -> list[dict[str, Term]]:
    """Rows of a named SELECT query as terms; values bound by substitution.

    Raises ValueError when the query does not declare a bound variable, and whatever the
    store raises (BadRequest, QueryTimeout, StoreUnavailable).
    """
    results = execute_named(cache, queries.load(name), binds, max_rows)
    return [{k: Term.of(v) for k, v in row.items()} for row in results.dicts()]


def describe(cache: AnswerCache, iri: str, graph: bool = False) -> Description:
    """Everything the store says about ``iri``; empty statements when it knows nothing.

    That is its triples as subject (with its hash parts) in the union of all graphs, plus
    the four graphs of a nanopublication, or the graph's own content when ``graph``.
    """
    resource = ox.NamedNode(iri)
    statements = [
        Statement("", row["s"], row["p"], row["o"])
        for row in select(cache, "page-describe", {"resource": resource})
    ]
    statements += [
        Statement(row["g"].value, row["s"], row["p"], row["o"])
        for row in select(cache, "page-graphs", {"resource": resource})
    ]
    if graph:
        statements += [
            Statement(iri, row["s"], row["p"], row["o"])
            for row in select(cache, "page-graph-content", {"graph": resource})
        ]
    return Description(iri, tuple(statements))


def labels(cache: AnswerCache) -> dict[str, str]:
    """Display label of every labelled resource: preferred label, else label, else name."""
    out: dict[str, str] = {}
    for row in select(cache, "page-labels"):
        for key in ("prefLabel", "label", "foafName"):
            if key in row:
                out[row["resource"].value] = row[key].value
                break
    return out


def to_ox(statements: Iterable[Statement], with_graphs: bool) -> list[ox.Quad]:
    """pyoxigraph quads; without graphs, named-graph statements are left out."""
    quads = []
    for st in statements:
        if st.graph and not with_graphs:
            continue
        graph = ox.NamedNode(st.graph) if st.graph else ox.DefaultGraph()
        quads.append(ox.Quad(st.s.to_ox(), st.p.to_ox(), st.o.to_ox(), graph))  # type: ignore[arg-type]
    return quads


def serialize(
    statements: Iterable[Statement],
    fmt: formats.Format,
    prefixes: dict[str, str] | None = None,
) -> bytes:
    """Statements written in ``fmt`` (an RDF format of ``formats.GRAPHS``).

    Formats that carry datasets (TriG, N-Quads, JSON-LD) keep the named graphs; the others
    get the default graph only.

    >>> t = Term("uri", "https://w3id.org/exmech/id/theme/x")
    >>> label = Term("uri", vocab.RDFS + "label")
    >>> serialize([Statement("", t, label, Term("literal", "x"))], formats.NTRIPLES)
    b'<https://w3id.org/exmech/id/theme/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" .\\n'
    """
    target = ox.RdfFormat.from_media_type(fmt.media_type)
    if target is None:
        raise ValueError(f"{fmt.media_type} is not an RDF format")
    # Grouped by graph and subject (stable, so predicate order stays) for compact Turtle/TriG.
    grouped = sorted(statements, key=lambda st: (st.graph, st.s))
    return _write(to_ox(grouped, target.supports_datasets), target, prefixes)


def _write(
    quads: Iterable[ox.Quad], target: ox.RdfFormat, extra: dict[str, str] | None = None
) -> bytes:
    quads = list(quads)
    prefixes = used_prefixes(quads, {**vocab.PREFIXES, **(extra or {})})
    if target.supports_datasets:
        return ox.serialize(quads, format=target, prefixes=prefixes) or b""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    return ox.serialize(triples, format=target, prefixes=prefixes) or b""


def used_prefixes(quads: Iterable[ox.Quad], known: dict[str, str]) -> dict[str, str]:
    """The prefixes whose namespace some IRI of the quads starts with."""
    iris: set[str] = set()
    for quad in quads:
        for term in (quad.subject, quad.predicate, quad.object, quad.graph_name):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal):
                iris.add(term.datatype.value)
    return {
        prefix: ns
        for prefix, ns in known.items()
        if any(i.startswith(ns) and len(i) > len(ns) for i in iris)
    }


def parse(body: bytes, fmt: formats.Format) -> list[ox.Quad]:
    """Quads of a serialized body (for tests and for converting generated Turtle)."""
    target = ox.RdfFormat.from_media_type(fmt.media_type)
    if target is None:
        raise ValueError(f"{fmt.media_type} is not an RDF format")
    return list(ox.parse(body, format=target))


def convert(turtle: str, fmt: formats.Format) -> bytes:
    """Turtle text rewritten in another RDF format (Turtle itself is returned as is)."""
    if fmt is formats.TURTLE:
        return turtle.encode("utf-8")
    target = ox.RdfFormat.from_media_type(fmt.media_type) or ox.RdfFormat.TURTLE
    return _write(ox.parse(turtle.encode("utf-8"), format=ox.RdfFormat.TURTLE), target)
