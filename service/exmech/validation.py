"""SHACL validation of files and submissions, scoped to what they touch.

pyshacl sees one merged graph, so graph boundaries of nanopublications are made visible
first: for every triple of an assertion graph G, the validator adds ``G
exm:assertionSubject s``, ``G exm:assertionPredicate p`` and ``G exm:assertionObject o``.
Shapes can then count what one assertion states. Only the submitted nodes are validated
(``focus_nodes``), against the submission plus the reference vocabulary it points into, so
the cost follows the submission, not the store: ``store_context`` fetches, per IRI the
submission mentions, its own triples, the types of what they point to and the few inverse
links the shapes follow, plus the ontology's class hierarchy. Parsing never touches the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import rdflib
from pyshacl import validate as shacl_validate
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH

from exmech import bounded
from exmech.errors import BadRequest
from exmech.store import Query, Store
from exmech.vocab import EXM, NP, SHAPES

ASSERTION_VIEW = {
    "subject": rdflib.URIRef(EXM + "assertionSubject"),
    "predicate": rdflib.URIRef(EXM + "assertionPredicate"),
    "object": rdflib.URIRef(EXM + "assertionObject"),
}
HAS_ASSERTION = rdflib.URIRef(NP + "hasAssertion")
# The source shape of findings that exmech's own submission checks report (not in shapes.ttl).
SUBMISSION_CHECK = f"{SHAPES}#SubmissionCheck"

PARSE_FORMATS: dict[str, ox.RdfFormat] = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nq": ox.RdfFormat.N_QUADS,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
}


class ParseError(BadRequest):
    """A file or body that is not valid RDF; the message carries line and column."""


@dataclass(frozen=True)
class Finding:
    focus: str
    path: str | None
    value: str | None
    message: str
    severity: str
    shape: str
    source: str | None = None


@dataclass
class Report:
    conforms: bool
    findings: list[Finding]
    graph: rdflib.Graph

    def to_json(self) -> dict[str, object]:
        return {"conforms": self.conforms, "results": [asdict(f) for f in self.findings]}

    def to_text(self) -> str:
        if self.conforms:
            return "conforms: no violations"
        lines = [f"does not conform: {len(self.findings)} result(s)"]
        for f in self.findings:
            where = f"{f.source}: " if f.source else ""
            prop = f" {f.path}" if f.path else ""
            value = f" = {f.value}" if f.value is not None else ""
            lines.append(f"{where}[{f.severity}] <{f.focus}>{prop}{value}\n    {f.message}")
        return "\n".join(lines)

    def to_turtle(self) -> str:
        return self.graph.serialize(format="turtle")

    @classmethod
    def of(cls, findings: Sequence[Finding]) -> Report:
        """A report of findings made outside pyshacl, with the same sh:ValidationReport graph."""
        graph = rdflib.Graph()
        graph.bind("sh", SH)
        report = rdflib.BNode()
        conforms = not any(f.severity == "Violation" for f in findings)
        graph.add((report, RDF.type, SH.ValidationReport))
        graph.add((report, SH.conforms, rdflib.Literal(conforms)))
        for f in findings:
            node = rdflib.BNode()
            graph.add((report, SH.result, node))
            graph.add((node, RDF.type, SH.ValidationResult))
            graph.add((node, SH.focusNode, rdflib.URIRef(f.focus)))
            graph.add((node, SH.resultMessage, rdflib.Literal(f.message)))
            graph.add((node, SH.resultSeverity, SH[f.severity]))
            graph.add((node, SH.sourceShape, rdflib.URIRef(f.shape)))
            if f.path and not re.search(r"[\s^|]", f.path):  # a plain IRI, not a path text
                graph.add((node, SH.resultPath, rdflib.URIRef(f.path)))
        return cls(conforms, list(findings), graph)


def parse(data: bytes, fmt: ox.RdfFormat, name: str = "input") -> list[ox.Quad]:
    """Quads of one document. Raises ParseError with the parser's line and column.

    pyoxigraph's parsers do not fetch JSON-LD contexts or external entities.
    """
    try:
        return list(ox.parse(data, format=fmt))
    except SyntaxError as exc:
        where = {"line": exc.lineno, "column": exc.offset} if exc.lineno else None
        raise ParseError(f"{name}: {fmt.name} syntax {exc}", detail=where) from exc


def parse_file(path: Path) -> list[ox.Quad]:
    fmt = PARSE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(PARSE_FORMATS))
        raise BadRequest(f"{path}: unknown file type {path.suffix!r}; use one of {known}")
    return parse(path.read_bytes(), fmt, str(path))


def to_rdflib(quads: Iterable[ox.Quad], into: rdflib.Graph | None = None) -> rdflib.Graph:
    graph = into if into is not None else rdflib.Graph()
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    if triples:
        graph.parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
    return graph


def assertion_view(quads: Sequence[ox.Quad]) -> list[ox.Quad]:
    """The view triples that let shapes count what each assertion graph states."""
    assertion_graphs = {q.object for q in quads if q.predicate.value == str(HAS_ASSERTION)}
    view: list[ox.Quad] = []
    for q in quads:
        if q.graph_name in assertion_graphs:
            g = q.graph_name
            assert isinstance(g, ox.NamedNode | ox.BlankNode)
            parts = (("subject", q.subject), ("predicate", q.predicate), ("object", q.object))
            for part, term in parts:
                view.append(ox.Quad(g, ox.NamedNode(str(ASSERTION_VIEW[part])), term))
    return view


@cache
def shapes_graph(root: Path) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(root / "ontology" / "shapes.ttl", format="turtle")
    return graph


@cache
def reference_graph(root: Path) -> rdflib.Graph:
    """Ontology and all shipped data, claims included (so corrections can point at them)."""
    quads: list[ox.Quad] = []
    for path in sorted((root / "ontology").glob("*.ttl")):
        if path.name != "shapes.ttl":
            quads += parse_file(path)
    for path in sorted([*(root / "data").glob("*.ttl"), *(root / "data").glob("*.trig")]):
        quads += parse_file(path)
    return to_rdflib(quads)


# A context provider returns the reference triples the given IRIs need (types, schemes...).
ContextProvider = Callable[[set[str]], rdflib.Graph]


def file_context(root: Path) -> ContextProvider:
    """Context from the shipped files: small enough to pass whole."""

    def provide(_iris: set[str]) -> rdflib.Graph:
        return reference_graph(root)

    return provide


_NODE_CONTEXT = """
CONSTRUCT { ?node ?p ?o . ?o a ?type . ?s ?inverse ?node . }
WHERE {
  { VALUES ?p { %s } ?node ?p ?o OPTIONAL { ?o a ?type } }
  UNION
  { VALUES ?inverse { %s } ?s ?inverse ?node }
}"""
_CLASS_HIERARCHY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
CONSTRUCT { ?a rdfs:subClassOf ?b } WHERE { ?a rdfs:subClassOf ?b }"""
# What claims state (one triple per claim): never part of a node's description, so the
# context of an exercise type or a curator does not grow with the claims about them.
ASSERTION_PREDICATES = frozenset({EXM + "proposedMechanism", "http://purl.org/nanopub/x/retracts"})


