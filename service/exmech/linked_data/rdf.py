"""Resources as RDF: what the store says about one IRI, as terms, and serialized in any format.

Pure apart from ``AnswerCache`` reads: every read is a named ``page-*.rq`` query with its
values bound by substitution, answered as pyoxigraph terms; writing goes through
``exmech.rdf``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from exmech import formats, queries, rdf, vocab
from exmech.querytext import Bound
from exmech.store import Term, execute_named
from exmech.store.cache import AnswerCache

PAGE_ROWS = 50_000  # a bound for internal reads; the shipped data has ~6,000 quads
_XSD_STRING = vocab.XSD + "string"
_LANG_STRING = vocab.RDF + "langString"
# A term with a ``value``: what pages show (a triple term is shown as its text).
Node = ox.NamedNode | ox.BlankNode | ox.Literal


def kind(term: Term) -> str:
    """What a term is, in SPARQL JSON's words (uri, bnode, literal, triple): for templates.

    >>> kind(ox.NamedNode("http://e/a")), kind(ox.Literal("a"))
    ('uri', 'literal')
    """
    if isinstance(term, ox.NamedNode):
        return "uri"
    if isinstance(term, ox.BlankNode):
        return "bnode"
    return "literal" if isinstance(term, ox.Literal) else "triple"


def term_key(term: Term) -> tuple[str, str, str, str]:
    """A sort key for terms (pyoxigraph's are not ordered): kind, then text."""
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        plain = term.language or datatype in (_XSD_STRING, _LANG_STRING)
        return ("literal", term.value, "" if plain else datatype, term.language or "")
    return (kind(term), term.value if not isinstance(term, ox.Triple) else str(term), "", "")


@dataclass(frozen=True)
class Statement:
    """A triple of pyoxigraph terms, in the default graph when ``graph`` is empty, else in
    that named graph (the graph as text, which is how pages group and look them up)."""

    graph: str
    s: Node
    p: Node
    o: Node

    @property
    def quad(self) -> ox.Quad:
        graph = ox.NamedNode(self.graph) if self.graph else ox.DefaultGraph()
        return ox.Quad(self.s, self.p, self.o, graph)  # type: ignore[arg-type]

    def key(self) -> tuple[object, ...]:
        """Sorts by graph, subject, predicate, object."""
        return (self.graph, term_key(self.s), self.p.value, term_key(self.o))


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

    def values(self, predicate: str, subject: str | None = None) -> list[Node]:
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
) -> list[dict[str, Node]]:
    """Rows of a named SELECT query as terms; values bound by substitution.

    Raises ValueError when the query does not declare a bound variable, and whatever the
    store raises (BadRequest, QueryTimeout, StoreUnavailable).
    """
    rows = execute_named(cache, queries.load(name), binds, max_rows).dicts()
    return [{k: _node(v) for k, v in row.items()} for row in rows]


def _node(term: Term) -> Node:
    return ox.Literal(str(term)) if isinstance(term, ox.Triple) else term


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


def serialize(
    statements: Iterable[Statement],
    fmt: formats.Format,
    prefixes: dict[str, str] | None = None,
) -> bytes:
    """Statements written in ``fmt`` (an RDF format of ``formats.GRAPHS``).

    Formats that carry datasets (TriG, N-Quads, JSON-LD) keep the named graphs; the others
    get the default graph only.

    >>> t = ox.NamedNode("https://w3id.org/exmech/id/theme/x")
    >>> label = ox.NamedNode(vocab.RDFS + "label")
    >>> serialize([Statement("", t, label, ox.Literal("x"))], formats.NTRIPLES)
    b'<https://w3id.org/exmech/id/theme/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" .\\n'
    """
    target = ox.RdfFormat.from_media_type(fmt.media_type)
    if target is None:
        raise ValueError(f"{fmt.media_type} is not an RDF format")
    # Grouped by graph and subject (stable, so predicate order stays) for compact Turtle/TriG.
    grouped = sorted(statements, key=lambda st: (st.graph, term_key(st.s)))
    kept = (st.quad for st in grouped if target.supports_datasets or not st.graph)
    return rdf.serialize(kept, target, {**vocab.PREFIXES, **(prefixes or {})})


def convert(turtle: str, fmt: formats.Format) -> bytes:
    """Turtle text rewritten in another RDF format (Turtle itself is returned as is)."""
    if fmt is formats.TURTLE:
        return turtle.encode("utf-8")
    target = ox.RdfFormat.from_media_type(fmt.media_type) or ox.RdfFormat.TURTLE
    return rdf.serialize(rdf.parse(turtle.encode("utf-8"), ox.RdfFormat.TURTLE), target)
