"""Answer shaping: a SPARQL JSON SELECT answer as plain JSON rows, each with its nanopublications.

Pure (bytes and text in, lists and dicts out), so the API, the linked-data pages and the
tests read answers the same way; ``projection`` gives the columns before a query has run,
which the OpenAPI document needs for its row schemas.
"""

from __future__ import annotations

import json
from typing import Any

from exmech import vocab
from exmech.querytext import tokenize

_XSD = vocab.XSD
_NUMBERS = {f"{_XSD}integer": int, f"{_XSD}decimal": float, f"{_XSD}double": float}
AGGREGATED = "claims"  # claim IRIs (a GROUP_CONCAT, or one per row); the row's nanopublications


def projection(text: str) -> list[str]:
    """The variables a SELECT query projects, in order.

    >>> projection("SELECT ?a (COUNT(?b) AS ?n) ?c WHERE { ?a ?b ?c } GROUP BY ?a ?c")
    ['a', 'n', 'c']
    """
    out: list[str] = []
    parens = 0
    started = False
    tokens = tokenize(text)
    for i, token in enumerate(tokens):
        word = token.text.upper() if token.kind == "word" else ""
        if not started:
            started = word == "SELECT"
            continue
        if word == "WHERE" or (token.text == "{" and parens == 0):
            break
        if token.text in "()" and token.kind == "punct":
            parens += 1 if token.text == "(" else -1
        elif token.kind == "var" and (
            parens == 0 or (i > 0 and tokens[i - 1].text.upper() == "AS")
        ):
            out.append(token.text[1:])
    return out


def value_of(term: dict[str, str]) -> Any:
    """A SPARQL JSON term as a plain JSON value: numbers and booleans typed, the rest text.

    >>> value_of({"type": "literal", "value": "3", "datatype": "http://www.w3.org/2001/XMLSchema#integer"})
    3
    >>> value_of({"type": "uri", "value": "https://w3id.org/exmech/id/study/wun-2021"})
    'https://w3id.org/exmech/id/study/wun-2021'
    """
    datatype = term.get("datatype", "")
    if datatype in _NUMBERS:
        return _NUMBERS[datatype](term["value"])
    if datatype == f"{_XSD}boolean":
        return term["value"] == "true"
    return term["value"]


def rows_of(body: bytes, base: str = vocab.BASE) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a SPARQL JSON SELECT answer.

    Each row has every column (null when unbound), except the ``claims`` column, which becomes
    ``nanopublications``: every claim or retraction IRI the row rests on or names. ``claims``
    holds claim IRIs separated by spaces (a GROUP_CONCAT) or one per solution; solutions that
    agree on every other column are one row, holding all their claims, in first-seen order.

    >>> def solution(n, c):
    ...     return {"n": {"type": "literal", "value": n}, "claims": {"type": "uri", "value": c}}
    >>> answer = {"head": {"vars": ["n", "claims"]}, "results": {"bindings": [
    ...     solution("a", "c:2"), solution("a", "c:1"), solution("b", "c:3 c:4")]}}
    >>> [(r["n"], r["nanopublications"]) for r in rows_of(json.dumps(answer).encode())[1]]
    [('a', ['c:1', 'c:2']), ('b', ['c:3', 'c:4'])]
    """
    data = json.loads(body)
    columns = [c for c in data["head"]["vars"] if c != AGGREGATED]
    folds = AGGREGATED in data["head"]["vars"]  # other answers keep every solution
    rows: dict[Any, dict[str, Any]] = {}
    for number, binding in enumerate(data["results"]["bindings"]):
        values = tuple(value_of(binding[c]) if c in binding else None for c in columns)
        row = rows.setdefault(
            values if folds else number,
            {**dict(zip(columns, values, strict=True)), "nanopublications": []},
        )
        named = {v for v in values if isinstance(v, str) and _is_nanopub(v, base)}
        if AGGREGATED in binding:
            named.update(binding[AGGREGATED]["value"].split())
        row["nanopublications"] = sorted(named.union(row["nanopublications"]))
    return columns, list(rows.values())


def _is_nanopub(value: str, base: str) -> bool:
    """Whether a row value names a claim nanopublication (not a part graph, which has a '#')."""
    split = vocab.split_iri(value, base)
    return split is not None and split[0] == "claim" and "#" not in value
