"""Claim and retraction nanopublications: the one place their four graphs are put together.

The importer builds the shipped claims with :func:`add_claim`, curation builds submitted
claims and retractions with it, so both follow docs/model.md in exactly the same way.
Naming is content-derived, and :func:`claim_slug` is the only function that computes a
name: a claim is named by its assertion and its study, a retraction by its assertion and the
retracting curator, the assertion read in its W3C RDF Dataset Canonicalization (RDFC-1.0,
pyoxigraph's implementation), so every path (the importer's and the wrapping's builders,
quads from any submitted syntax, quads read back from the store) gives the same IRI for the
same assertion. :func:`name` gives submitted nanopublications those names. Terms are
pyoxigraph's throughout; the builders append quads to a list, in a fixed order. Pure: no
I/O, no store.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from exmech import vocab


def _iri(namespace: str, local: str = "") -> ox.NamedNode:
    return ox.NamedNode(namespace + local)


RDF_TYPE_NODE = _iri(vocab.RDF, "type")
RDFS_COMMENT = _iri(vocab.RDFS, "comment")
LICENSE = ox.NamedNode("https://creativecommons.org/licenses/by/4.0/")
SHAPES_VERSION = ox.NamedNode(f"{vocab.SHAPES}/{vocab.RELEASE}")

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
ECO_AUTHOR_STATEMENT = ox.NamedNode(f"{OBO}ECO_0000302")  # author statement, manual assertion
ECO_CLINICAL_STUDY = ox.NamedNode(f"{OBO}ECO_0007121")  # clinical study evidence, manual assertion
# author statement supported from referenced clinical study, manual assertion (reviews)
ECO_REVIEW_STATEMENT = ox.NamedNode(f"{OBO}ECO_0006017")

Term = ox.NamedNode | ox.BlankNode | ox.Literal
Triple = tuple[ox.NamedNode, ox.NamedNode, Term]
Problem = tuple[str, str]  # (focus IRI, what to fix)
PARTS = {
    vocab.NP + "hasAssertion": "assertion",
    vocab.NP + "hasProvenance": "provenance",
    vocab.NP + "hasPublicationInfo": "pubinfo",
}
_HAS = {part: iri[len(vocab.NP) :] for iri, part in PARTS.items()}  # part -> np: local name
KINDS = {vocab.EXM + "Claim": "claim", vocab.EXM + "Retraction": "retraction"}
RDF_TYPE, SUPERSEDES, RETRACTS = (
    vocab.RDF + "type",
    vocab.NPX + "supersedes",
    vocab.NPX + "retracts",
)
DERIVED = vocab.PROV + "wasDerivedFrom"
XSD_STRING = vocab.XSD + "string"
BLANK_FOCUS = "urn:exmech:blank-node"  # the focus of a finding about a blank node


@dataclass(frozen=True)
class Evidence:
    """What the study did with the mechanism and what it found (docs/model.md, Evidence).

    ``level`` and ``direction`` are exm: individuals, ``kind`` an ECO class IRI;
    ``direction_note`` is the source's words that decide the direction; ``read_from`` the page
    the wording was read on and ``read_from_kind`` what kind of source that page is.
    """

    level: ox.NamedNode
    direction: ox.NamedNode
    kind: ox.NamedNode
    direction_note: str | None = None
    read_from: ox.NamedNode | None = None
    read_from_kind: ox.NamedNode | None = None


@dataclass(frozen=True)
class ImportActivity:
    """The import that made a claim: which table row, which mapping decisions, which agents."""

    row: str
    decisions: tuple[str, ...]
    used: tuple[ox.NamedNode, ...]
    agents: tuple[ox.NamedNode, ...]
    ended: ox.Literal | None = None  # the pubinfo's dcterms:created says when


@dataclass(frozen=True)
class Provenance:
    """Where a claim comes from; a part left as None is left out of the provenance graph."""

    study: ox.NamedNode
    location: str | None = None
    status: ox.NamedNode | None = None
    note: str | None = None
    wording: str | None = None
    evidence: Evidence | None = None
    activity: ImportActivity | None = None


@dataclass(frozen=True)
class PubInfo:
    """Who published a nanopublication, when, under which licence, checked by which shapes."""

    curator: ox.NamedNode
    created: ox.Literal
    supersedes: tuple[ox.NamedNode, ...] = ()
    curator_name: str | None = None  # describe the curator as a prov:Person when given
    comment: str | None = None
    comment_language: str | None = None  # e.g. "en" for the shipped data
    license: ox.NamedNode = LICENSE
    shapes: ox.NamedNode = SHAPES_VERSION


AssertionTriple = ox.Triple | ox.Quad | tuple[object, object, object]


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
        if not isinstance(s, ox.NamedNode | ox.BlankNode) or not isinstance(p, ox.NamedNode):
            raise ValueError(f"not an RDF triple: {s} {p} {o}")
        if not isinstance(o, ox.NamedNode | ox.BlankNode | ox.Literal):
            raise TypeError(f"not a pyoxigraph subject or object: {o!r}")
        store.add(ox.Quad(s, p, o, ox.DefaultGraph()))
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


class _Graph:
    """Adds statements to one named graph of a quad list."""

    def __init__(self, out: list[ox.Quad], name: str) -> None:
        self.out, self.name = out, ox.NamedNode(name)

    def add(self, subject: ox.NamedNode, predicate: ox.NamedNode, obj: Term) -> None:
        self.out.append(ox.Quad(subject, predicate, obj, self.name))


def _literal(text: str, language: str | None = None) -> ox.Literal:
    return ox.Literal(text, language=language) if language else ox.Literal(text)


def _add_nanopub(
    out: list[ox.Quad],
    kind: ox.NamedNode,
    assertion: Sequence[Triple],
    source: str,
    info: PubInfo,
    base: str,
) -> tuple[ox.NamedNode, dict[str, str]]:
    slug = claim_slug(assertion, source, [s.value for s in info.supersedes], base)
    node, graphs = ox.NamedNode(vocab.iri("claim", slug, base)), vocab.claim_graphs(slug, base)
    head = _Graph(out, graphs["head"])
    head.add(node, RDF_TYPE_NODE, _iri(vocab.NP, "Nanopublication"))
    head.add(node, RDF_TYPE_NODE, kind)
    for part in ("assertion", "provenance", "pubinfo"):
        head.add(node, _iri(vocab.NP, _HAS[part]), ox.NamedNode(graphs[part]))
    assertion_graph = _Graph(out, graphs["assertion"])
    for s, p, o in assertion:
        assertion_graph.add(s, p, o)
    pubinfo = _Graph(out, graphs["pubinfo"])
    pubinfo.add(node, _iri(vocab.PROV, "wasAttributedTo"), info.curator)
    pubinfo.add(node, _iri(vocab.DCTERMS, "created"), info.created)
    pubinfo.add(node, _iri(vocab.DCTERMS, "license"), info.license)
    pubinfo.add(node, _iri(vocab.DCTERMS, "conformsTo"), info.shapes)
    for old in info.supersedes:
        pubinfo.add(node, ox.NamedNode(SUPERSEDES), old)
    if info.comment:
        pubinfo.add(node, RDFS_COMMENT, _literal(info.comment, info.comment_language))
    if info.curator_name is not None:
        pubinfo.add(info.curator, RDF_TYPE_NODE, _iri(vocab.PROV, "Person"))
        pubinfo.add(info.curator, _iri(vocab.FOAF, "name"), ox.Literal(info.curator_name))
    return node, graphs


def add_claim(
    out: list[ox.Quad], triple: Triple, prov: Provenance, info: PubInfo, base: str = vocab.BASE
) -> ox.NamedNode:
    """Append one claim nanopublication (head, assertion, provenance, pubinfo) to ``out``."""
    node, graphs = _add_nanopub(
        out, _iri(vocab.EXM, "Claim"), [triple], prov.study.value, info, base
    )
    graph, assertion = _Graph(out, graphs["provenance"]), ox.NamedNode(graphs["assertion"])
    graph.add(assertion, ox.NamedNode(DERIVED), prov.study)
    for local, value in (
        ("locationInStudy", prov.location),
        ("mediatorStatus", prov.status),
        ("mediatorStatusNote", prov.note),
        ("sourceWording", prov.wording),
    ):
        if value is not None:
            term = value if isinstance(value, ox.NamedNode) else ox.Literal(value)
            graph.add(assertion, _iri(vocab.EXM, local), term)
    if prov.evidence is not None:
        add_evidence(graph, assertion, prov.evidence)
    if prov.activity is not None:
        add_activity(graph, assertion, ox.NamedNode(f"{node.value}#import"), prov.activity)
    return node


def add_evidence(graph: _Graph, assertion: ox.NamedNode, evidence: Evidence) -> None:
    """State an assertion's evidence level, direction, kind and wording source."""
    graph.add(assertion, _iri(vocab.EXM, "evidenceLevel"), evidence.level)
    graph.add(assertion, _iri(vocab.EXM, "findingDirection"), evidence.direction)
    graph.add(assertion, _iri(vocab.EXM, "evidenceKind"), evidence.kind)
    if evidence.direction_note:
        graph.add(
            assertion, _iri(vocab.EXM, "directionWording"), ox.Literal(evidence.direction_note)
        )
    if evidence.read_from is not None:
        graph.add(assertion, _iri(vocab.EXM, "wordingReadFrom"), evidence.read_from)
    if evidence.read_from_kind is not None:
        graph.add(assertion, _iri(vocab.EXM, "wordingSourceKind"), evidence.read_from_kind)


