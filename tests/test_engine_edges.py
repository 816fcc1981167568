"""Queries people type that the engine used to get wrong, against a live server.

ORDER BY over mixed terms (docs/upstream.md), a query that kills its worker, relative IRIs,
a protocol dataset beside FROM, unknown extension functions, and ``/sparql/``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from conftest import LiveServer, serving
from test_ordering import assert_sparql_order, rank

pytestmark = pytest.mark.live
JSON = {"Accept": "application/sparql-results+json"}
RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
BASE = "https://w3id.org/exmech/"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, built_state: Path
) -> Iterator[LiveServer]:
    """A server of this module's own: its tests kill query workers and read the server's log."""
    with serving(tmp_path_factory, built_state) as server:
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def rows(response: httpx.Response) -> list[dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]]:
    assert response.status_code == 200, response.text
    solutions = ox.parse_query_results(response.content, ox.QueryResultsFormat.JSON)
    variables = [v.value for v in solutions.variables]
    return [{v: row[v] for v in variables if row[v] is not None} for row in solutions]


def ask(http: httpx.Client, url: str, query: str, **params: str) -> httpx.Response:
    return http.get(url, params={"query": query, **params}, headers=JSON)


def test_order_by_over_every_kind_of_object_answers_in_sparql_order(
    live_server: LiveServer, http: httpx.Client
) -> None:
    first = rows(ask(http, live_server.sparql, "SELECT * { ?s ?p ?o } ORDER BY ?o LIMIT 5"))
    assert len(first) == 5
    for direction in ("", "DESC"):
        query = f"SELECT ?o {{ ?s ?p ?o }} ORDER BY {direction}(?o)"
        response = ask(http, live_server.sparql, query)
        assert response.headers["Exmech-Truncated"] == "true"  # 100 of ~6,000 rows
        terms = [row["o"] for row in rows(response)]
        assert_sparql_order(terms if direction == "" else terms[::-1])
        if direction == "":
            assert [rank(t) for t in terms[:5]] == [rank(r["o"]) for r in first]
    mixed = " ".join(f'{i} "{i}" "2020-01-0{i % 9 + 1}T00:00:00"^^xsd:dateTime' for i in range(40))
    query = (
        "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> "
        f"SELECT ?o {{ VALUES ?o {{ {mixed} }} }} ORDER BY ?o"
    )
    terms = [row["o"] for row in rows(ask(http, live_server.sparql, query))]
    assert len(terms) == 100
    assert_sparql_order(terms)
    assert "worker died" not in live_server.output()


def query_workers(server: LiveServer) -> list[int]:
    """Pids of the server's query worker processes (spawned multiprocessing children)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, found = {server.process.pid}, True
    while found:
        found = False
        for pid, parent in parents.items():
            if parent in family and pid not in family:
                family.add(pid)
                found = True
    workers = []
    for pid in family:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(pid)
    return workers


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def test_a_query_that_kills_its_worker_is_refused_when_repeated(
    live_server: LiveServer, http: httpx.Client
) -> None:
    """The worker running a query dies (as under the kernel's OOM killer); the same query,
    spelled differently, is then refused at once instead of killing another worker."""
    query = RUNAWAY + f"\n# {uuid.uuid4()}\n"
    answer: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: answer.update(r=ask(http, live_server.sparql, query)))
    thread.start()
    time.sleep(0.4)
    before = {pid: cpu_ticks(pid) for pid in query_workers(live_server)}
    time.sleep(0.4)
    busiest = max(before, key=lambda pid: cpu_ticks(pid) - before[pid])
    os.kill(busiest, signal.SIGKILL)
    thread.join(timeout=30)
    died = answer["r"]
    assert died.status_code == 503, died.text
    assert "worker died" in died.text and "refused from now on" in died.text

    respelled = "select (count(*) as ?n)\n{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }  # again"
    started = time.monotonic()
    refused = ask(http, live_server.sparql, respelled)
    assert refused.status_code == 422, refused.text
    assert "crashed a query worker" in refused.text and "docs/upstream.md" in refused.text
    assert time.monotonic() - started < 1.5  # at once: not run (the runaway would take 2 s)
    alive = ask(http, live_server.sparql, "ASK { ?s ?p ?o }")
    assert alive.status_code == 200 and alive.json()["boolean"] is True


