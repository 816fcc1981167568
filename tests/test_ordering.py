"""ORDER BY over mixed terms: the engine crash (docs/upstream.md) and exmech's safe keys.

The order is checked against SPARQL 1.1 itself, written here independently of
exmech.ordering: §15.1 puts unbound < blank nodes < IRIs < literals, and wherever the
``<`` operator is defined between two literals (numbers, strings, booleans, dateTimes,
§17.3) a later row is never ``<`` an earlier one.
"""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from conftest import ROOT
from exmech.errors import BadRequest
from exmech.ordering import MAX_EXPRESSION, safe_order
from exmech.store import Query
from exmech.store.embedded import evaluate

XSD = "http://www.w3.org/2001/XMLSchema#"
INTEGERS = ("integer", "int", "long", "short", "byte", "nonNegativeInteger")
NUMERIC = (*INTEGERS, "decimal", "float", "double")


def typed(value: str, datatype: str) -> ox.Literal:
    return ox.Literal(value, datatype=ox.NamedNode(XSD + datatype))


TERMS: list[ox.NamedNode | ox.BlankNode | ox.Literal] = [
    *(typed(v, "integer") for v in ("0", "1", "2", "10", "-5", "9007199254740993")),
    *(typed(v, "integer") for v in ("9007199254740992", "-9007199254740993")),
    typed("7", "int"),
    typed("3", "short"),
    *(typed(v, "decimal") for v in ("1.5", "-0.25", "2.0", "9007199254740992.5")),
    *(typed(v, "double") for v in ("1e0", "NaN", "INF", "-INF", "-0e0", "1.5E0", "9.0E15")),
    typed("2.5", "float"),
    typed("NaN", "float"),
    *(ox.Literal(v) for v in ("a", "B", "10", "2", "é", "", "15", "true")),
    ox.Literal("a", language="en"),
    ox.Literal("b", language="fr"),
    *(typed(v, "boolean") for v in ("true", "false", "1", "0")),
    *(
        typed(v, "dateTime")
        for v in (
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00",
            "2019-12-31T23:00:00-02:00",
            "2020-01-01T12:00:00+14:00",
            "2020-01-01T00:00:00.5",
        )
    ),
    typed("2020-01-01", "date"),
    ox.Literal("x", datatype=ox.NamedNode("http://example.org/dt")),
    typed("abc", "integer"),
    typed("maybe", "boolean"),
    typed("nope", "dateTime"),
    ox.NamedNode("http://example.org/a"),
    ox.NamedNode("http://example.org/B"),
    ox.BlankNode("b1"),
    ox.BlankNode("b2"),
]


def value_of(term: Any) -> tuple[str, Any] | None:
    """(class, Python value) where SPARQL's ``<`` applies to the term, else None."""
    if not isinstance(term, ox.Literal) or term.language:
        return None
    kind, text = term.datatype.value.removeprefix(XSD), term.value
    try:
        if kind in INTEGERS or kind == "decimal":
            return "number", Decimal(text)
        if kind in ("float", "double"):
            return "number", float(text.replace("INF", "inf"))
        if kind == "string":
            return "string", text
        if kind == "boolean" and text in ("true", "false", "1", "0"):
            return "boolean", text in ("true", "1")
        if kind == "dateTime":
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return "dateTime", moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, InvalidOperation):  # ill-typed: no value, no `<`
        return None
    return None


def less(a: Any, b: Any) -> bool:
    """SPARQL's ``a < b`` where defined (XPath promotion for mixed numbers), else False."""
    left, right = value_of(a), value_of(b)
    if left is None or right is None or left[0] != right[0]:
        return False
    x, y = left[1], right[1]
    if left[0] == "number" and (isinstance(x, float) or isinstance(y, float)):
        x, y = float(x), float(y)
    return bool(x < y)


def rank(term: Any) -> int:
    if term is None:
        return 0
    return {ox.BlankNode: 1, ox.NamedNode: 2}.get(type(term), 3)


def assert_sparql_order(terms: list[Any]) -> None:
    for i, earlier in enumerate(terms):
        for later in terms[i + 1 :]:
            assert rank(earlier) <= rank(later), (earlier, later)
            assert not less(later, earlier), (earlier, later)


