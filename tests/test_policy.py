"""The outbound allow-list, update refusal, graph checks and size and shape limits."""

from __future__ import annotations

import pytest
from exmech import queries
from exmech.errors import BadRequest, Forbidden, PayloadTooLarge
from exmech.policy import (
    MAX_NESTING,
    MAX_OPERATORS,
    allowed,
    check_bytes,
    check_graphs,
    check_query,
    check_shape,
    check_size,
    max_body_bytes,
)
from exmech.querytext import analyse

WD = "https://query.wikidata.org/sparql"


@pytest.mark.parametrize(
    ("target", "allowlist", "expected"),
    [
        (WD, [], False),
        (WD, [""], False),
        (WD, ["https://query.wikidata.org/"], True),
        (WD, ["https://query.wikidata.org"], True),
        (WD, [WD], True),
        (WD + "?x=1", [WD], True),
        (WD + "2", [WD], False),
        ("https://query.wikidata.org.evil.net/sparql", ["https://query.wikidata.org"], False),
        ("https://query.wikidata.org@evil.net/", ["https://query.wikidata.org"], False),
        ("http://query.wikidata.org/sparql", ["https://query.wikidata.org/"], False),
        ("https://other.org/sparql", ["https://query.wikidata.org/", "https://other.org/"], True),
        ("?endpoint", ["?"], False),
        ("$endpoint", ["$"], False),
        ("", [""], False),
    ],
)
def test_allowed(target: str, allowlist: list[str], expected: bool) -> None:
    assert allowed(target, allowlist) is expected


REFUSED = [
    f"SELECT * {{ SERVICE <{WD}> {{ ?s ?p ?o }} }}",
    "SELECT * { SERVICE ?s { ?s ?p ?o } }",
    "SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
    f"SELECT * {{ \\u0053ERVICE <{WD}x> {{ }} }}",
    "LOAD <https://query.wikidata.org/sparql>",
    "CLEAR ALL",
    "DROP GRAPH <http://e/g>",
    "INSERT DATA { <http://e/s> <http://e/p> 1 }",
]


@pytest.mark.parametrize("text", REFUSED)
def test_refused_without_an_allowlist(text: str) -> None:
    with pytest.raises(Forbidden):
        check_query(analyse(text), [])


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        (f"SELECT * {{ SERVICE <{WD}> {{ ?s ?p ?o }} }}", False),
        (f"SELECT * {{ SERVICE SILENT <{WD}> {{ ?s ?p ?o }} }}", False),
        ("SELECT * { SERVICE ?s { ?s ?p ?o } }", True),
        (f"SELECT * {{ SERVICE <{WD}> {{}} SERVICE <http://127.0.0.1:9/> {{}} }}", True),
        ("BASE <https://query.wikidata.org/> SELECT * { SERVICE <sparql> {} }", False),
        ("BASE <https://query.wikidata.org/> SELECT * { SERVICE <//127.0.0.1:9/> {} }", True),
        ("LOAD <https://query.wikidata.org/sparql>", True),
    ],
)
def test_allowlist_admits_only_its_prefixes(text: str, refused: bool) -> None:
    allowlist = ["https://query.wikidata.org/"]
    if refused:
        with pytest.raises(Forbidden):
            check_query(analyse(text), allowlist)
    else:
        check_query(analyse(text), allowlist)


def test_messages_name_the_target() -> None:
    with pytest.raises(Forbidden, match=r"SERVICE \?where is not allowed"):
        check_query(analyse("SELECT * { SERVICE ?where {} }"), [])
    with pytest.raises(Forbidden, match=r"LOAD <http://127.0.0.1:9/x>"):
        check_query(analyse("LOAD <http://127.0.0.1:9/x>"), [])


def test_graphs_must_be_the_stores() -> None:
    held = frozenset({"http://e/a", "http://e/b"})
    check_graphs({"FROM": ["http://e/a"], "named-graph-uri": ["http://e/b"]}, held)
    with pytest.raises(Forbidden, match=r"default-graph-uri <http://127.0.0.1:9/g>"):
        check_graphs({"FROM": ["http://e/a"], "default-graph-uri": ["http://127.0.0.1:9/g"]}, held)


@pytest.mark.parametrize(
    ("size", "limit", "too_large"), [(0, 0, False), (10, 10, False), (11, 10, True)]
)
def test_check_bytes(size: int, limit: int, too_large: bool) -> None:
    if too_large:
        with pytest.raises(PayloadTooLarge, match=f"{size} bytes.*at most {limit}"):
            check_bytes(size, limit)
    else:
        check_bytes(size, limit)


def test_size_counts_utf8_bytes_not_characters() -> None:
    check_size("é" * 5, 10)
    with pytest.raises(PayloadTooLarge, match="12 bytes"):
        check_size("é" * 6, 10)


def test_a_form_body_may_hold_a_fully_percent_encoded_query() -> None:
    assert max_body_bytes(100) >= 3 * 100


def _nested(depth: int) -> str:
    return "ASK { FILTER(" + "(" * (depth - 2) + "1" + ")" * (depth - 2) + ") }"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_nested(MAX_NESTING), None),
        (_nested(MAX_NESTING + 1), "nests brackets 101 deep"),
        ("ASK " + "{" * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1), "101 deep"),
        ("SELECT * { " + "BIND(1 AS ?x) " * (MAX_OPERATORS // 2) + "}", None),
        ("SELECT * { " + "OPTIONAL { ?s ?p ?o } " * (MAX_OPERATORS + 1) + "}", "chains 1001"),
    ],
)
def test_shape_limits(text: str, message: str | None) -> None:
    if message is None:
        check_shape(analyse(text))
    else:
        with pytest.raises(BadRequest, match=message):
            check_shape(analyse(text))


@pytest.mark.parametrize("name", queries.names())
def test_every_shipped_query_passes_the_policy(name: str) -> None:
    info = analyse(queries.load(name).text)
    check_query(info, [])
    check_shape(info)
