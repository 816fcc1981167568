"""Claim and retraction nanopublications: the one place their four graphs are put together.

The importer builds the shipped claims with :func:`add_claim`, curation builds submitted
claims and retractions with it, so both follow docs/model.md in exactly the same way.
Naming is content-derived, and :func:`claim_slug` is the only function that computes a
name: a claim is named by its assertion and its study, a retraction by its assertion and the
retracting curator, the assertion read in its W3C RDF Dataset Canonicalization (RDFC-1.0,
pyoxigraph's implementation), so every path (rdflib terms in the importer and wrapping,
pyoxigraph quads from any submitted syntax, quads read back from the store) gives the same
IRI for the same assertion. :func:`name` gives submitted nanopublications (pyoxigraph quads)
those names. Pure: no I/O, no store.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from rdflib import RDF, RDFS, BNode, Dataset, Graph, Literal, Namespace, URIRef

from exmech import vocab

EXM = Namespace(vocab.EXM)
NP = Namespace(vocab.NP)
NPX = Namespace(vocab.NPX)
PROV = Namespace(vocab.PROV)
DCTERMS = Namespace(vocab.DCTERMS)
FOAF = Namespace(vocab.FOAF)

LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
SHAPES_VERSION = URIRef(f"{vocab.SHAPES}/{vocab.RELEASE}")

# What the study did with the mechanism (exm:EvidenceLevel), a rule on the mediator status.
LEVELS: dict[str, str] = {
    "MediationTested": "TestedAsMediator",
    "MechanismTested": "TestedAsMediator",
    "ModeratorTested": "TestedAsModerator",
    "OutcomeOnly": "MeasuredAsOutcome",
    "PooledOutcome": "PooledInReview",
    "NotMeasured": "ProposedAsRationale",
    "Planned": "ProposedAsRationale",
    "TestedInCompanionPaper": "ProposedAsRationale",
    "SeldomTested": "ProposedAsRationale",  # a review: trials proposed it, rarely tested it
}
DIRECTIONS = ("Supports", "NoEffect", "Contradicts", "NotReported")
# The assertion's predicate says what a claim states: a proposal, or a finding and its
# direction, so that the assertion graphs alone never read a null finding as support.
PROPOSED = "proposedMechanism"
FINDING_PREDICATES: dict[str, str] = {
    "Supports": "supportedMechanism",
    "NoEffect": "unsupportedMechanism",
    "Contradicts": "contradictedMechanism",
    "NotReported": "examinedMechanism",
}
LINK_PREDICATES = (PROPOSED, *FINDING_PREDICATES.values())
# Evidence kinds from the Evidence and Conclusion Ontology (checked: data/README.md).
OBO = "http://purl.obolibrary.org/obo/"
ECO_AUTHOR_STATEMENT = URIRef(f"{OBO}ECO_0000302")  # author statement, manual assertion
ECO_CLINICAL_STUDY = URIRef(f"{OBO}ECO_0007121")  # clinical study evidence, manual assertion
# author statement supported from referenced clinical study, manual assertion (reviews)
ECO_REVIEW_STATEMENT = URIRef(f"{OBO}ECO_0006017")

Triple = tuple[URIRef, URIRef, URIRef | Literal]
Problem = tuple[str, str]  # (focus IRI, what to fix)
PARTS = {
    str(NP.hasAssertion): "assertion",
    str(NP.hasProvenance): "provenance",
    str(NP.hasPublicationInfo): "pubinfo",
}
KINDS = {str(EXM.Claim): "claim", str(EXM.Retraction): "retraction"}
RDF_TYPE, SUPERSEDES, RETRACTS = str(RDF.type), str(NPX.supersedes), str(NPX.retracts)
DERIVED = str(PROV.wasDerivedFrom)
XSD_STRING = vocab.XSD + "string"
BLANK_FOCUS = "urn:exmech:blank-node"  # the focus of a finding about a blank node


@dataclass(frozen=True)
class Evidence:
    """What the study did with the mechanism and what it found (docs/model.md, Evidence).

    ``level`` and ``direction`` are exm: individuals, ``kind`` an ECO class IRI;
    ``direction_note`` is the source's words that decide the direction; ``read_from`` the page
    the wording was read on and ``read_from_kind`` what kind of source that page is.
    """

    level: URIRef
    direction: URIRef
    kind: URIRef
    direction_note: str | None = None
    read_from: URIRef | None = None
    read_from_kind: URIRef | None = None


@dataclass(frozen=True)
class ImportActivity:
    """The import that made a claim: which table row, which mapping decisions, which agents."""

    row: str
    decisions: tuple[str, ...]
    used: tuple[URIRef, ...]
    agents: tuple[URIRef, ...]
    ended: Literal | None = None  # the pubinfo's dcterms:created says when


@dataclass(frozen=True)
class Provenance:
    """Where a claim comes from; a part left as None is left out of the provenance graph."""

    study: URIRef
    location: str | None = None
    status: URIRef | None = None
    note: str | None = None
    wording: str | None = None
    evidence: Evidence | None = None
    activity: ImportActivity | None = None


@dataclass(frozen=True)
class PubInfo:
    """Who published a nanopublication, when, under which licence, checked by which shapes."""

    curator: URIRef
    created: Literal
    supersedes: tuple[URIRef, ...] = ()
    curator_name: str | None = None  # describe the curator as a prov:Person when given
    comment: str | None = None
    comment_language: str | None = None  # e.g. "en" for the shipped data
    license: URIRef = LICENSE
    shapes: URIRef = SHAPES_VERSION


Term = ox.NamedNode | ox.BlankNode | ox.Literal
AssertionTriple = ox.Triple | ox.Quad | tuple[Any, Any, Any]


def ox_term(term: object) -> Term:
    """The pyoxigraph term of an rdflib or pyoxigraph term, lexical form kept as it is
    (rdflib's normalisation never reaches a name).

    >>> ox_term(Literal("x", lang="en-GB"))
    <Literal value=x language=en-gb>
    """
    if isinstance(term, ox.NamedNode | ox.BlankNode | ox.Literal):
        return term
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


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
        if datatype == XSD_STRING:
            return Literal(term.value, normalize=False)
        return Literal(term.value, datatype=URIRef(datatype), normalize=False)
    raise TypeError(f"not a pyoxigraph subject or object: {term!r}")


def canonical_assertion(triples: Iterable[AssertionTriple]) -> str:
    """The assertion as canonical N-Quads (RDFC-1.0), in the default graph: the text a
    claim's name is hashed from.

    Literals are taken as a store keeps them: Oxigraph writes numbers, booleans and dates
    in their canonical lexical form (``"01"^^xsd:integer`` is read back as ``"1"``), so
    the assertion passes through an in-memory store first, and a name computed from what
    a store holds equals the name computed from what was submitted. Blank nodes get their
    canonical labels (``_:c14n0``...).

    >>> yoga = ox.NamedNode("https://w3id.org/exmech/id/exercise/yoga")
    >>> print(canonical_assertion([(yoga, ox.NamedNode("http://p"), ox.Literal("a\\tb"))]), end="")
    <https://w3id.org/exmech/id/exercise/yoga> <http://p> "a\\tb" .
    """
    store = ox.Store()
    for triple in triples:
        s, p, o = (
            (triple.subject, triple.predicate, triple.object)
            if isinstance(triple, ox.Triple | ox.Quad)
            else triple
        )
        subject, predicate, obj = ox_term(s), ox_term(p), ox_term(o)
        if isinstance(subject, ox.Literal) or not isinstance(predicate, ox.NamedNode):
            raise ValueError(f"not an RDF triple: {s} {p} {o}")
        store.add(ox.Quad(subject, predicate, obj, ox.DefaultGraph()))
    dataset = ox.Dataset(store)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return "".join(sorted(f"{quad} .\n" for quad in dataset))


def claim_slug(
    assertion: Iterable[AssertionTriple],
    source: str,
    supersedes: Iterable[str] = (),
    base: str = vocab.BASE,
) -> str:
    """The content hash naming a nanopublication: THE function every path calls.

    ``sha256(supersedes lines + canonical N-Quads of the assertion + "#derived-from
    <source>")``, first 20 hex digits. ``source`` is the study for a claim and the
    retracting curator for a retraction. A correction that restates the assertion and study
    of a claim it supersedes (say, to fix the location) would collide with it, so only then
    the superseded IRIs join the hash. For an assertion of IRIs only, the canonical form is
    the plain N-Triples line, so names minted before RDFC-1.0 was used are unchanged.

    >>> p, o = ox.NamedNode("http://p"), ox.NamedNode("http://o")
    >>> triple = (ox.NamedNode("https://w3id.org/exmech/id/exercise/yoga"), p, o)
    >>> old = vocab.iri("claim", claim_slug([triple], "s"))
    >>> claim_slug([triple], "s") != claim_slug([triple], "s", supersedes=[old])
    True
    >>> claim_slug([triple], "s") == claim_slug([triple], "s", ["https://example.org/x"])
    True
    >>> claim_slug([(URIRef(triple[0].value), URIRef(p.value), URIRef(o.value))], "s") == old[-20:]
    True
    """
    canonical = canonical_assertion(assertion)
    if not canonical:
        raise ValueError("an empty assertion has no name")
    targets = sorted(set(supersedes))
    payload = canonical + f"#derived-from <{source}>\n"
    slug = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]
    if vocab.iri("claim", slug, base) in targets:
        lines = "".join(f"# supersedes <{t}>\n" for t in targets)
        slug = hashlib.sha256((lines + payload).encode("utf-8")).hexdigest()[:20]
    return slug


def _parts(slug: str, base: str) -> tuple[URIRef, dict[str, URIRef]]:
    graphs = {part: URIRef(g) for part, g in vocab.claim_graphs(slug, base).items()}
    return URIRef(vocab.iri("claim", slug, base)), graphs


def _add_nanopub(
    ds: Dataset, kind: URIRef, assertion: Iterable[Triple], source: str, info: PubInfo, base: str
) -> tuple[URIRef, dict[str, URIRef]]:
    triples = list(assertion)
    slug = claim_slug(triples, source, [str(s) for s in info.supersedes], base)
    node, graphs = _parts(slug, base)
    head = ds.graph(graphs["head"])
    head.add((node, RDF.type, NP.Nanopublication))
    head.add((node, RDF.type, kind))
    head.add((node, NP.hasAssertion, graphs["assertion"]))
    head.add((node, NP.hasProvenance, graphs["provenance"]))
    head.add((node, NP.hasPublicationInfo, graphs["pubinfo"]))
    for t in triples:
        ds.graph(graphs["assertion"]).add(t)
    pubinfo = ds.graph(graphs["pubinfo"])
    pubinfo.add((node, PROV.wasAttributedTo, info.curator))
    pubinfo.add((node, DCTERMS.created, info.created))
    pubinfo.add((node, DCTERMS.license, info.license))
    pubinfo.add((node, DCTERMS.conformsTo, info.shapes))
    for old in info.supersedes:
        pubinfo.add((node, NPX.supersedes, old))
    if info.comment:
        pubinfo.add((node, RDFS.comment, Literal(info.comment, lang=info.comment_language)))
    if info.curator_name is not None:
        pubinfo.add((info.curator, RDF.type, PROV.Person))
        pubinfo.add((info.curator, FOAF.name, Literal(info.curator_name)))
    return node, graphs


def add_claim(
    ds: Dataset, triple: Triple, prov: Provenance, info: PubInfo, base: str = vocab.BASE
) -> URIRef:
    """Add one claim nanopublication (head, assertion, provenance, pubinfo) to ``ds``."""
    node, graphs = _add_nanopub(ds, EXM.Claim, [triple], str(prov.study), info, base)
    graph, assertion = ds.graph(graphs["provenance"]), graphs["assertion"]
    graph.add((assertion, PROV.wasDerivedFrom, prov.study))
    for predicate, value in (
        (EXM.locationInStudy, prov.location),
        (EXM.mediatorStatus, prov.status),
        (EXM.mediatorStatusNote, prov.note),
        (EXM.sourceWording, prov.wording),
    ):
        if value is not None:  # URIRef is a str: test it first
            term = value if isinstance(value, URIRef) else Literal(value)
            graph.add((assertion, predicate, term))
    if prov.evidence is not None:
        add_evidence(graph, assertion, prov.evidence)
    if prov.activity is not None:
        add_activity(graph, assertion, URIRef(f"{node}#import"), prov.activity)
    return node


def add_evidence(graph: Graph, assertion: URIRef, evidence: Evidence) -> None:
    """State an assertion's evidence level, direction, kind and wording source."""
    graph.add((assertion, EXM.evidenceLevel, evidence.level))
    graph.add((assertion, EXM.findingDirection, evidence.direction))
    graph.add((assertion, EXM.evidenceKind, evidence.kind))
    if evidence.direction_note:
        graph.add((assertion, EXM.directionWording, Literal(evidence.direction_note)))
    if evidence.read_from is not None:
        graph.add((assertion, EXM.wordingReadFrom, evidence.read_from))
    if evidence.read_from_kind is not None:
        graph.add((assertion, EXM.wordingSourceKind, evidence.read_from_kind))


def add_activity(graph: Graph, assertion: URIRef, node: URIRef, activity: ImportActivity) -> None:
    """The prov:Activity that generated an assertion from the source tables."""
    graph.add((assertion, PROV.wasGeneratedBy, node))
    graph.add((node, RDF.type, PROV.Activity))
    graph.add((node, EXM.sourceRow, Literal(activity.row)))
    for decision in activity.decisions:
        graph.add((node, EXM.mappingDecision, Literal(decision)))
    for used in activity.used:
        graph.add((node, PROV.used, used))
    for agent in activity.agents:
        graph.add((node, PROV.wasAssociatedWith, agent))
    if activity.ended is not None:
        graph.add((node, PROV.endedAtTime, activity.ended))


def add_retraction(ds: Dataset, target: URIRef, info: PubInfo, base: str = vocab.BASE) -> URIRef:
    """Add an exm:Retraction whose assertion is ``<curator> npx:retracts <target>``."""
    triple: Triple = (info.curator, NPX.retracts, target)
    node, graphs = _add_nanopub(ds, EXM.Retraction, [triple], str(info.curator), info, base)
    ds.graph(graphs["provenance"]).add((graphs["assertion"], PROV.wasAttributedTo, info.curator))
    return node


# --- naming submitted nanopublications -----------------------------------------------------


@dataclass(frozen=True)
class Named:
    """A submitted nanopublication under its content-derived IRI."""

    iri: str
    kind: str  # "claim" or "retraction"
    submitted_as: str

    @property
    def slug(self) -> str:
        return self.iri.rsplit("/", 1)[-1]

    def graphs(self, base: str) -> list[str]:
        return list(vocab.claim_graphs(self.slug, base).values())


@dataclass(frozen=True)
class _Head:
    """A nanopublication as submitted: its IRI, graphs and what its name derives from."""

    node: str
    graphs: dict[str, str]  # part -> submitted graph IRI
    kind: str
    assertion: list[ox.Quad]
    source: str  # the study (claim) or the retracting curator (retraction)
    supersedes: list[str]


def value(term: object) -> str:
    """The IRI or lexical value of a pyoxigraph term; "" for the default graph."""
    return str(getattr(term, "value", ""))


def blank_node_problems(quads: Sequence[ox.Quad]) -> list[Problem]:
    """Blank nodes cannot be pointed at by a later correction: refuse them, saying where
    (blank-node labels are the parser's, so they are never part of the message)."""
    for q in quads:
        where = [
            part
            for part, term in (
                ("subject", q.subject),
                ("object", q.object),
                ("graph", q.graph_name),
            )
            if isinstance(term, ox.BlankNode)
        ]
        if where:
            focus = value(q.subject) if isinstance(q.subject, ox.NamedNode) else BLANK_FOCUS
            return [
                (
                    focus,
                    f"Blank nodes are not accepted (the {' and '.join(where)} of a "
                    f"<{q.predicate.value}> statement): name every node and graph with an IRI, "
                    "so that later corrections can point at it.",
                )
            ]
    return []


def _head(
    node: str, graphs: dict[str, str], by_graph: Mapping[str, list[ox.Quad]]
) -> _Head | Problem:
    """Read one nanopublication out of its graphs, or say what is wrong with it."""
    types = {
        value(q.object)
        for q in by_graph[graphs["head"]]
        if value(q.subject) == node and q.predicate.value == RDF_TYPE
    }
    kinds = sorted({KINDS[t] for t in types if t in KINDS})
    assertion = by_graph[graphs["assertion"]]
    if not kinds:
        return (
            node,
            "Type the nanopublication in its head graph as exm:Claim (or "
            "exm:Retraction) as well as np:Nanopublication.",
        )
    if not assertion:
        return (
            graphs["assertion"],
            "The assertion graph is empty: state <exercise type> "
            "exm:proposedMechanism <mechanism> in it.",
        )
    if kinds == ["retraction"]:
        sources = [value(q.subject) for q in assertion if q.predicate.value == RETRACTS]
    else:
        sources = [
            value(q.object)
            for q in by_graph[graphs["provenance"]]
            if value(q.subject) == graphs["assertion"] and q.predicate.value == DERIVED
        ]
    old = [
        value(q.object)
        for q in by_graph[graphs["pubinfo"]]
        if value(q.subject) == node and q.predicate.value == SUPERSEDES
    ]
    return _Head(node, graphs, kinds[0], assertion, min(sources, default=""), old)


def name(
    quads: Sequence[ox.Quad], base: str = vocab.BASE
) -> tuple[list[ox.Quad], list[Named], list[Problem]]:
    """Give each complete nanopublication its content-derived IRIs; report what is malformed.

    A nanopublication is found by its head (``N np:hasAssertion A`` ...). Its IRI and graphs
    become ``claim/{h}`` and ``graph/{h}-{part}`` wherever they occur. Returns the renamed
    quads, the nanopublications, and problems (then nothing is renamed).
    """
    parts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    by_graph: dict[str, list[ox.Quad]] = defaultdict(list)
    for q in quads:
        by_graph[value(q.graph_name)].append(q)
        part = PARTS.get(q.predicate.value)
        if part:
            parts[value(q.subject)][part].add(value(q.object))
            parts[value(q.subject)]["head"].add(value(q.graph_name))
    problems: list[Problem] = []
    heads: list[_Head] = []
    for node, seen in parts.items():
        if any(len(seen[p]) != 1 for p in ("head", *PARTS.values())) or "" in seen["head"]:
            problems.append(
                (
                    node,
                    "A nanopublication needs exactly one np:hasAssertion, "
                    "np:hasProvenance and np:hasPublicationInfo, stated in one "
                    "named head graph.",
                )
            )
            continue
        read = _head(node, {p: next(iter(v)) for p, v in seen.items()}, by_graph)
        if isinstance(read, _Head):
            heads.append(read)
        else:
            problems.append(read)
    roles: dict[str, list[str]] = defaultdict(list)
    for h in heads:
        for part, g in sorted(h.graphs.items(), key=lambda pg: vocab.GRAPH_PARTS.index(pg[0])):
            roles[g].append(part if len(heads) == 1 else f"{part} of <{h.node}>")
    for graph, used in sorted(roles.items()):
        if len(used) > 1:
            problems.append(
                (
                    graph,
                    f"The graph <{graph}> serves twice (as {', '.join(used)}): give every "
                    "nanopublication four distinct graphs of its own (head, assertion, "
                    "provenance, publication info).",
                )
            )
    named_anywhere = {g for seen in parts.values() for v in seen.values() for g in v}
    for graph in sorted(set(by_graph) - named_anywhere):
        where = f"<{graph}>" if graph else "the default graph"
        problems.append(
            (
                graph or "urn:exmech:default-graph",
                (
                    f"{len(by_graph[graph])} statement(s) in {where} belong to no "
                    "nanopublication: put each in the head, assertion, provenance or "
                    "publication-info graph of one."
                ),
            )
        )
    if problems:
        return list(quads), [], problems
    first = {h.node: vocab.iri("claim", claim_slug(h.assertion, h.source), base) for h in heads}
    final: dict[str, str] = {}
    named: dict[str, Named] = {}
    for h in heads:
        slug = claim_slug(h.assertion, h.source, [first.get(o, o) for o in h.supersedes], base)
        final[h.node] = vocab.iri("claim", slug, base)
        final.update({h.graphs[p]: g for p, g in vocab.claim_graphs(slug, base).items()})
        named.setdefault(final[h.node], Named(final[h.node], h.kind, h.node))

    def rename(term: Any) -> Any:
        if isinstance(term, ox.NamedNode) and term.value in final:
            return ox.NamedNode(final[term.value])
        return term

    renamed = [
        ox.Quad(rename(q.subject), q.predicate, rename(q.object), rename(q.graph_name))
        for q in quads
    ]
    return renamed, sorted(named.values(), key=lambda n: n.iri), []  # one order everywhere
