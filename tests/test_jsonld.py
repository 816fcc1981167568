"""Compact JSON-LD: the published context, /id/ resources compacted with it, the expanded
form on request, and round trips through two independent readers (pyld, rdflib) that must
give back exactly the server's own N-Quads. Over real HTTP, against a live server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from conftest import ROOT, LiveServer
from exmech import vocab
from exmech.linked_data import context
from pyld import jsonld

pytestmark = pytest.mark.live

CONTEXT_IRI = context.context_iri()
RESOURCES = [
    "/id/mechanism/motor-control",
    "/id/theme/psychosocial",
    "/id/exercise/yoga",
    "/id/study/aasa-2015",
    "/id/study/wun-2021",
    "/id/claim/edbee72d3a071e03ea2a",
    "/id/curator/exmech-import",
    "/id/graph/edbee72d3a071e03ea2a-provenance",
]
LD = "application/ld+json"


def get(server: LiveServer, path: str, accept: str = LD) -> httpx.Response:
    response = httpx.get(server.url + path, headers={"Accept": accept}, timeout=30)
    assert response.status_code == 200, (path, response.text[:300])
    return response


def loader(server: LiveServer) -> Any:
    """pyld's document loader: the published context IRI, fetched from this server only."""

    def load(url: str, options: Any = None) -> dict[str, Any]:
        assert url == CONTEXT_IRI, f"pyld asked for {url}"
        body = get(server, f"/ontology/{context.ONTOLOGY_VERSION}/context.jsonld").json()
        return {"contentType": LD, "contextUrl": None, "documentUrl": url, "document": body}

    return load


def server_quads(server: LiveServer, path: str) -> set[str]:
    body = get(server, path, "application/n-quads").content
    return {str(q) for q in ox.parse(body, format=ox.RdfFormat.N_QUADS)}


def test_the_context_is_versioned_with_the_ontology(live_server: LiveServer) -> None:
    ontology = rdflib.Graph().parse(ROOT / "ontology" / "exmech.ttl")
    (info,) = ontology.objects(rdflib.URIRef(vocab.ONTOLOGY), rdflib.OWL.versionInfo)
    assert str(info) == context.ONTOLOGY_VERSION
    (version_iri,) = ontology.objects(rdflib.URIRef(vocab.ONTOLOGY), rdflib.OWL.versionIRI)
    assert CONTEXT_IRI == f"{version_iri}/context.jsonld"
    current = get(live_server, "/ontology/context.jsonld")
    versioned = get(live_server, f"/ontology/{info}/context.jsonld")
    assert current.content == versioned.content
    assert current.headers["content-type"] == LD
    assert versioned.json()["@context"]["prefLabel"] == vocab.SKOS + "prefLabel"
    gone = httpx.get(live_server.url + "/ontology/0.0.9/context.jsonld")
    assert gone.status_code == 404 and f"{context.ONTOLOGY_VERSION} (current)" in gone.text


def test_a_mechanism_reads_as_plain_names(live_server: LiveServer) -> None:
    response = get(live_server, "/id/mechanism/motor-control")
    assert response.headers["content-type"] == f'{LD}; profile="{context.COMPACTED_PROFILE}"'
    doc = response.json()
    assert doc["@context"] == CONTEXT_IRI
    assert doc["@id"] == "https://w3id.org/exmech/id/mechanism/motor-control"
    assert doc["@type"] == "Mechanism"
    assert doc["prefLabel"] == {"@language": "en", "@value": "Motor control"}  # tagged data
    assert doc["inTheme"] == "https://w3id.org/exmech/id/theme/neuromuscular"


@pytest.mark.parametrize("path", RESOURCES)
def test_pyld_reads_back_exactly_the_servers_quads(live_server: LiveServer, path: str) -> None:
    doc = get(live_server, path).json()
    assert doc["@context"] == CONTEXT_IRI
    nquads = jsonld.to_rdf(
        doc, {"format": "application/n-quads", "documentLoader": loader(live_server)}
    )
    read = {str(q) for q in ox.parse(nquads.encode(), format=ox.RdfFormat.N_QUADS)}
    assert read == server_quads(live_server, path)


@pytest.mark.parametrize("path", RESOURCES)
def test_rdflib_reads_back_the_same_graphs(live_server: LiveServer, path: str) -> None:
    doc = get(live_server, path).json()
    doc["@context"] = get(live_server, "/ontology/context.jsonld").json()["@context"]
    from_jsonld = rdflib.Dataset()
    from_jsonld.parse(data=json.dumps(doc), format="json-ld")
    from_nquads = rdflib.Dataset()
    from_nquads.parse(data=get(live_server, path, "application/n-quads").text, format="nquads")
    as_set = lambda ds: {(s, p, o, str(g)) for s, p, o, g in ds.quads()}  # noqa: E731
    assert as_set(from_jsonld) == as_set(from_nquads)


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("?profile=expanded", LD),
        ("", f'{LD};profile="{context.EXPANDED_PROFILE}"'),
    ],
)
def test_the_expanded_form_is_there_when_asked_for(
    live_server: LiveServer, query: str, accept: str
) -> None:
    path = "/id/mechanism/motor-control"
    response = get(live_server, path + query, accept)
    assert response.headers["content-type"] == f'{LD}; profile="{context.EXPANDED_PROFILE}"'
    expanded = response.json()
    assert isinstance(expanded, list)
    (node,) = expanded
    assert node[vocab.SKOS + "prefLabel"] == [{"@value": "Motor control", "@language": "en"}]
    # Compacting it again with the published context gives the compacted answer.
    compact = jsonld.compact(expanded, CONTEXT_IRI, {"documentLoader": loader(live_server)})
    compact["@context"] = CONTEXT_IRI
    assert compact == get(live_server, path).json()


def test_every_object_property_of_the_ontology_compacts_to_a_plain_iri() -> None:
    """The context's IRI-valued list is the ontology's owl:ObjectProperty terms, no more, no less.

    A new object property missing from the list would compact to {"@id": ...} objects.
    """
    ontology = rdflib.Graph().parse(ROOT / "ontology" / "exmech.ttl")
    declared = {
        str(term).removeprefix(vocab.EXM)
        for term in ontology.subjects(rdflib.RDF.type, rdflib.OWL.ObjectProperty)
        if str(term).startswith(vocab.EXM)
    }
    assert declared == set(context.EXM_IRI_VALUED)
    for name in declared:
        assert context.context()[name] == {"@id": vocab.EXM + name, "@type": "@id"}