def test_relative_iris_resolve_against_the_endpoint_iri(
    live_server: LiveServer, http: httpx.Client
) -> None:
    built = http.get(
        live_server.sparql,
        params={"query": "CONSTRUCT { <s> <p> 1 } WHERE {}"},
        headers={"Accept": "application/n-triples"},
    )
    assert built.status_code == 200, built.text
    assert built.text.strip() == (
        f'<{BASE}s> <{BASE}p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .'
    )
    within = "SELECT ?o { VALUES ?o { 1 2 } FILTER(?o IN (1, <x>)) }"
    assert [r["o"].value for r in rows(ask(http, live_server.sparql, within))] == ["1"]
    graph = next(
        r["g"].value
        for r in rows(ask(http, live_server.sparql, "SELECT ?g { GRAPH ?g {} }"))
        if r["g"].value.endswith("-assertion")
    )
    relative = graph.removeprefix(BASE)
    whole = rows(ask(http, live_server.sparql, f"SELECT * {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"))
    from_relative = rows(
        ask(http, live_server.sparql, f"SELECT * FROM <{relative}> {{ ?s ?p ?o }}")
    )
    assert from_relative == whole and whole


def test_protocol_dataset_overrides_from_in_the_query(
    live_server: LiveServer, http: httpx.Client
) -> None:
    graphs = [
        r["g"].value
        for r in rows(ask(http, live_server.sparql, "SELECT ?g { GRAPH ?g {} } ORDER BY ?g"))
    ]
    graph = next(g for g in graphs if g.endswith("-assertion"))
    expected = rows(ask(http, live_server.sparql, f"SELECT * {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"))
    elsewhere = "http://example.org/not-a-graph-here"
    query = f"SELECT ?s ?p ?o FROM <{elsewhere}> {{ ?s ?p ?o }}"
    assert ask(http, live_server.sparql, query).status_code == 403  # FROM alone is checked
    overridden = ask(http, live_server.sparql, query, **{"default-graph-uri": graph})
    assert rows(overridden) == expected
    named = f"SELECT DISTINCT ?g FROM NAMED <{elsewhere}> {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    answer = ask(http, live_server.sparql, named, **{"named-graph-uri": graph})
    assert [r["g"].value for r in rows(answer)] == [graph]
    refused = ask(http, live_server.sparql, query, **{"default-graph-uri": elsewhere})
    assert refused.status_code == 403 and "default-graph-uri" in refused.text


def test_unknown_extension_functions_are_expression_errors(
    live_server: LiveServer, http: httpx.Client
) -> None:
    query = """PREFIX ex: <http://example.org/fn#>
        PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
        SELECT ?x ?y ?z ?n {
          BIND(ex:nothing(1) AS ?x)
          BIND(COALESCE(ex:other(2, "a"), "fallback") AS ?y)
          BIND(xsd:integer("7") AS ?z)
          { SELECT (COUNT(*) AS ?n) { VALUES ?v { 1 2 } FILTER(ex:nothing(?v)) } }
        }"""
    [row] = rows(ask(http, live_server.sparql, query))
    assert "x" not in row  # unbound
    assert row["y"].value == "fallback"
    assert row["z"] == ox.Literal("7", datatype=ox.NamedNode(XSD_INTEGER))  # built-ins intact
    assert row["n"].value == "0"  # a FILTER error drops the solution


def test_a_trailing_slash_answers_like_the_endpoint(
    live_server: LiveServer, http: httpx.Client
) -> None:
    slash = live_server.sparql + "/"
    got = ask(http, slash, "ASK { ?s ?p ?o }")
    assert got.status_code == 200 and got.json() == {"head": {}, "boolean": True}
    posted = http.post(
        slash,
        content=b"SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
        headers={"Content-Type": "application/sparql-query", **JSON},
    )
    plain = http.post(
        live_server.sparql,
        content=b"SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
        headers={"Content-Type": "application/sparql-query", **JSON},
    )
    assert rows(posted) == rows(plain)
    described = http.get(slash, headers={"Accept": "text/turtle"})
    assert described.status_code == 200 and "sd:Service" in described.text
    assert http.options(slash).status_code == 204
