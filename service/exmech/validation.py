"""SHACL validation of files and submissions, scoped to what they touch.

pyshacl sees one merged graph, so graph boundaries of nanopublications are made visible
first: for every triple of an assertion graph G, the validator adds ``G
exm:assertionSubject s``, ``G exm:assertionPredicate p`` and ``G exm:assertionObject o``.
Shapes can then count what one assertion states. Only the submitted nodes are validated
(``focus_nodes``), against the submission plus the reference vocabulary it points into, so
the cost follows the submission, not the store. Parsing never touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import rdflib
from pyshacl import validate as shacl_validate
from rdflib.namespace import RDF, SH

from exmech.errors import BadRequest
from exmech.vocab import EXM, NP

ASSERTION_VIEW = {
    "subject": rdflib.URIRef(EXM + "assertionSubject"),
    "predicate": rdflib.URIRef(EXM + "assertionPredicate"),
    "object": rdflib.URIRef(EXM + "assertionObject"),
}
HAS_ASSERTION = rdflib.URIRef(NP + "hasAssertion")

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


def parse(data: bytes, fmt: ox.RdfFormat, name: str = "input") -> list[ox.Quad]:
    """Quads of one document. Raises ParseError with the parser's line and column.

    pyoxigraph's parsers do not fetch JSON-LD contexts or external entities.
    """
    try:
        return list(ox.parse(data, format=fmt))
    except SyntaxError as exc:
        raise ParseError(f"{name}: {fmt.name} syntax {exc}") from exc


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
            for part, term in (("subject", q.subject), ("predicate", q.predicate), ("object", q.object)):
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


def validate(
    quads: Sequence[ox.Quad],
    root: Path,
    context: ContextProvider | None = None,
    sources: dict[str, str] | None = None,
) -> Report:
    """Validate the submitted quads' subjects against the shapes, with their context."""
    provider = context or file_context(root)
    focus = {q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)}
    mentioned = focus | {q.object.value for q in quads if isinstance(q.object, ox.NamedNode)}
    data = rdflib.Graph()
    data += provider(mentioned)
    to_rdflib([*quads, *assertion_view(quads)], into=data)
    conforms, results, _text = shacl_validate(
        data,
        shacl_graph=shapes_graph(root),
        inference="none",
        do_owl_imports=False,
        advanced=False,
        allow_warnings=True,
        inplace=True,
        focus_nodes=[rdflib.URIRef(f) for f in sorted(focus)] or None,
    )
    assert isinstance(results, rdflib.Graph)
    return Report(bool(conforms), findings(results, sources or {}), results)


def findings(results: rdflib.Graph, sources: dict[str, str]) -> list[Finding]:
    out: list[Finding] = []
    for result in results.subjects(RDF.type, SH.ValidationResult):

        def one(pred: rdflib.URIRef, result: rdflib.term.Node = result) -> str | None:
            value = results.value(result, pred)
            return None if value is None else str(value)

        focus = one(SH.focusNode) or ""
        out.append(
            Finding(
                focus=focus,
                path=one(SH.resultPath),
                value=one(SH.value),
                message=one(SH.resultMessage) or "constraint violated",
                severity=(one(SH.resultSeverity) or str(SH.Violation)).rsplit("#", 1)[-1],
                shape=one(SH.sourceShape) or "",
                source=sources.get(focus),
            )
        )
    out.sort(key=lambda f: (f.source or "", f.focus, f.path or "", f.message))
    return out


def validate_files(paths: Sequence[Path], root: Path) -> Report:
    """Validate files together (a claim file may point at a study file beside it)."""
    quads: list[ox.Quad] = []
    sources: dict[str, str] = {}
    for path in paths:
        file_quads = parse_file(path)
        for q in file_quads:
            if isinstance(q.subject, ox.NamedNode):
                sources.setdefault(q.subject.value, str(path))
        quads.extend(file_quads)
    return validate(quads, root, sources=sources)


def report_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
