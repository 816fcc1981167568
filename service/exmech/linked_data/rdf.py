"""Resources as RDF: what the store says about one IRI, as terms, and serialized in any format.

Pure apart from ``AnswerCache`` reads: every read is a named ``page-*.rq`` query with its
values bound by substitution. Serialization uses pyoxigraph's writers, the one use of
pyoxigraph outside ``store/`` (``sparql.as_format`` does the same for the service
description), because the store answers SELECTs and CONSTRUCTs but cannot write datasets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from exmech import formats, queries, vocab
from exmech.querytext import analyse, with_row_cap
from exmech.store import Binding, Query
from exmech.store.cache import AnswerCache

SPARQL_JSON = "application/sparql-results+json"
PAGE_ROWS = 50_000  # a bound for internal reads; the shipped data has ~6,000 quads


@dataclass(frozen=True, order=True)
class Term:
    """An RDF term as SPARQL JSON results give it: kind is uri, literal or bnode."""

    kind: str
    value: str
    datatype: str = ""
    lang: str = ""

    @classmethod
    def from_json(cls, term: dict[str, str]) -> Term:
        """The term of one SPARQL JSON binding.

        >>> Term.from_json({"type": "literal", "value": "3", "xml:lang": "en"})
        Term(kind='literal', value='3', datatype='', lang='en')
        """
        kind = {"typed-literal": "literal"}.get(term["type"], term["type"])
        return cls(kind, term["value"], term.get("datatype", ""), term.get("xml:lang", ""))

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
    binds: dict[str, Binding] | None = None,
    *,
    max_rows: int | None = PAGE_ROWS,
) -> list[dict[str, Term]]:
    """Rows of a named SELECT query as terms; values bound by substitution.

    Raises ValueError when the query does not declare a bound variable, and whatever the
    store raises (BadRequest, QueryTimeout, StoreUnavailable).
    """
    named = queries.load(name)
    binds = binds or {}
    unknown = set(binds) - set(named.binds)
    if unknown:
        raise ValueError(f"{name}.rq does not bind {', '.join(sorted(unknown))}")

    capped = with_row_cap(analyse(named.text), max_rows + 1) if max_rows is not None else None
    answer = cache.query(
        Query(
            text=named.text,
            form="SELECT",
            media_type=SPARQL_JSON,
            capped_text=capped,
            substitutions=tuple(sorted(binds.items())),
            max_rows=max_rows,
        )
    )
    data = json.loads(answer.body)
    return [{k: Term.from_json(v) for k, v in row.items()} for row in data["results"]["bindings"]]


def describe(cache: AnswerCache, iri: str, graph: bool = False) -> Description:
    """Everything the store says about ``iri``; empty statements when it knows nothing.

    That is its triples as subject (with its hash parts) in the union of all graphs, plus
    the four graphs of a nanopublication, or the graph's own content when ``graph``.
    """
    resource = ("iri", iri)
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
