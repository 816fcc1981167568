"""/api answers as compact JSON-LD, over real HTTP against a live server: every question reads
as the JSON answer's own keys with plain values; pyld and rdflib read the same RDF from it; the
RDF terms are the ones the SPARQL endpoint gives for the same question; the expanded form is
there when asked for; the context is published at its versioned IRI."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from conftest import LiveServer
from exmech import formats, provenance, vocab
from exmech.provenance import linked
from pyld import jsonld
from rdflib.compare import isomorphic
from test_api import EXAMPLES

pytestmark = pytest.mark.live

LD = "application/ld+json"
RS = rdflib.Namespace(linked.RS)
API = rdflib.Namespace(linked.API)
CONTEXT_PATH = f"/api/{vocab.RELEASE}/context.jsonld"


def get(server: LiveServer, path: str, accept: str = LD, **params: str) -> httpx.Response:
    # (params only when given: httpx would replace the query string of ``path`` with them)
    response = httpx.get(
        server.url + path, headers={"Accept": accept}, params=params or None, timeout=60
    )
    assert response.status_code == 200, (path, response.text[:300])
    return response


def loader(server: LiveServer) -> Any:
    """pyld's document loader: the published context IRI, fetched from this server only."""

    def load(url: str, options: Any = None) -> dict[str, Any]:
        assert url == linked.context_iri(), f"pyld asked for {url}"
        body = get(server, CONTEXT_PATH).json()
        return {"contentType": LD, "contextUrl": None, "documentUrl": url, "document": body}

    return load


@pytest.fixture(scope="module")
def answers(live_server: LiveServer) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every question's (JSON answer, compacted JSON-LD answer)."""
    return {
        name: (get(live_server, path, "application/json").json(), get(live_server, path).json())
        for name, path in EXAMPLES.items()
    }


def plain(value: Any) -> Any:
    """A JSON answer's value as the compacted JSON-LD gives it (a decimal as its text)."""
    return str(value) if isinstance(value, float) else value


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_answer_reads_as_the_json_keys_with_plain_values(name: str, answers) -> None:
    body, doc = answers[name]
    assert doc["@context"] == linked.context_iri()
    assert doc["@type"] == "ResultSet"
    assert doc["count"] == body["count"] == len(doc["rows"]) == len(body["rows"])
    for key in ("question", "query_name", "query", "dataset", "generation", "truncated"):
        assert doc[key] == body[key], key
    assert doc["sparql_url"] == vocab.BASE + body["sparql_url"]
    assert doc.get("bindings", {}) == {k: v["value"] for k, v in body["bindings"].items()}
    for index, (row, ld_row) in enumerate(zip(body["rows"], doc["rows"], strict=True), start=1):
        assert ld_row["@type"] == "ResultSolution" and ld_row["index"] == index
        assert ld_row.get("nanopublications", []) == row["nanopublications"]
        for column, value in row.items():
            if column != "nanopublications":
                # every value a plain JSON value: the context's coercions cover every column
                assert ld_row.get(column) == plain(value), (column, ld_row.get(column), value)


def rows_of_graph(graph: rdflib.Graph) -> set[frozenset[tuple[str, rdflib.term.Node]]]:
    """Each row node's column values, as a set of (column, term) pairs."""
    rows = set()
    for node in graph.subjects(rdflib.RDF.type, RS.ResultSolution):
        rows.add(
            frozenset(
                (str(p).removeprefix(str(API)), o)
                for p, o in graph.predicate_objects(node)
                if str(p).startswith(str(API))
            )
        )
    return rows


def to_rdflib(term: dict[str, str]) -> rdflib.term.Node:
    if term["type"] == "uri":
        return rdflib.URIRef(term["value"])
    if "xml:lang" in term:
        return rdflib.Literal(term["value"], lang=term["xml:lang"])
    datatype = term.get("datatype")
    return rdflib.Literal(term["value"], datatype=rdflib.URIRef(datatype) if datatype else None)


