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

import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH

from exmech import bounded, nanopub, rdf
from exmech.errors import BadRequest
from exmech.querytext import term_text
from exmech.store import Query, Store
from exmech.vocab import DCTERMS, EXM, FABIO, NP, SHAPES, XSD

ASSERTION_VIEW = {
    "subject": rdflib.URIRef(EXM + "assertionSubject"),
    "predicate": rdflib.URIRef(EXM + "assertionPredicate"),
    "object": rdflib.URIRef(EXM + "assertionObject"),
}
HAS_ASSERTION = rdflib.URIRef(NP + "hasAssertion")
# The source shape of findings that exmech's own checks report (not in shapes.ttl): what
# SHACL Core cannot see (named graphs, the clock, the store's history, the ontology's terms).
SUBMISSION_CHECK = f"{SHAPES}#SubmissionCheck"
UNKNOWN_TERM_CHECK = f"{SHAPES}#UnknownTermCheck"
DATE_CHECK = f"{SHAPES}#DateCheck"
# A creation time this far ahead of the server's clock is still "now" (clock skew).
CLOCK_SKEW = timedelta(minutes=5)


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
        return rdf.parse(data, fmt)
    except SyntaxError as exc:
        where = {"line": exc.lineno, "column": exc.offset} if exc.lineno else None
        raise ParseError(f"{name}: {fmt.name} syntax {exc}", detail=where) from exc


def parse_file(path: Path) -> list[ox.Quad]:
    fmt = rdf.format_of(path)
    if fmt is None:
        known = ", ".join(sorted(rdf.BY_EXTENSION))
        raise BadRequest(f"{path}: unknown file type {path.suffix!r}; use one of {known}")
    return parse(path.read_bytes(), fmt, str(path))


def n_triples(quads: Iterable[ox.Quad]) -> bytes:
    """The quads' triples as N-Triples: the one form pyshacl's data crosses into rdflib in."""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


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


def shapes_version(root: Path) -> str | None:
    """The shapes' owl:versionIRI (what submissions state in dcterms:conformsTo), if any."""
    version = shapes_graph(root).value(rdflib.URIRef(SHAPES), rdflib.OWL.versionIRI)
    return str(version) if version is not None else None


@cache
def reference_quads(root: Path) -> tuple[ox.Quad, ...]:
    """Ontology and all shipped data, claims included (so corrections can point at them)."""
    quads: list[ox.Quad] = []
    for path in sorted((root / "ontology").glob("*.ttl")):
        if path.name != "shapes.ttl":
            quads += parse_file(path)
    for path in sorted([*(root / "data").glob("*.ttl"), *(root / "data").glob("*.trig")]):
        quads += parse_file(path)
    return tuple(quads)


# A context provider returns the reference triples the given IRIs need (types, schemes...).
ContextProvider = Callable[[set[str]], Sequence[ox.Quad]]


def file_context(root: Path) -> ContextProvider:
    """Context from the shipped files: small enough to pass whole."""

    def provide(_iris: set[str]) -> Sequence[ox.Quad]:
        return reference_quads(root)

    return provide


