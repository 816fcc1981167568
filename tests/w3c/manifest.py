"""Read a W3C test manifest (mf:Manifest in Turtle) into plain records, in manifest order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF

SUITE = Path(__file__).with_name("rdf-tests") / "sparql" / "sparql11"
MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")


@dataclass(frozen=True)
class Entry:
    """One test: its IRI, local name, kind (mf:PositiveSyntaxTest11...) and action file."""

    iri: str
    name: str
    kind: str
    action: Path | None
    node: rdflib.term.Node


def load(folder: str) -> tuple[rdflib.Graph, list[Entry]]:
    """The manifest graph of ``SUITE/folder`` and its entries, in mf:entries order."""
    path = SUITE / folder / "manifest.ttl"
    graph = rdflib.Graph().parse(path, format="turtle", publicID=path.as_uri())
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    entries = []
    for node in Collection(graph, graph.value(manifest, MF.entries)):
        kind = graph.value(node, RDF.type)
        action = graph.value(node, MF.action)
        file = None
        if isinstance(action, rdflib.URIRef) and action.startswith("file:"):
            file = Path(action.removeprefix("file://"))
        entries.append(
            Entry(str(node), str(node).rsplit("#", 1)[-1], str(kind).rsplit("#")[-1], file, node)
        )
    return graph, entries
