"""Bulk loads for ``exmech build``: exmech's graphs filled again, in big requests.

Each request is one SPARQL Update (or one Graph Store POST for a big graph) of a few thousand
quads: sizes Virtuoso 7 takes. Requests go one at a time: on Virtuoso 7.2 parallel requests
loaded no faster (the server serialises them) and once stored a literal with an empty language
tag, so bulk loads stay sequential.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import pyoxigraph as ox

from exmech.errors import BadRequest
from exmech.store.remote.dialect import quads_text
from exmech.store.remote.protocol import Connection

DATA_CHUNK = 2000  # quads per INSERT DATA (Virtuoso's parser runs out of memory at ~5,000)
TEMPLATE_CHUNK = 500  # triples per INSERT template (Virtuoso's SQL size limit is ~1,000)
GSP_THRESHOLD = 2000  # graphs this big go through the Graph Store Protocol, when there is one


def load(server: Connection, quads: Iterable[ox.Quad], gsp_threshold: int) -> set[str]:
    """Send quads: big graphs by GSP, plain data by INSERT DATA, blank nodes by template."""
    by_graph: dict[str, list[ox.Quad]] = defaultdict(list)
    for quad in quads:
        if not isinstance(quad.graph_name, ox.NamedNode):
            raise BadRequest("the remote store keeps every quad in a named graph")
        by_graph[quad.graph_name.value].append(quad)
    plain: list[ox.Quad] = []
    blank: list[ox.Quad] = []
    for graph, group in by_graph.items():
        if server.gsp_url and gsp_threshold and len(group) >= gsp_threshold:
            server.gsp_post(graph, [q.triple for q in group])
            continue
        for quad in group:
            has_blank = isinstance(quad.subject, ox.BlankNode) or isinstance(
                quad.object, ox.BlankNode
            )
            (blank if has_blank else plain).append(quad)
    for chunk in batched(plain, DATA_CHUNK):
        server.update("INSERT DATA { " + quads_text(chunk) + " }")
    for chunk in components(blank, TEMPLATE_CHUNK):
        server.update("INSERT { " + quads_text(chunk) + " } WHERE {}")
    return set(by_graph)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def components(quads: list[ox.Quad], size: int) -> Iterator[list[ox.Quad]]:
    """Quads packed into chunks of about ``size``, never splitting a blank-node component.

    A blank node is one node only within one INSERT template, so every quad that reaches it
    (through other blank nodes) must travel in the same request.
    """
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def find(node: ox.BlankNode) -> ox.BlankNode:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for quad in quads:
        nodes = [t for t in (quad.subject, quad.object) if isinstance(t, ox.BlankNode)]
        for other in nodes[1:]:
            parent[find(other)] = find(nodes[0])
    groups: dict[ox.BlankNode, list[ox.Quad]] = defaultdict(list)
    for quad in quads:
        node = quad.subject if isinstance(quad.subject, ox.BlankNode) else quad.object
        assert isinstance(node, ox.BlankNode)
        groups[find(node)].append(quad)
    chunk: list[ox.Quad] = []
    for group in groups.values():
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk.extend(group)
    if chunk:
        yield chunk