@pytest.mark.parametrize(
    "name", ["mechanism-claims", "evidence-map", "theme-frequencies", "claim-history", "doi-claims"]
)
def test_pyld_and_rdflib_read_the_sparql_endpoints_terms(
    live_server: LiveServer, name: str, answers
) -> None:
    """Two readers give the same RDF, and its rows hold exactly the terms /sparql gives for the
    same question (IRIs, language tags, datatypes), not values guessed back from JSON."""
    body, doc = answers[name]
    nquads = jsonld.to_rdf(
        doc, {"format": "application/n-quads", "documentLoader": loader(live_server)}
    )
    by_pyld = rdflib.Graph().parse(data=nquads, format="nquads")
    inline = {**doc, "@context": get(live_server, CONTEXT_PATH).json()["@context"]}
    by_rdflib = rdflib.Graph().parse(data=json.dumps(inline), format="json-ld")
    assert len(by_pyld) == len(by_rdflib) > 0
    assert isomorphic(by_pyld, by_rdflib)
    # The same question on the SPARQL endpoint, through the answer's own link.
    sparql = get(live_server, body["sparql_url"], "application/sparql-results+json").json()
    expected = {
        frozenset(
            (column, to_rdflib(term)) for column, term in binding.items() if column != "claims"
        )
        for binding in sparql["results"]["bindings"]
    }
    assert rows_of_graph(by_rdflib) == expected
    (answer,) = by_rdflib.subjects(rdflib.RDF.type, RS.ResultSet)
    assert by_rdflib.value(answer, RS.size).toPython() == body["count"]
    derived = {
        str(o) for o in by_rdflib.objects(None, rdflib.URIRef(vocab.PROV + "wasDerivedFrom"))
    }
    assert derived == {n for row in body["rows"] for n in row["nanopublications"]}


@pytest.mark.parametrize(
    ("accept", "params"),
    [(LD, {"profile": "expanded"}), (f'{LD};profile="{formats.JSONLD_EXPANDED}"', {})],
)
def test_the_expanded_form_is_there_when_asked_for(
    live_server: LiveServer, accept: str, params: dict[str, str], answers
) -> None:
    path = EXAMPLES["mechanism-claims"]
    response = get(live_server, path, accept, **params)
    assert response.headers["content-type"] == f'{LD}; profile="{formats.JSONLD_EXPANDED}"'
    expanded = response.json()
    (node,) = expanded
    assert node["@type"] == [linked.RS + "ResultSet"]
    compact = jsonld.compact(
        expanded, linked.context_iri(), {"documentLoader": loader(live_server)}
    )
    compact["@context"] = linked.context_iri()
    assert compact == answers["mechanism-claims"][1]


def test_negotiation_keeps_json_the_default(live_server: LiveServer) -> None:
    path = EXAMPLES["evidence-map"]
    for accept, params, expected in [
        ("*/*", {}, "application/json"),
        ("application/json", {}, "application/json"),
        ("application/ld+json, application/json;q=0.5", {}, LD),
        ("text/html", {"format": "jsonld"}, LD),
        (LD, {"format": "json"}, "application/json"),
    ]:
        response = get(live_server, path, accept, **params)
        assert response.headers["content-type"].split(";")[0] == expected, (accept, params)
        assert "Accept" in response.headers["vary"]
    for accept, params in [("text/html", {}), (LD, {"format": "xml"})]:
        refused = httpx.get(
            live_server.url + path, headers={"Accept": accept}, params=params, timeout=30
        )
        assert refused.status_code == 406
        assert "application/ld+json (format=jsonld)" in refused.json()["error"]


def test_the_context_is_published_at_its_versioned_iri(live_server: LiveServer) -> None:
    response = get(live_server, CONTEXT_PATH, "*/*")
    assert response.headers["content-type"] == LD
    assert response.headers["access-control-allow-origin"] == "*"
    context = response.json()["@context"]
    assert context["@vocab"] == linked.API
    assert context["rows"]["@id"] == linked.RS + "solution"
    assert httpx.get(live_server.url + "/api/0.1.0/context.jsonld").status_code == 404
    assert linked.context_iri().startswith(vocab.BASE + "/api/")
    # the result-set terms are the W3C vocabulary's, nothing invented in its namespace
    used = {v["@id"] for v in context.values() if isinstance(v, dict) and "@id" in v}
    assert {u.removeprefix(linked.RS) for u in used if u.startswith(linked.RS)} == {
        "ResultSet",
        "ResultSolution",
        "solution",
        "index",
        "size",
        "resultVariable",
    }


def test_openapi_lists_json_ld(live_server: LiveServer) -> None:
    doc = get(live_server, "/api/openapi.json", "application/json").json()
    for question in provenance.QUESTIONS:
        operation = doc["paths"][f"/api{question.path}"]["get"]
        assert LD in operation["responses"]["200"]["content"], question.name
        assert {"format", "profile"} <= {p["name"] for p in operation["parameters"]}
    assert CONTEXT_PATH in doc["paths"]
    ox.NamedNode(linked.context_iri())  # a valid IRI
