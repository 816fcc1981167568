"""/sparql on a real server (live_server: 2 s timeout, 100 rows, 20,000 query bytes) with real
clients: SPARQLWrapper, rdflib's SPARQLStore, and raw httpx for the error cases.

Expected answers come from rdflib reading ontology/ and data/ directly, never from exmech.
Outbound requests are watched by a listener on 127.0.0.1 that accepts (with a timeout, in a
thread) and records every connection; a second server whose allow-list names the listener
proves the listener does see a SERVICE call when one is allowed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.dom.minidom import Document

import httpx
import pytest
import rdflib
from conftest import ROOT, Listener, LiveServer, serving, start_server, stop_server
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

pytestmark = [
    pytest.mark.live,
    pytest.mark.filterwarnings("ignore:.*(ConjunctiveGraph|default_context).*:DeprecationWarning"),
]

EXM = "https://w3id.org/exmech/ontology#"
NP = "http://www.nanopub.org/nschema#"
SD = "http://www.w3.org/ns/sparql-service-description#"
GRAPH = "https://w3id.org/exmech/id/graph/"
PREFIXES = f"PREFIX exm: <{EXM}>\nPREFIX np: <{NP}>\n"
THEMES = PREFIXES + "SELECT ?theme { ?theme a exm:Theme ; exm:inReview true }"
LISTINGS = (
    PREFIXES + "SELECT ?rank ?mechanism { ?l a exm:ReviewListing ; exm:rank ?rank ; "
    "exm:listedMechanism ?mechanism }"
)
THEME_GRAPH = PREFIXES + (
    "CONSTRUCT { ?t a exm:Theme ; exm:inReview ?in } WHERE { ?t a exm:Theme ; exm:inReview ?in }"
)
RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
MAX_ROWS, TIMEOUT, MAX_QUERY_BYTES = 100, 2.0, 20_000
SPARQL_QUERY = {"Content-Type": "application/sparql-query"}


def nonce() -> str:
    """A comment that makes a query text new to the answer cache."""
    return f"\n# {uuid.uuid4()}\n"


# Expected answers, from the files -------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> rdflib.Dataset:
    """ontology/ and data/ as docs/model.md says they load: a Turtle file into id/graph/<stem>
    (the ontology into id/graph/ontology), TriG files into their own graphs."""
    ds = rdflib.Dataset(default_union=True)
    names = {"exmech": "ontology", "shapes": "shapes"}
    for folder in ("ontology", "data"):
        for path in sorted((ROOT / folder).glob("*.ttl")):
            graph = rdflib.URIRef(GRAPH + names.get(path.stem, path.stem))
            ds.graph(graph).parse(path, format="turtle")
        for path in sorted((ROOT / folder).glob("*.trig")):
            ds.parse(path, format="trig")
    return ds


def rows_of(ds: rdflib.Dataset, query: str) -> set[tuple[str, ...]]:
    return {tuple(str(v) for v in row) for row in ds.query(query)}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def themes(shipped: rdflib.Dataset) -> set[str]:
    found = {row[0] for row in rows_of(shipped, THEMES)}
    assert len(found) == 5  # the review's five themes (docs/model.md)
    return found


@pytest.fixture(scope="module")
def listings(shipped: rdflib.Dataset) -> set[tuple[str, str]]:
    found = {(rank, mechanism) for rank, mechanism in rows_of(shipped, LISTINGS)}
    assert len(found) == 15  # ranks 1-15
    return found  # type: ignore[return-value]


@pytest.fixture(scope="module")
def all_triples(shipped: rdflib.Dataset) -> set[tuple[str, str, str]]:
    return {(str(s), str(p), str(o)) for s, p, o, _g in shipped.quads((None, None, None, None))}


@pytest.fixture(scope="module")
def claim(shipped: rdflib.Dataset) -> dict[str, Any]:
    """One shipped claim: its four graphs and its assertion's single triple."""
    name, _p, assertion, _g = sorted(
        shipped.quads((None, rdflib.URIRef(NP + "hasAssertion"), None, None))
    )[0]
    provenance = shipped.value(name, rdflib.URIRef(NP + "hasProvenance"))
    (triple,) = shipped.graph(assertion).triples((None, None, None))
    return {
        "claim": str(name),
        "assertion": str(assertion),
        "provenance": str(provenance),
        "triple": tuple(str(t) for t in triple),
    }


# Clients --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, built_state: Path
) -> Iterator[LiveServer]:
    """A server of this module's own: its tests kill query workers and count cache misses."""
    with serving(tmp_path_factory, built_state) as server:
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def wrapper(server: LiveServer, query: str, fmt: str, method: str | None = None) -> Any:
    client = SPARQLWrapper(server.sparql)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    if method:
        client.setMethod(method)
    return client.queryAndConvert()


def parse_results(body: bytes, content_type: str) -> list[dict[str, str]]:
    """Rows of a SPARQL results document of any format, values as strings."""
    kind = content_type.split(";")[0].strip()
    name = {
        "application/sparql-results+json": "json",
        "application/sparql-results+xml": "xml",
        "text/csv": "csv",
        "text/tab-separated-values": "tsv",
    }[kind]
    result = Result.parse(io.BytesIO(body), format=name)
    return [{str(k): str(v) for k, v in row.items()} for row in result.bindings]