def mixed_store(seed: int) -> ox.Store:
    """Every term of TERMS five times, as objects, in a seeded random order."""
    rows = TERMS * 5
    random.Random(seed).shuffle(rows)
    store = ox.Store()
    p = ox.NamedNode("http://example.org/p")
    for i, term in enumerate(rows):
        store.add(ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), p, term))
    return store


def ordered(store: ox.Store, text: str) -> list[Any]:
    reply = evaluate(store, Query(text, "SELECT", "application/sparql-results+json"))
    assert reply["ok"], reply
    solutions = ox.parse_query_results(reply["body"], ox.QueryResultsFormat.JSON)
    return [row["o"] for row in solutions]


UNBOUND_TOO = "SELECT ?o { { ?s <http://example.org/p> ?o } UNION { BIND(1 AS ?x) } }"


@pytest.mark.parametrize("seed", range(4))
def test_mixed_terms_come_back_in_sparql_order(seed: int) -> None:
    store = mixed_store(seed)
    terms = ordered(store, UNBOUND_TOO + " ORDER BY ?o")
    assert len(terms) == len(TERMS) * 5 + 1
    assert terms[0] is None
    assert_sparql_order(terms)
    descending = ordered(store, UNBOUND_TOO + " ORDER BY DESC(?o)")
    assert descending[-1] is None
    assert_sparql_order(descending[::-1])


def test_expressions_subqueries_and_limits_are_sorted_safely() -> None:
    store = mixed_store(7)
    top = ordered(store, "SELECT ?o { ?s ?p ?o } ORDER BY (?o) LIMIT 5")
    assert [rank(t) for t in top] == [1] * 5  # blank nodes first
    inner = (
        "SELECT ?o { { SELECT ?o { ?s ?p ?o FILTER(!isBLANK(?o)) } ORDER BY DESC(?o) LIMIT 12 } }"
    )
    highest = ordered(store, inner)
    assert len(highest) == 12 and all(isinstance(t, ox.Literal) for t in highest)
    by_text = ordered(store, "SELECT ?o { ?s ?p ?o } ORDER BY STR(?o) ?o")
    texts = [t.value for t in by_text if not isinstance(t, ox.BlankNode)]
    assert texts == sorted(texts)


def test_safe_order_refuses_what_it_cannot_read() -> None:
    with pytest.raises(BadRequest, match="could not read this one"):
        safe_order("SELECT * { ?s ?p ?o } ORDER BY ?o BOGUS")
    with pytest.raises(BadRequest, match="sorted safely"):
        safe_order("SELECT * { ?s ?p ?o } ORDER BY (" + "1+" * MAX_EXPRESSION + "?o)")
    reply = evaluate(mixed_store(1), Query("SELECT * { ?s ?p ?o } ORDER BY", "SELECT", "text/csv"))
    assert reply["status"] == 400 and "ORDER BY" in reply["message"]


def test_the_upstream_reproducer_still_crashes_the_engine(tmp_path: Path) -> None:
    """docs/upstream.md's reproducer, run as written: if this fails, the bug is fixed upstream
    and exmech.ordering can go (keep the tests above)."""
    doc = (ROOT / "docs" / "upstream.md").read_text(encoding="utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "repro.py"
    script.write_text(code, encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "does not correctly implement a total order" in run.stderr


def test_an_order_by_inside_an_order_by_expression_is_rewritten_too() -> None:
    """A subquery's ORDER BY inside EXISTS inside an ORDER BY condition: both are rewritten
    (the inner one sorts the mixed terms, which would crash the engine as written)."""
    inner = "EXISTS { SELECT ?v { ?x <http://example.org/p> ?v } ORDER BY ?v LIMIT 3 }"
    text = f"SELECT ?o {{ ?s <http://example.org/p> ?o }} ORDER BY ({inner}) ?o"
    rewritten = safe_order(text)
    assert "ORDER BY ?v" not in rewritten and "ORDER BY ASC(IF(isBLANK(?v)" in rewritten
    terms = ordered(mixed_store(3), text)
    assert len(terms) == len(TERMS) * 5
    assert_sparql_order(terms)
    too_deep = f"SELECT ?o {{ ?s ?p ?o }} ORDER BY (EXISTS {{ SELECT ?o {{}} ORDER BY ({inner}) }})"
    with pytest.raises(BadRequest, match="sorted safely"):
        safe_order(too_deep)