def shape_predicates(shapes: rdflib.Graph) -> tuple[list[str], list[str]]:
    """(forward, inverse) predicates the shapes read from a node: the first step of every
    sh:path (and of each choice), predicates compared with sh:equals/disjoint/lessThan...,
    rdf:type; inverse ones from sh:inversePath. Assertion predicates are left out."""
    forward, inverse = {str(RDF.type)}, set()

    def first(path: rdflib.term.Node) -> None:
        if isinstance(path, rdflib.URIRef):
            forward.add(str(path))
        elif (path, RDF.first, None) in shapes:
            first(next(iter(Collection(shapes, path))))
        elif (back := shapes.value(path, SH.inversePath)) is not None:
            inverse.add(str(back))
        elif (choices := shapes.value(path, SH.alternativePath)) is not None:
            for choice in Collection(shapes, choices):
                first(choice)

    for path in shapes.objects(None, SH.path):
        first(path)
    for relation in (SH.equals, SH.disjoint, SH.lessThan, SH.lessThanOrEquals):
        forward |= {str(o) for o in shapes.objects(None, relation)}
    return sorted(forward - ASSERTION_PREDICATES), sorted(inverse)


def _construct(store: Store, text: str, node: str | None = None) -> list[ox.Quad]:
    subs = (("node", ("iri", node)),) if node is not None else ()
    answer = store.query(Query(text, "CONSTRUCT", "application/n-triples", substitutions=subs))
    return list(ox.parse(answer.body, format=ox.RdfFormat.N_TRIPLES))


def store_context(store: Store, root: Path) -> ContextProvider:
    """Context read from a store, per mentioned IRI: bounded by what the IRIs are, not the store.

    For each IRI: its values for the predicates the shapes read (its description, not the
    claims about it), the rdf:type of each IRI those point to (for sh:class), and the
    triples that point at it through a predicate some shape follows backwards
    (sh:inversePath). Plus the class hierarchy, read once. One indexed query per IRI.
    """
    forward, inverse = shape_predicates(shapes_graph(root))
    # IRIs from our own shapes file, not user input; the node is a bound value.
    text = _NODE_CONTEXT % (
        " ".join(f"<{p}>" for p in forward),
        " ".join(f"<{p}>" for p in inverse),
    )
    hierarchy: list[rdflib.Graph] = []

    def provide(iris: set[str]) -> rdflib.Graph:
        if not hierarchy:
            hierarchy.append(to_rdflib(_construct(store, _CLASS_HIERARCHY)))
        graph = rdflib.Graph()
        graph += hierarchy[0]
        quads: list[ox.Quad] = []
        for node in sorted(iris):
            quads += _construct(store, text, node)
        return to_rdflib(quads, into=graph)

    return provide