_NODE_CONTEXT = """
CONSTRUCT { ?node ?p ?o . ?o a ?type . ?s ?inverse ?node . }
WHERE {
  VALUES ?node { %s }
  { VALUES ?p { %s } ?node ?p ?o OPTIONAL { ?o a ?type } }
  UNION
  { VALUES ?inverse { %s } ?s ?inverse ?node }
}"""
_CLASS_HIERARCHY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
CONSTRUCT { ?a rdfs:subClassOf ?b } WHERE { ?a rdfs:subClassOf ?b }"""
# What claims state (one triple per claim): never part of a node's description, so the
# context of an exercise type or a curator does not grow with the claims about them.
ASSERTION_PREDICATES = frozenset(
    {*(EXM + p for p in nanopub.LINK_PREDICATES), "http://purl.org/nanopub/x/retracts"}
)


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


def _construct(store: Store, text: str) -> list[ox.Quad]:
    results = store.execute(Query(text, "CONSTRUCT"))
    return [ox.Quad(t.subject, t.predicate, t.object) for t in results.triples]


def store_context(store: Store, root: Path) -> ContextProvider:
    """Context read from a store, per mentioned IRI: bounded by what the IRIs are, not the store.

    For each IRI: its values for the predicates the shapes read (its description, not the
    claims about it), the rdf:type of each IRI those point to (for sh:class), and the
    triples that point at it through a predicate some shape follows backwards
    (sh:inversePath). Plus the class hierarchy, read once. One query for all the IRIs (the
    IRIs bound in its VALUES block, so each is an indexed lookup): one answer to parse, not
    one per IRI.
    """
    forward, inverse = shape_predicates(shapes_graph(root))
    # IRIs from our own shapes file, not user input; the nodes are written by term_text.
    predicates = (" ".join(f"<{p}>" for p in forward), " ".join(f"<{p}>" for p in inverse))
    hierarchy: list[ox.Quad] = []

    def provide(iris: set[str]) -> Sequence[ox.Quad]:
        if not hierarchy:
            hierarchy.extend(_construct(store, _CLASS_HIERARCHY))
        if not iris:
            return list(hierarchy)
        nodes = " ".join(term_text(ox.NamedNode(iri)) for iri in sorted(iris))
        return [*hierarchy, *_construct(store, _NODE_CONTEXT % (nodes, *predicates))]

    return provide


@cache
def ontology_terms(root: Path) -> frozenset[str]:
    """Every term of our namespace that the ontology declares (anything it states about)."""
    graph = rdflib.Graph().parse(root / "ontology" / "exmech.ttl", format="turtle")
    return frozenset(str(s) for s in graph.subjects() if str(s).startswith(EXM))


def unknown_terms(quads: Sequence[ox.Quad], root: Path) -> list[Finding]:
    """Findings for ``exm:`` IRIs the ontology does not declare (a misspelt predicate or
    class would otherwise pass every shape that does not mention it)."""
    known = ontology_terms(root)
    locals_ = sorted(t[len(EXM) :] for t in known)
    seen: dict[str, ox.Quad] = {}
    for q in quads:
        for term in (q.subject, q.predicate, q.object):
            if isinstance(term, ox.NamedNode) and term.value.startswith(EXM):
                if term.value not in known:
                    seen.setdefault(term.value, q)
            elif isinstance(term, ox.Literal) and term.datatype.value.startswith(EXM):
                if term.datatype.value not in known:
                    seen.setdefault(term.datatype.value, q)
    out = []
    for unknown, q in sorted(seen.items()):
        local = unknown[len(EXM) :]
        close = difflib.get_close_matches(local, locals_, n=1, cutoff=0.75)
        hint = f" Did you mean exm:{close[0]}?" if close else ""
        out.append(
            Finding(
                focus=str(getattr(q.subject, "value", "")),
                path=q.predicate.value,
                value=unknown,
                message=f"exm:{local} is not a term of the exmech ontology: use a term it "
                f"declares (ontology/exmech.ttl).{hint}",
                severity="Violation",
                shape=UNKNOWN_TERM_CHECK,
            )
        )
    return out


def _moment(literal: ox.Literal) -> datetime | None:
    """The instant an xsd:dateTime or xsd:date literal names (UTC when no zone); None if
    it does not parse (the shapes report the datatype)."""
    text = literal.value.strip().replace("Z", "+00:00")
    try:
        if literal.datatype.value == XSD + "date":
            when = datetime.fromisoformat(text[:10])
        else:
            when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def date_problems(
    quads: Sequence[ox.Quad], now: datetime | None = None, created: bool = True
) -> list[Finding]:
    """Findings for dates after today: a study published in a later year and, with
    ``created`` (submissions: reference data may carry test histories dated ahead), a
    creation time in the future."""
    now = now or datetime.now(UTC)
    out = []
    for q in quads:
        o, focus = q.object, str(getattr(q.subject, "value", ""))
        if not isinstance(o, ox.Literal):
            continue
        if (
            created
            and q.predicate.value == DCTERMS + "created"
            and o.datatype.value
            in (
                XSD + "dateTime",
                XSD + "date",
            )
        ):
            when = _moment(o)
            if when is not None and when > now + CLOCK_SKEW:
                message = (
                    f"dcterms:created is {o.value}, which is in the future: give the time "
                    "the nanopublication was made."
                )
                out.append(
                    Finding(focus, q.predicate.value, o.value, message, "Violation", DATE_CHECK)
                )
        elif q.predicate.value == FABIO + "hasPublicationYear" and o.value.isdigit():
            if int(o.value) > now.year:
                message = (
                    f"The publication year {o.value} is after this year ({now.year}): give the "
                    "year the study was published."
                )
                out.append(
                    Finding(focus, q.predicate.value, o.value, message, "Violation", DATE_CHECK)
                )
    return out


def validate(
    quads: Sequence[ox.Quad],
    root: Path,
    context: ContextProvider | None = None,
    sources: dict[str, str] | None = None,
    defines: Iterable[str] = (),
    timeout: float | None = None,
    submission: bool = False,
    pool: bounded.Pool | None = None,
) -> Report:
    """Validate the submitted quads' subjects against the shapes, with their context.
    A ``submission`` is also refused a creation date in the future.

    ``defines`` names IRIs the submission itself introduces (its nanopublications and their
    graphs): their stored descriptions, if any, are not mixed in as context. With a
    ``timeout`` (the server's EXMECH_VALIDATION_TIMEOUT), pyshacl runs in a child process of
    ``pool`` (the caller's) that is killed at the deadline (``bounded``: 503), so no submission
    can hold a core for longer.
    """
    provider = context or file_context(root)
    focus = {q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)}
    mentioned = focus | {q.object.value for q in quads if isinstance(q.object, ox.NamedNode)}
    # The data pyshacl reads, written once as N-Triples and parsed once by rdflib (in the
    # bounded child when there is a timeout).
    data = n_triples([*provider(mentioned - set(defines)), *quads, *assertion_view(quads)])
    nodes = sorted(focus)
    if timeout is None:
        conforms, results = _run_shacl_on_graph(data, root, nodes)
    else:
        if pool is None:
            raise ValueError("validation with a timeout runs in a bounded.Pool: pass one")
        arguments = (data, root, nodes)
        conforms, text = pool.call(
            _run_shacl_on_text, arguments, timeout, "validation", "EXMECH_VALIDATION_TIMEOUT"
        )
        results = rdflib.Graph().parse(data=text, format="nt")
    report = Report(conforms, findings(results, sources or {}, shapes_graph(root)), results)
    extra = unknown_terms(quads, root) + date_problems(quads, created=submission)
    if not extra:
        return report
    extra = [replace(f, source=(sources or {}).get(f.focus)) for f in extra]
    return Report.of(sorted([*report.findings, *extra], key=finding_order))


def run_shacl(data: rdflib.Graph, root: Path, focus: Sequence[str]) -> tuple[bool, rdflib.Graph]:
    """pyshacl on ``data`` (changed in place) for the ``focus`` nodes: (conforms, results)."""
    from pyshacl import validate as shacl_validate  # here: `exmech submit` need not load it

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
    return bool(conforms), _named_sources(results, shapes_graph(root))


def _named_sources(results: rdflib.Graph, shapes: rdflib.Graph) -> rdflib.Graph:
    """Each anonymous property shape a result comes from, replaced by the node shape that
    holds it: blank-node labels are the parser's, different in every process (the bounded
    child's included), so a report that names them could not be compared or acted on."""
    for result, shape in list(results.subject_objects(SH.sourceShape)):
        holder = shapes.value(None, SH.property, shape) if isinstance(shape, rdflib.BNode) else None
        if isinstance(holder, rdflib.URIRef):
            results.set((result, SH.sourceShape, holder))
    return results


def _run_shacl_on_graph(data: bytes, root: Path, focus: Sequence[str]) -> tuple[bool, rdflib.Graph]:
    """run_shacl on N-Triples (parsed here, into the graph pyshacl extends in place)."""
    return run_shacl(rdflib.Graph().parse(data=data, format="nt"), root, focus)


def _run_shacl_on_text(data: bytes, root: Path, focus: Sequence[str]) -> tuple[bool, bytes]:
    """run_shacl in a bounded child: N-Triples in, (conforms, results as N-Triples) out."""
    conforms, results = _run_shacl_on_graph(data, root, focus)
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
    out.sort(key=finding_order)
    return out


def finding_order(f: Finding) -> tuple[str, str, str, str]:
    """Findings sort by file, focus, path and message, so every entry point lists them alike."""
    return (f.source or "", f.focus, f.path or "", f.message)


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