def add_activity(
    graph: _Graph, assertion: ox.NamedNode, node: ox.NamedNode, activity: ImportActivity
) -> None:
    """The prov:Activity that generated an assertion from the source tables."""
    graph.add(assertion, _iri(vocab.PROV, "wasGeneratedBy"), node)
    graph.add(node, RDF_TYPE_NODE, _iri(vocab.PROV, "Activity"))
    graph.add(node, _iri(vocab.EXM, "sourceRow"), ox.Literal(activity.row))
    for decision in activity.decisions:
        graph.add(node, _iri(vocab.EXM, "mappingDecision"), ox.Literal(decision))
    for used in activity.used:
        graph.add(node, _iri(vocab.PROV, "used"), used)
    for agent in activity.agents:
        graph.add(node, _iri(vocab.PROV, "wasAssociatedWith"), agent)
    if activity.ended is not None:
        graph.add(node, _iri(vocab.PROV, "endedAtTime"), activity.ended)


def add_retraction(
    out: list[ox.Quad], target: ox.NamedNode, info: PubInfo, base: str = vocab.BASE
) -> ox.NamedNode:
    """Append an exm:Retraction whose assertion is ``<curator> npx:retracts <target>``."""
    triple: Triple = (info.curator, ox.NamedNode(RETRACTS), target)
    kind = _iri(vocab.EXM, "Retraction")
    node, graphs = _add_nanopub(out, kind, [triple], info.curator.value, info, base)
    provenance = _Graph(out, graphs["provenance"])
    provenance.add(
        ox.NamedNode(graphs["assertion"]), _iri(vocab.PROV, "wasAttributedTo"), info.curator
    )
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
