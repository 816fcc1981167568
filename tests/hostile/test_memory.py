"""Runaway memory and the row cap (issue 12, point 2).

A query worker may use EXMECH_QUERY_MEMORY_MB of private memory; a query that needs more is
answered 503 naming the limit, its worker is replaced, and the other worker keeps answering
meanwhile. No spelling of a query switches the row cap off: a cartesian product of the whole
store, however it is written, comes back at once, cut at EXMECH_MAX_ROWS and saying so.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from conftest import LiveServer, start_server, stop_server
from exmech.store import Query
from exmech.store.embedded import evaluate

pytestmark = pytest.mark.live
MEMORY_MB = 256
ROWS = 100
DOUBLING = " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(40))
BOMBS = {
    "CONCAT doubling": (
        f'SELECT (STRLEN(?x40) AS ?n) {{ BIND("0123456789abcdef" AS ?x0) {DOUBLING} }}'
    ),
    "CONCAT doubling in a subquery": (
        f'SELECT ?n {{ {{ SELECT (STRLEN(?x40) AS ?n) {{ BIND("ab" AS ?x0) {DOUBLING} }} }} }}'
    ),
}
PRODUCT = "?a ?b ?c . ?d ?e ?f . ?g ?h ?i"  # every quad, cubed: about 2 * 10^11 solutions
SPELLINGS = {
    "plain": f"SELECT * {{ {PRODUCT} }}",
    "\\u escape in a string": f'SELECT * {{ {PRODUCT} FILTER(?c != "\\u0041") }}',
    "\\U escape in an IRI": f"SELECT * {{ {PRODUCT} FILTER(?b != <http://e/\\U00000041>) }}",
    "PN_LOCAL_ESC hiding the rest of the line": (
        f"PREFIX ex: <http://e/> SELECT * {{ {PRODUCT} FILTER(?b != ex:a\\#b) }}"
    ),
    "PN_LOCAL_ESC quote": f"PREFIX ex: <http://e/> SELECT * {{ {PRODUCT} FILTER(?b != ex:a\\') }}",
    "percent-encoded local name": (
        f"PREFIX ex: <http://e/> SELECT * {{ {PRODUCT} FILTER(?b != ex:a%23b) }}"
    ),
    "LIMIT in a comment": f"SELECT * {{ {PRODUCT} }} # LIMIT 5",
    "LIMIT in a string": f'SELECT * {{ {PRODUCT} FILTER(?c != "}} LIMIT 5") }}',
    "long string with quotes": f"SELECT * {{ {PRODUCT} FILTER(?c != '''a'b''c''') }}",
    "a LIMIT beyond 64 bits": f"SELECT * {{ {PRODUCT} }} LIMIT 99999999999999999999999",
    "a subquery": f"SELECT * {{ {{ SELECT * {{ {PRODUCT} }} }} }}",
    "trailing VALUES": f"SELECT * {{ {PRODUCT} }} VALUES ?z {{ 1 }}",
    "OFFSET": f"SELECT * {{ {PRODUCT} }} OFFSET 3",
    "CONSTRUCT": f"CONSTRUCT {{ ?a ?b ?g }} WHERE {{ {PRODUCT} }}",
    "DESCRIBE": f"DESCRIBE ?a ?d ?g WHERE {{ {PRODUCT} }}",
}


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("memory")
    shutil.copytree(built_state, base / "state")
    server = start_server(
        base / "state",
        base / "server.log",
        EXMECH_QUERY_MEMORY_MB=str(MEMORY_MB),
        EXMECH_QUERY_TIMEOUT="10",
        EXMECH_MAX_ROWS=str(ROWS),
        EXMECH_CACHE_ENTRIES="0",
    )
    yield server
    stop_server(server)


def ask(server: LiveServer) -> int:
    return httpx.get(server.sparql, params={"query": "ASK { ?s ?p ?o }"}, timeout=30).status_code


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_query_past_the_memory_limit_is_stopped_and_named(tight: LiveServer, name: str) -> None:
    others: list[int] = []
    stop = threading.Event()

    def meanwhile() -> None:
        while not stop.is_set():
            others.append(ask(tight))

    bystander = threading.Thread(target=meanwhile)
    bystander.start()
    try:
        reply = httpx.post(tight.sparql, data={"query": BOMBS[name]}, timeout=60)
    finally:
        stop.set()
        bystander.join()
    assert reply.status_code == 503, reply.text
    assert f"{MEMORY_MB} MiB" in reply.text and "EXMECH_QUERY_MEMORY_MB" in reply.text
    assert others and set(others) == {200}  # the other worker kept answering
    # The worker was replaced: both workers answer again (two at once).
    answers: list[int] = []
    pair = [threading.Thread(target=lambda: answers.append(ask(tight))) for _ in range(2)]
    for thread in pair:
        thread.start()
    for thread in pair:
        thread.join()
    assert answers == [200, 200]


@pytest.mark.parametrize("name", list(SPELLINGS))
@pytest.mark.parametrize("accept", ["text/csv", "application/sparql-results+json"])
def test_no_spelling_switches_the_row_cap_off(tight: LiveServer, name: str, accept: str) -> None:
    query = SPELLINGS[name]
    if query.startswith(("CONSTRUCT", "DESCRIBE")):
        accept = "application/n-triples" if accept == "text/csv" else "text/turtle"
    reply = httpx.post(tight.sparql, data={"query": query}, headers={"Accept": accept}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Exmech-Truncated"] == "true"
    assert reply.headers["Exmech-Rows"] == str(ROWS)


def test_the_cap_holds_when_the_engine_rejects_the_capped_text(built_state: Path) -> None:
    """The fallback path (no usable LIMIT): solutions are pulled one by one up to the cap."""
    snapshot = built_state / "snapshots" / (built_state / "CURRENT").read_text().strip()
    store = ox.Store.read_only(str(snapshot))
    query = Query(
        text=SPELLINGS["plain"],
        form="SELECT",
        media_type="text/csv",
        capped_text="SELECT * { this is not SPARQL",
        max_rows=7,
    )
    reply = evaluate(store, query)
    assert reply["ok"] and reply["rows"] == 7 and reply["truncated"]
    assert reply["body"].count(b"\r\n") == 8  # header and 7 rows


@pytest.mark.parametrize("fmt", ["JSON", "XML", "CSV", "TSV"])
def test_rows_pulled_one_by_one_are_written_as_the_engine_writes_them(fmt: str) -> None:
    """The fallback path loses nothing: IRIs, blank nodes, typed, language-tagged and escaped
    literals, triple terms and unbound values come out byte for byte as the engine's own."""
    store = ox.Store()
    a, b = ox.NamedNode("http://e/a"), ox.NamedNode("http://e/b")
    nested = ox.Triple(a, b, ox.Literal("x\ty", language="en-gb"))
    for obj in (ox.BlankNode("b0"), ox.Literal('a\tb\nc"\\'), ox.Literal(1), nested, a):
        store.add(ox.Quad(a, b, obj))
    text = "SELECT ?s ?o ?none { ?s ?p ?o OPTIONAL { ?o <http://e/none> ?none } } ORDER BY STR(?o)"
    fmt_ = getattr(ox.QueryResultsFormat, fmt)
    expected = store.query(text).serialize(format=fmt_)
    query = Query(text=text, form="SELECT", media_type=fmt_.media_type, max_rows=100)
    reply = evaluate(store, query)  # no capped_text: the one-by-one path
    assert reply["ok"] and reply["rows"] == 5
    assert reply["body"] == expected