def validate(
    quads: Sequence[ox.Quad],
    root: Path,
    context: ContextProvider | None = None,
    sources: dict[str, str] | None = None,
    defines: Iterable[str] = (),
    timeout: float | None = None,
) -> Report:
    """Validate the submitted quads' subjects against the shapes, with their context.

    ``defines`` names IRIs the submission itself introduces (its nanopublications and their
    graphs): their stored descriptions, if any, are not mixed in as context. With a
    ``timeout`` (the server's EXMECH_VALIDATION_TIMEOUT), pyshacl runs in a child process that
    is killed at the deadline (``bounded``: 503), so no submission can hold a core for longer.
    """
    provider = context or file_context(root)
    focus = {q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)}
    mentioned = focus | {q.object.value for q in quads if isinstance(q.object, ox.NamedNode)}
    data = rdflib.Graph()
    data += provider(mentioned - set(defines))
    to_rdflib([*quads, *assertion_view(quads)], into=data)
    nodes = sorted(focus)
    if timeout is None:
        conforms, results = run_shacl(data, root, nodes)
    else:
        arguments = (data.serialize(format="nt", encoding="utf-8"), root, nodes)
        conforms, text = bounded.POOL.call(
            _run_shacl_on_text, arguments, timeout, "validation", "EXMECH_VALIDATION_TIMEOUT"
        )
        results = rdflib.Graph().parse(data=text, format="nt")
    return Report(conforms, findings(results, sources or {}, shapes_graph(root)), results)


def run_shacl(data: rdflib.Graph, root: Path, focus: Sequence[str]) -> tuple[bool, rdflib.Graph]:
    """pyshacl on ``data`` (changed in place) for the ``focus`` nodes: (conforms, results)."""
    conforms, results, _text = shacl_validate(
        data,
        shacl_graph=shapes_graph(root),
        inference="none",
        do_owl_imports=False,
        advanced=False,
        allow_warnings=True,
        inplace=True,
        focus_nodes=[rdflib.URIRef(f) for f in focus] or None,
    )
    assert isinstance(results, rdflib.Graph)
    return bool(conforms), results


def _run_shacl_on_text(data: bytes, root: Path, focus: Sequence[str]) -> tuple[bool, bytes]:
    """run_shacl in a bounded child: N-Triples in, (conforms, results as N-Triples) out."""
    conforms, results = run_shacl(rdflib.Graph().parse(data=data, format="nt"), root, focus)
    return conforms, results.serialize(format="nt", encoding="utf-8")


def path_text(graph: rdflib.Graph, node: rdflib.term.Node | None) -> str | None:
    """A SHACL path as text: IRIs, ``a / b`` sequences, ``^p`` inverses, ``a | b`` choices."""
    if node is None or isinstance(node, rdflib.URIRef | rdflib.Literal):
        return None if node is None else str(node)
    if (node, RDF.first, None) in graph:
        return " / ".join(str(path_text(graph, n)) for n in Collection(graph, node))
    inverse = graph.value(node, SH.inversePath)
    if inverse is not None:
        return f"^{path_text(graph, inverse)}"
    choices = graph.value(node, SH.alternativePath)
    if choices is not None:
        return " | ".join(str(path_text(graph, n)) for n in Collection(graph, choices))
    return str(node)


def findings(
    results: rdflib.Graph, sources: dict[str, str], shapes: rdflib.Graph | None = None
) -> list[Finding]:
    """The results of a pyshacl report, sorted; an anonymous property shape is named by the
    node shape that holds it (looked up in ``shapes``)."""
    out: list[Finding] = []
    for result in results.subjects(RDF.type, SH.ValidationResult):

        def one(pred: rdflib.URIRef, result: rdflib.term.Node = result) -> str | None:
            value = results.value(result, pred)
            return None if value is None else str(value)

        shape = results.value(result, SH.sourceShape)
        holder = shapes.value(None, SH.property, shape) if shapes is not None else None
        focus = one(SH.focusNode) or ""
        out.append(
            Finding(
                focus=focus,
                path=path_text(results, results.value(result, SH.resultPath)),
                value=one(SH.value),
                message=one(SH.resultMessage) or "constraint violated",
                severity=(one(SH.resultSeverity) or str(SH.Violation)).rsplit("#", 1)[-1],
                shape=str(holder if isinstance(holder, rdflib.URIRef) else shape or ""),
                source=sources.get(focus),
            )
        )
    out.sort(key=lambda f: (f.source or "", f.focus, f.path or "", f.message))
    return out


def validate_files(
    paths: Sequence[Path], root: Path, context: ContextProvider | None = None
) -> Report:
    """Validate files together (a claim file may point at a study file beside it)."""
    quads: list[ox.Quad] = []
    sources: dict[str, str] = {}
    for path in paths:
        file_quads = parse_file(path)
        for q in file_quads:
            if isinstance(q.subject, ox.NamedNode):
                sources.setdefault(q.subject.value, str(path))
        quads.extend(file_quads)
    return validate(quads, root, context, sources=sources)


def report_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