# Protocol: three ways in, every format out ------------------------------------------------


def test_get_answers_the_five_review_themes(
    live_server: LiveServer, http: httpx.Client, themes: set[str]
) -> None:
    response = http.get(live_server.sparql, params={"query": THEMES})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/sparql-results+json"
    rows = response.json()["results"]["bindings"]
    assert {row["theme"]["value"] for row in rows} == themes
    assert response.headers["exmech-rows"] == "5"
    assert response.headers["exmech-truncated"] == "false"


def test_post_form_and_direct_post_answer_like_get(
    live_server: LiveServer, http: httpx.Client, listings: set[tuple[str, str]]
) -> None:
    query = LISTINGS + nonce()
    responses = [
        http.get(live_server.sparql, params={"query": query}),
        http.post(live_server.sparql, data={"query": query}),
        http.post(live_server.sparql, content=query.encode(), headers=SPARQL_QUERY),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        rows = response.json()["results"]["bindings"]
        assert {(r["rank"]["value"], r["mechanism"]["value"]) for r in rows} == listings


def _sparqlwrapper_rows(result: Any, fmt: str) -> set[tuple[str, str]]:
    if fmt == JSON:
        bindings = result["results"]["bindings"]
        return {(b["rank"]["value"], b["mechanism"]["value"]) for b in bindings}
    if fmt == XML:
        assert isinstance(result, Document)
        rows = set()
        for solution in result.getElementsByTagName("result"):
            values = {
                b.getAttribute("name"): b.firstChild.firstChild.data  # type: ignore[union-attr]
                for b in solution.getElementsByTagName("binding")
            }
            rows.add((values["rank"], values["mechanism"]))
        return rows
    text = result.decode("utf-8")
    if fmt == CSV:
        table = list(csv.DictReader(io.StringIO(text, newline="")))
        return {(r["rank"], r["mechanism"]) for r in table}
    assert text.splitlines()[0] == "?rank\t?mechanism"
    rows = parse_results(result, "text/tab-separated-values")
    return {(r["rank"], r["mechanism"]) for r in rows}


@pytest.mark.parametrize("method", [None, POST])
@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
def test_sparqlwrapper_select_in_every_results_format(
    live_server: LiveServer, listings: set[tuple[str, str]], fmt: str, method: str | None
) -> None:
    result = wrapper(live_server, LISTINGS, fmt, method)
    assert _sparqlwrapper_rows(result, fmt) == listings


@pytest.mark.parametrize("fmt", [JSON, XML])
def test_sparqlwrapper_ask(live_server: LiveServer, fmt: str) -> None:
    yes = wrapper(live_server, PREFIXES + "ASK { ?t a exm:Theme }", fmt)
    no = wrapper(live_server, PREFIXES + "ASK { ?t a exm:NoSuchClass }", fmt)
    if fmt == JSON:
        assert (yes["boolean"], no["boolean"]) == (True, False)
    else:
        answers = [d.getElementsByTagName("boolean")[0].firstChild.data for d in (yes, no)]
        assert answers == ["true", "false"]


def _theme_graph(shipped: rdflib.Dataset) -> set[tuple[str, str, str]]:
    graph = shipped.query(THEME_GRAPH).graph
    assert graph is not None and len(graph) >= 10  # five themes and "other", two facts each
    return {tuple(str(t) for t in triple) for triple in graph}  # type: ignore[misc]


@pytest.mark.parametrize("fmt", [TURTLE, N3, RDFXML, JSONLD])
def test_sparqlwrapper_construct_in_every_rdf_format(
    live_server: LiveServer, shipped: rdflib.Dataset, fmt: str
) -> None:
    result = wrapper(live_server, THEME_GRAPH, fmt)
    if isinstance(result, bytes):  # Turtle and N3 come back raw
        result = rdflib.Graph().parse(data=result, format="turtle")
    assert {tuple(str(t) for t in triple) for triple in result} == _theme_graph(shipped)


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [
        ("application/n-triples", "nt"),
        ("application/trig", "trig"),
        ("application/n-quads", "nquads"),
    ],
)
def test_construct_as_ntriples_trig_and_nquads(
    live_server: LiveServer,
    http: httpx.Client,
    shipped: rdflib.Dataset,
    accept: str,
    rdflib_format: str,
) -> None:
    response = http.get(
        live_server.sparql, params={"query": THEME_GRAPH}, headers={"Accept": accept}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    got = rdflib.Dataset()
    got.parse(data=response.content, format=rdflib_format)
    triples = {tuple(str(t) for t in (s, p, o)) for s, p, o, _g in got.quads()}
    assert triples == _theme_graph(shipped)


def test_describe_a_theme(
    live_server: LiveServer, http: httpx.Client, shipped: rdflib.Dataset, themes: set[str]
) -> None:
    theme = sorted(themes)[0]
    response = http.get(
        live_server.sparql,
        params={"query": f"DESCRIBE <{theme}>"},
        headers={"Accept": "text/turtle"},
    )
    got = rdflib.Graph().parse(data=response.content, format="turtle")
    expected = {
        (theme, str(p), str(o))
        for _s, p, o, _g in shipped.quads((rdflib.URIRef(theme), None, None, None))
    }
    assert {(str(s), str(p), str(o)) for s, p, o in got} == expected


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
def test_rdflib_sparqlstore(
    live_server: LiveServer,
    shipped: rdflib.Dataset,
    listings: set[tuple[str, str]],
    method: str,
) -> None:
    graph = rdflib.Graph(SPARQLStore(live_server.sparql, method=method))  # type: ignore[arg-type]
    rows = {tuple(str(v) for v in row) for row in graph.query(LISTINGS)}  # type: ignore[union-attr]
    assert rows == listings
    assert graph.query(PREFIXES + "ASK { ?t a exm:Theme }").askAnswer is True
    constructed = graph.query(THEME_GRAPH).graph
    assert constructed is not None
    assert {tuple(str(t) for t in triple) for triple in constructed} == _theme_graph(shipped)


# Datasets: default-graph-uri, named-graph-uri, FROM -------------------------------------

ALL = "SELECT ?s ?p ?o { ?s ?p ?o }"
GRAPHS_SEEN = "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }"


def _triples(response: httpx.Response) -> set[tuple[str, ...]]:
    assert response.status_code == 200, response.text
    rows = response.json()["results"]["bindings"]
    return {tuple(r[v]["value"] for v in ("s", "p", "o")) for r in rows}


def test_default_graph_uri_restricts_to_one_assertion(
    live_server: LiveServer, http: httpx.Client, claim: dict[str, Any]
) -> None:
    params = {"query": ALL, "default-graph-uri": claim["assertion"]}
    assert _triples(http.get(live_server.sparql, params=params)) == {claim["triple"]}
    posted = http.post(live_server.sparql, data=params)
    assert _triples(posted) == {claim["triple"]}
    direct = http.post(
        live_server.sparql,
        params={"default-graph-uri": claim["assertion"]},
        content=ALL.encode(),
        headers=SPARQL_QUERY,
    )
    assert _triples(direct) == {claim["triple"]}


def test_named_graph_uri_restricts_graph_patterns(
    live_server: LiveServer, http: httpx.Client, claim: dict[str, Any]
) -> None:
    params = [
        ("query", GRAPHS_SEEN),
        ("named-graph-uri", claim["assertion"]),
        ("named-graph-uri", claim["provenance"]),
    ]
    response = http.get(live_server.sparql, params=params)
    seen = {r["g"]["value"] for r in response.json()["results"]["bindings"]}
    assert seen == {claim["assertion"], claim["provenance"]}
    # Named graphs only: the default graph is empty.
    ask = [("query", "ASK { ?s ?p ?o }"), ("named-graph-uri", claim["assertion"])]
    assert http.get(live_server.sparql, params=ask).json()["boolean"] is False


def test_from_and_from_named_in_the_query(
    live_server: LiveServer, http: httpx.Client, claim: dict[str, Any]
) -> None:
    query = f"SELECT ?s ?p ?o FROM <{claim['assertion']}> {{ ?s ?p ?o }}"
    assert _triples(http.get(live_server.sparql, params={"query": query})) == {claim["triple"]}
    named = f"SELECT DISTINCT ?g FROM NAMED <{claim['provenance']}> {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    rows = http.get(live_server.sparql, params={"query": named}).json()["results"]["bindings"]
    assert [r["g"]["value"] for r in rows] == [claim["provenance"]]


def test_protocol_graphs_override_from(
    live_server: LiveServer, http: httpx.Client, claim: dict[str, Any], shipped: rdflib.Dataset
) -> None:
    provenance = {
        (str(s), str(p), str(o)) for s, p, o in shipped.graph(rdflib.URIRef(claim["provenance"]))
    }
    query = f"SELECT ?s ?p ?o FROM <{claim['assertion']}> {{ ?s ?p ?o }}"
    params = {"query": query, "default-graph-uri": claim["provenance"]}
    assert _triples(http.get(live_server.sparql, params=params)) == provenance


def test_real_clients_pass_graph_parameters(live_server: LiveServer, claim: dict[str, Any]) -> None:
    client = SPARQLWrapper(live_server.sparql)
    client.setQuery(ALL)
    client.setReturnFormat(JSON)
    client.addDefaultGraph(claim["assertion"])
    rows = client.queryAndConvert()["results"]["bindings"]  # type: ignore[index]
    assert [tuple(r[v]["value"] for v in "spo") for r in rows] == [claim["triple"]]

    store = SPARQLStore(live_server.sparql)
    graph = rdflib.Graph(store, identifier=rdflib.URIRef(claim["assertion"]))  # type: ignore[arg-type]
    assert [tuple(str(t) for t in row) for row in graph.query(ALL)] == [claim["triple"]]  # type: ignore[union-attr]


def test_a_turtle_file_is_its_own_graph(
    live_server: LiveServer, http: httpx.Client, shipped: rdflib.Dataset
) -> None:
    review = GRAPH + "review"
    expected = {(str(s), str(p), str(o)) for s, p, o in shipped.graph(rdflib.URIRef(review))}
    query = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    response = http.get(live_server.sparql, params={"query": query, "default-graph-uri": review})
    assert response.json()["results"]["bindings"][0]["n"]["value"] == str(len(expected))


# Negotiation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "accept", "content_type"),
    [
        ({}, None, "application/sparql-results+json"),
        ({}, "*/*", "application/sparql-results+json"),
        ({}, "text/csv;q=0.5, application/sparql-results+xml", "application/sparql-results+xml"),
        ({}, "text/*", "text/csv"),
        ({}, "text/tab-separated-values;q=0.9, text/csv;q=0.2", "text/tab-separated-values"),
        ({}, "application/sparql-results+json;q=0, */*;q=0.5", "application/sparql-results+xml"),
        ({"format": "tsv"}, "application/sparql-results+json", "text/tab-separated-values"),
        ({"format": "csv"}, None, "text/csv"),
    ],
)
def test_negotiation(
    live_server: LiveServer,
    http: httpx.Client,
    params: dict[str, str],
    accept: str | None,
    content_type: str,
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    response = http.get(live_server.sparql, params={"query": THEMES, **params}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert "Accept" in response.headers["vary"]
    assert len(parse_results(response.content, response.headers["content-type"])) == 5


@pytest.mark.parametrize(
    ("query", "accept"),
    [(THEMES, "image/png"), (THEMES, "text/turtle"), (THEME_GRAPH, "text/csv")],
)
def test_406_when_no_format_fits(
    live_server: LiveServer, http: httpx.Client, query: str, accept: str
) -> None:
    response = http.get(live_server.sparql, params={"query": query}, headers={"Accept": accept})
    assert response.status_code == 406
    assert accept in response.text and "available" in response.text
    assert "Accept" in response.headers["vary"]


# Errors: every bad input is a clear 4xx -----------------------------------------------------


@dataclass
class Bad:
    name: str
    status: int
    message: str
    method: str = "GET"
    params: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Callable[[], Iterator[bytes]] | None = None


BAD = [
    Bad("malformed", 400, r"syntax error at 1:19", params={"query": "SELECT * { ?s ?p }"}),
    Bad("empty query", 400, "empty", params={"query": ""}),
    Bad("only a comment", 400, "empty", params={"query": "# nothing to see\n"}),
    Bad("only a keyword", 400, "syntax error at 1:7", params={"query": "SELECT"}),
    Bad("NUL byte", 400, "syntax error", params={"query": "ASK {}\x00"}),
    Bad(
        "not UTF-8 in the body",
        400,
        "not UTF-8",
        "POST",
        headers=SPARQL_QUERY,
        body=b"ASK { ?s ?p '\xff' }",
    ),
    Bad("not UTF-8 in the URL", 400, "not UTF-8", params=b"query=ASK%20%7B%7D%FF"),
    Bad(
        "not UTF-8 in the form",
        400,
        "not UTF-8",
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"query=ASK%FF",
    ),
    Bad("format=bogus", 406, "format=bogus", params={"query": THEMES, "format": "bogus"}),
    Bad(
        "query in URL and form",
        400,
        "once",
        "POST",
        params={"query": THEMES},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"query=ASK%7B%7D",
    ),
    Bad(
        "query in URL and body",
        400,
        "once",
        "POST",
        params={"query": THEMES},
        headers=SPARQL_QUERY,
        body=b"ASK {}",
    ),
    Bad("two query parameters", 400, "exactly one", params=[("query", "ASK{}")] * 2),
    Bad(
        "two queries in a form",
        400,
        "exactly one",
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"query=ASK%7B%7D&query=ASK%7B%7D",
    ),
    Bad(
        "a form without a query",
        400,
        "exactly one",
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"format=json",
    ),
    Bad(
        "text/plain body",
        415,
        "text/plain",
        "POST",
        headers={"Content-Type": "text/plain"},
        body=b"ASK {}",
    ),
    Bad("no Content-Type", 415, "without Content-Type", "POST", params={"query": "ASK {}"}),
    Bad(
        "multipart body",
        415,
        "multipart/form-data",
        "POST",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        body=b"--x--",
    ),
    Bad("PUT", 405, "not allowed", "PUT", body=b"ASK {}"),
    Bad("update= in the URL", 403, "read-only", params={"update": "CLEAR ALL"}),
    Bad("update= beside query=", 403, "read-only", params={"query": "ASK {}", "update": "x"}),
    Bad(
        "update= in a form",
        403,
        "read-only",
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"update=CLEAR+ALL",
    ),
    Bad(
        "sparql-update body",
        403,
        "read-only",
        "POST",
        headers={"Content-Type": "application/sparql-update"},
        body=b"CLEAR ALL",
    ),
    Bad("an update as query=", 403, "read-only", params={"query": "DROP ALL"}),
    Bad(
        "too deeply nested",
        400,
        "deep",
        "POST",
        headers=SPARQL_QUERY,
        body=b"SELECT * WHERE " + b"{" * 3000 + b"}" * 3000,
    ),
    Bad(
        "too many nested calls",
        400,
        "deep",
        "POST",
        headers=SPARQL_QUERY,
        body=b"ASK { BIND(" + b"STR(" * 1000 + b"1" + b")" * 1000 + b" AS ?x) }",
    ),
    Bad(
        "too long a chain",
        400,
        "chains",
        "POST",
        headers=SPARQL_QUERY,
        body=b"SELECT*{" + b"OPTIONAL{?s ?p ?o}" * 1001 + b"}",
    ),
    Bad(
        "a graph that is not ours",
        403,
        "not a graph",
        params={"query": "ASK {}", "default-graph-uri": "not an iri"},
    ),
    Bad(
        "query over the size limit, direct POST",
        413,
        "20000",
        "POST",
        headers=SPARQL_QUERY,
        body=b"ASK {} #" + b"x" * MAX_QUERY_BYTES,
    ),
    Bad(
        "query over the size limit, form",
        413,
        "20000",
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"query=ASK%7B%7D%23" + b"x" * MAX_QUERY_BYTES,
    ),
    Bad(
        "query over the size limit, chunked",
        413,
        "20000",
        "POST",
        headers=SPARQL_QUERY,
        body=lambda: iter([b"ASK {} #", b"x" * MAX_QUERY_BYTES]),
    ),
    Bad("too many parameters", 400, "too many parameters", params=b"a=1&" * 1001 + b"query=ASK{}"),
    Bad("a URL too long for any server", 414, "", params={"query": "ASK {} #" + "x" * 9000}),
    Bad(
        "an Accept header no one could meet",
        406,
        "available",
        params={"query": "ASK {}"},
        headers={"Accept": ", ".join(f"x/y{i};q=0.{i % 9 + 1}" for i in range(500))},
    ),
    Bad(
        "an Accept header over the header limit",
        431,
        "",
        params={"query": "ASK {}"},
        headers={"Accept": "x/y, " * 2000 + "x/z"},
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_input_is_a_clear_4xx(live_server: LiveServer, http: httpx.Client, bad: Bad) -> None:
    body = bad.body() if callable(bad.body) else bad.body
    url = live_server.sparql
    if isinstance(bad.params, bytes):
        url, params = f"{url}?{bad.params.decode()}", None
    else:
        params = bad.params
    response = http.request(bad.method, url, params=params, headers=bad.headers, content=body)
    assert response.status_code == bad.status, response.text
    assert re.search(bad.message, response.text, re.IGNORECASE), response.text


@pytest.mark.parametrize("chunked", [False, True])
def test_a_query_of_exactly_the_size_limit_is_accepted(
    live_server: LiveServer, http: httpx.Client, chunked: bool
) -> None:
    query = b"ASK {} #"
    query += b"x" * (MAX_QUERY_BYTES - len(query))
    body = iter([query[:100], query[100:]]) if chunked else query
    response = http.post(live_server.sparql, content=body, headers=SPARQL_QUERY)
    assert response.status_code == 200, response.text
    assert response.json()["boolean"] is True


def test_malformed_query_reports_the_parsers_position(
    live_server: LiveServer, http: httpx.Client
) -> None:
    response = http.get(live_server.sparql, params={"query": "SELECT * {\n  ?s ?p\n}"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "at 3:" in response.text  # line 3: where the missing object was due
    with pytest.raises(QueryBadFormed, match="at 3:"):
        wrapper(live_server, "SELECT * {\n  ?s ?p\n}", JSON)


def test_get_with_a_body_ignores_the_body(
    live_server: LiveServer, http: httpx.Client, themes: set[str]
) -> None:
    response = http.request(
        "GET", live_server.sparql, params={"query": THEMES}, content=b"DROP ALL"
    )
    assert {r["theme"]["value"] for r in response.json()["results"]["bindings"]} == themes


def test_head(live_server: LiveServer, http: httpx.Client) -> None:
    response = http.head(live_server.sparql, params={"query": THEMES})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["exmech-rows"] == "5"


def test_405_says_what_is_allowed(live_server: LiveServer, http: httpx.Client) -> None:
    response = http.delete(live_server.sparql)
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}


# CORS -------------------------------------------------------------------------------------


def test_cors_on_get_post_errors_and_preflight(live_server: LiveServer, http: httpx.Client) -> None:
    origin = {"Origin": "https://example.org"}
    got = http.get(live_server.sparql, params={"query": THEMES}, headers=origin)
    posted = http.post(live_server.sparql, data={"query": THEMES}, headers=origin)
    failed = http.get(live_server.sparql, params={"query": "SELECT"}, headers=origin)
    for response in (got, posted, failed):
        assert response.headers["access-control-allow-origin"] == "*"
        assert "Exmech-Truncated" in response.headers["access-control-expose-headers"]
    preflight = http.options(
        live_server.sparql,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, accept",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"].lower()


# Service description ----------------------------------------------------------------------


def _description(response: httpx.Response, rdflib_format: str) -> rdflib.Graph:
    assert response.status_code == 200, response.text
    return rdflib.Graph().parse(data=response.content, format=rdflib_format)


def test_service_description_states_the_limits(live_server: LiveServer, http: httpx.Client) -> None:
    graph = _description(http.get(live_server.sparql, headers={"Accept": "text/turtle"}), "turtle")
    service = rdflib.URIRef(live_server.sparql)
    sd, exm = rdflib.Namespace(SD), rdflib.Namespace(EXM)
    assert (service, rdflib.RDF.type, sd.Service) in graph
    assert (service, sd.endpoint, service) in graph
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in graph
    assert graph.value(service, exm.queryTimeoutSeconds).toPython() == TIMEOUT  # type: ignore[union-attr]
    assert graph.value(service, exm.maxResultRows).toPython() == MAX_ROWS  # type: ignore[union-attr]
    assert graph.value(service, exm.maxQueryBytes).toPython() == MAX_QUERY_BYTES  # type: ignore[union-attr]
    assert set(graph.objects(service, sd.feature)) == {sd.UnionDefaultGraph}
    assert graph.value(service, exm.serviceAllowlist) is None
    formats = set(graph.objects(service, sd.resultFormat))
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_CSV", "Turtle", "RDF_XML", "JSON-LD"):
        assert rdflib.URIRef(f"http://www.w3.org/ns/formats/{name}") in formats


@pytest.mark.parametrize(
    ("accept", "params", "rdflib_format"),
    [
        ("application/ld+json", {}, "json-ld"),
        ("application/n-triples", {}, "nt"),
        ("application/rdf+xml", {}, "xml"),
        (None, {"format": "jsonld"}, "json-ld"),
    ],
)
def test_service_description_in_other_formats(
    live_server: LiveServer,
    http: httpx.Client,
    accept: str | None,
    params: dict[str, str],
    rdflib_format: str,
) -> None:
    turtle = _description(http.get(live_server.sparql), "turtle")
    headers = {"Accept": accept} if accept else {}
    other = _description(
        http.get(live_server.sparql, params=params, headers=headers), rdflib_format
    )
    assert isomorphic(turtle, other)


def test_service_description_page_for_browsers(live_server: LiveServer, http: httpx.Client) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = http.get(live_server.sparql, headers={"Accept": browser})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<textarea" in page and "20000 bytes" in page and ">100<" in page
    assert "Accept" in response.headers["vary"]


def test_service_description_406(live_server: LiveServer, http: httpx.Client) -> None:
    response = http.get(live_server.sparql, headers={"Accept": "image/png"})
    assert response.status_code == 406


# Limits: rows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    ],
)
def test_select_is_truncated_to_max_rows_in_every_format(
    live_server: LiveServer,
    http: httpx.Client,
    all_triples: set[tuple[str, str, str]],
    accept: str,
) -> None:
    assert len(all_triples) > MAX_ROWS
    response = http.get(live_server.sparql, params={"query": ALL}, headers={"Accept": accept})
    assert response.headers["exmech-truncated"] == "true"
    assert response.headers["exmech-rows"] == str(MAX_ROWS)
    rows = parse_results(response.content, response.headers["content-type"])
    assert len(rows) == MAX_ROWS
    # Subjects and predicates only: literals' lexical forms differ between parsers.
    assert {(r["s"], r["p"]) for r in rows} <= {(s, p) for s, p, _o in all_triples}


def test_truncation_keeps_the_first_rows_in_order(
    live_server: LiveServer, http: httpx.Client, shipped: rdflib.Dataset
) -> None:
    claims = sorted(
        str(s)
        for s, _p, _o, _g in shipped.quads((None, rdflib.RDF.type, rdflib.URIRef(EXM + "Claim")))
    )
    assert len(claims) > MAX_ROWS
    query = PREFIXES + "SELECT ?c { ?c a exm:Claim } ORDER BY ?c"
    for limit, truncated in ((MAX_ROWS, "false"), (MAX_ROWS + 1, "true"), (None, "true")):
        text = query + (f" LIMIT {limit}" if limit else "")
        response = http.get(live_server.sparql, params={"query": text})
        got = [r["c"]["value"] for r in response.json()["results"]["bindings"]]
        assert got == claims[:MAX_ROWS]
        assert response.headers["exmech-truncated"] == truncated


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [
        ("application/n-triples", "nt"),
        ("text/turtle", "turtle"),
        ("application/rdf+xml", "xml"),
        ("application/ld+json", "json-ld"),
    ],
)
def test_construct_is_truncated_to_max_rows_triples(
    live_server: LiveServer,
    http: httpx.Client,
    all_triples: set[tuple[str, str, str]],
    accept: str,
    rdflib_format: str,
) -> None:
    response = http.get(
        live_server.sparql,
        params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
        headers={"Accept": accept},
    )
    assert response.headers["exmech-truncated"] == "true"
    graph = rdflib.Graph().parse(data=response.content, format=rdflib_format)
    assert len(graph) == MAX_ROWS
    assert {(str(s), str(p), str(o)) for s, p, o in graph} <= all_triples


# Caching ----------------------------------------------------------------------------------


def test_repeated_queries_hit_the_cache_keyed_by_format_and_graphs(
    live_server: LiveServer, http: httpx.Client, claim: dict[str, Any]
) -> None:
    query = ALL + nonce()

    def ask(accept: str = "application/sparql-results+json", **params: str) -> httpx.Response:
        response = http.get(
            live_server.sparql, params={"query": query, **params}, headers={"Accept": accept}
        )
        assert response.status_code == 200
        return response

    first, second = ask(), ask()
    assert (first.headers["exmech-cache"], second.headers["exmech-cache"]) == ("miss", "hit")
    assert second.content == first.content
    assert second.headers["exmech-truncated"] == first.headers["exmech-truncated"] == "true"
    assert ask("text/csv").headers["exmech-cache"] == "miss"
    assert ask("text/csv").headers["exmech-cache"] == "hit"
    # Same format asked another way is the same answer.
    assert ask("*/*", format="csv").headers["exmech-cache"] == "hit"
    graph = {"default-graph-uri": claim["assertion"]}
    assert ask(**graph).headers["exmech-cache"] == "miss"
    assert ask(**graph).headers["exmech-cache"] == "hit"
    named = {"named-graph-uri": claim["assertion"]}
    assert ask(**named).headers["exmech-cache"] == "miss"


# Safety: timeouts -------------------------------------------------------------------------


@dataclass
class Timed:
    response: httpx.Response
    seconds: float
    finished: float


def timed_get(url: str, query: str) -> Timed:
    started = time.monotonic()
    response = httpx.get(url, params={"query": query}, timeout=30)
    finished = time.monotonic()
    return Timed(response, finished - started, finished)


def in_threads(calls: dict[str, Callable[[], Timed]]) -> dict[str, Timed]:
    results: dict[str, Timed] = {}

    def run(name: str, call: Callable[[], Timed]) -> None:
        results[name] = call()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_a_runaway_query_is_stopped_while_others_are_answered(
    live_server: LiveServer, themes: set[str], listings: set[tuple[str, str]]
) -> None:
    url = live_server.sparql
    runaway: dict[str, Timed] = {}
    thread = threading.Thread(target=lambda: runaway.update(slow=timed_get(url, RUNAWAY + nonce())))
    thread.start()
    time.sleep(0.5)  # let it take a worker before the others arrive
    others = in_threads(
        {
            f"{name}-{i}": (lambda q=query: timed_get(url, q + nonce()))
            for i in range(3)
            for name, query in (("themes", THEMES), ("listings", LISTINGS))
        }
    )
    thread.join(timeout=60)
    slow = runaway["slow"]

    assert slow.response.status_code == 503
    assert "timeout" in slow.response.text and "stopped" in slow.response.text
    assert slow.seconds < TIMEOUT + 2
    assert len(others) == 6
    for name, other in others.items():
        assert other.response.status_code == 200, other.response.text
        assert other.finished < slow.finished, name
        rows = other.response.json()["results"]["bindings"]
        if name.startswith("themes"):
            assert {r["theme"]["value"] for r in rows} == themes
        else:
            assert {(r["rank"]["value"], r["mechanism"]["value"]) for r in rows} == listings


def test_killed_workers_are_replaced(live_server: LiveServer, themes: set[str]) -> None:
    url = live_server.sparql
    # As many runaways as the server has workers (two): each worker is killed at the deadline.
    stopped = in_threads({f"slow-{i}": lambda: timed_get(url, RUNAWAY + nonce()) for i in range(2)})
    assert [t.response.status_code for t in stopped.values()] == [503, 503]
    for _ in range(3):
        after = timed_get(url, THEMES + nonce())
        assert after.response.status_code == 200, after.response.text
        assert {r["theme"]["value"] for r in after.response.json()["results"]["bindings"]} == themes


# Safety: no outbound requests ---------------------------------------------------------------

CANNED = json.dumps(
    {
        "head": {"vars": ["x"]},
        "results": {"bindings": [{"x": {"type": "literal", "value": "from the listener"}}]},
    }
).encode()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    opened = Listener(CANNED)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def federated(
    tmp_path_factory: pytest.TempPathFactory, built_state: Path, listener: Listener
) -> Iterator[LiveServer]:
    """A second server whose SERVICE allow-list names the listener's /allowed/ path."""
    base = tmp_path_factory.mktemp("federated")
    shutil.copytree(built_state, base / "state")
    server = start_server(
        base / "state",
        base / "server.log",
        EXMECH_QUERY_TIMEOUT="2",
        EXMECH_SERVICE_ALLOWLIST=f"{listener.url}/allowed/",
    )
    try:
        yield server
    finally:
        stop_server(server)


def _outbound(url: str, port: int) -> list[tuple[str, str, Any, dict[str, str], bytes | None]]:
    """(name, method, params, headers, body) of requests that would reach ``url``."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bgp = "{ ?s ?p ?o }"
    queries = {
        "SERVICE": f"SELECT * {{ SERVICE <{url}> {bgp} }}",
        "lower-case service": f"select * {{ service <{url}> {bgp} }}",
        "SERVICE SILENT": f"SELECT * {{ SERVICE SILENT <{url}> {bgp} }}",
        "\\u0053ERVICE": f"SELECT * {{ \\u0053ERVICE <{url}> {bgp} }}",
        "escaped IRI": f"SELECT * {{ SERVICE <http\\u003A//127.0.0.1:{port}/x> {bgp} }}",
        "SERVICE ?var bound by VALUES": f"SELECT * {{ VALUES ?e {{ <{url}> }} SERVICE ?e {bgp} }}",
        "SERVICE ?var bound by BIND": f"SELECT * {{ BIND(<{url}> AS ?e) SERVICE ?e {bgp} }}",
        "prefixed name": f"PREFIX r: <http://127.0.0.1:{port}/> SELECT * {{ SERVICE r:x {bgp} }}",
        "relative to BASE": f"BASE <http://127.0.0.1:{port}/> SELECT * {{ SERVICE <x> {bgp} }}",
        "in a subquery": f"SELECT * {{ {{ SELECT ?s {{ SERVICE <{url}> {bgp} }} }} }}",
        "in CONSTRUCT": f"CONSTRUCT WHERE {{ SERVICE <{url}> {bgp} }}",
        "hidden from one reading of escapes": (
            f'ASK {{ FILTER(?x = "\\u0022") SERVICE <{url}> {{ }} FILTER(?y = "\\u0022") }}'
        ),
        "LOAD": f"LOAD <{url}>",
        "FROM": f"SELECT * FROM <{url}> {bgp}",
        "FROM NAMED": f"SELECT * FROM NAMED <{url}> {{ GRAPH ?g {bgp} }}",
    }
    cases = [(name, "GET", {"query": q}, {}, None) for name, q in queries.items()]
    cases += [
        ("POST form", "POST", None, form, f"query=SELECT * {{ SERVICE <{url}> {bgp} }}".encode()),
        ("update= LOAD", "POST", None, form, f"update=LOAD <{url}>".encode()),
        (
            "sparql-update LOAD",
            "POST",
            None,
            {"Content-Type": "application/sparql-update"},
            f"LOAD <{url}>".encode(),
        ),
        ("default-graph-uri", "GET", {"query": "ASK {}", "default-graph-uri": url}, {}, None),
        ("named-graph-uri", "GET", {"query": "ASK {}", "named-graph-uri": url}, {}, None),
    ]
    return cases


OUTBOUND_NAMES = [case[0] for case in _outbound("http://x", 1)]


@pytest.mark.parametrize("name", OUTBOUND_NAMES)
def test_no_outbound_connection(
    live_server: LiveServer, http: httpx.Client, listener: Listener, name: str
) -> None:
    cases = {case[0]: case for case in _outbound(f"{listener.url}/sparql", listener.port)}
    _name, method, params, headers, body = cases[name]
    before = len(listener.requests)
    response = http.request(
        method, live_server.sparql, params=params, headers=headers, content=body
    )
    assert response.status_code in (400, 403), response.text
    assert any(word in response.text for word in ("SERVICE", "read-only", "not a graph"))
    assert listener.settled() == before


def test_an_allowed_service_is_called_and_others_are_not(
    federated: LiveServer, listener: Listener
) -> None:
    # A client of its own: a kept-alive connection would hold up the server's shutdown.
    http = httpx.Client(timeout=30, headers={"Connection": "close"})
    before = listener.settled()
    allowed = f"SELECT ?x {{ SERVICE <{listener.url}/allowed/sparql> {{ ?x ?p ?o }} }}"
    response = http.get(federated.sparql, params={"query": allowed})
    assert response.status_code == 200, response.text
    assert response.json()["results"]["bindings"] == [
        {"x": {"type": "literal", "value": "from the listener"}}
    ]
    assert listener.settled() == before + 1  # the listener does see an allowed call

    for target in (f"{listener.url}/allowedx/sparql", f"{listener.url}/other"):
        refused = http.get(
            federated.sparql, params={"query": f"ASK {{ SERVICE <{target}> {{ }} }}"}
        )
        assert refused.status_code == 403, refused.text
    refused = http.get(federated.sparql, params={"query": "ASK { SERVICE ?e { } }"})
    assert refused.status_code == 403
    assert listener.settled() == before + 1


def test_federation_is_advertised_only_with_an_allowlist(
    live_server: LiveServer, federated: LiveServer, listener: Listener
) -> None:
    http = httpx.Client(timeout=30, headers={"Connection": "close"})
    sd = rdflib.Namespace(SD)
    features = {}
    for server in (live_server, federated):
        graph = _description(http.get(server.sparql, headers={"Accept": "text/turtle"}), "turtle")
        service = rdflib.URIRef(server.sparql)
        features[server.url] = set(graph.objects(service, sd.feature))
        if server is federated:
            listed = graph.objects(service, rdflib.URIRef(EXM + "serviceAllowlist"))
            allow = {str(o) for o in listed}
            assert allow == {f"{listener.url}/allowed/"}
    assert sd.BasicFederatedQuery not in features[live_server.url]
    assert sd.BasicFederatedQuery in features[federated.url]
