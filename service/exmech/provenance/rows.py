"""Answer shaping: parsed SELECT ``Results`` as plain JSON rows, each with its nanopublications.

Pure (terms in, lists and dicts out), so the API, the linked-data pages and the tests read
answers the same way. The columns a question projects before it has run (for the OpenAPI
row schemas) are ``NamedQuery.columns``.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from exmech import vocab
from exmech.store import Results, Term

_XSD = vocab.XSD
_NUMBERS = {f"{_XSD}integer": int, f"{_XSD}decimal": float, f"{_XSD}double": float}
_BOOLEAN = f"{_XSD}boolean"
AGGREGATED = "claims"  # claim IRIs (a GROUP_CONCAT, or one per row); the row's nanopublications


def value_of(term: Term) -> Any:
    """A term as a plain JSON value: numbers and booleans typed, the rest its text.

    >>> value_of(ox.Literal("3", datatype=ox.NamedNode(_XSD + "integer")))
    3
    >>> value_of(ox.NamedNode("https://w3id.org/exmech/id/study/wun-2021"))
    'https://w3id.org/exmech/id/study/wun-2021'
    """
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        if datatype in _NUMBERS:
            return _NUMBERS[datatype](term.value)
        if datatype == _BOOLEAN:
            return term.value == "true"
        return term.value
    if isinstance(term, ox.Triple):
        return str(term)
    return term.value


def rows_of(results: Results, base: str = vocab.BASE) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a SELECT answer.

    Each row has every column (null when unbound), except the ``claims`` column, which becomes
    ``nanopublications``: every claim or retraction IRI the row rests on or names. ``claims``
    holds claim IRIs separated by spaces (a GROUP_CONCAT) or one per solution; solutions that
    agree on every other column are one row, holding all their claims, in first-seen order.

    >>> def solution(n, c):
    ...     return (ox.Literal(n), ox.NamedNode(c))
    >>> answer = Results(("n", "claims"), (solution("a", "c:2"), solution("a", "c:1"),
    ...     (ox.Literal("b"), ox.Literal("c:3 c:4"))), False, "g")
    >>> [(r["n"], r["nanopublications"]) for r in rows_of(answer)[1]]
    [('a', ['c:1', 'c:2']), ('b', ['c:3', 'c:4'])]
    """
    names = results.columns
    folds = AGGREGATED in names  # other answers keep every solution
    kept = [i for i, c in enumerate(names) if c != AGGREGATED]
    columns = [names[i] for i in kept]
    claims = names.index(AGGREGATED) if folds else -1
    rows: dict[Any, dict[str, Any]] = {}
    for number, solution in enumerate(results.rows):
        values = tuple(None if (term := solution[i]) is None else value_of(term) for i in kept)
        row = rows.setdefault(
            values if folds else number,
            {**dict(zip(columns, values, strict=True)), "nanopublications": []},
        )
        named = {v for v in values if isinstance(v, str) and _is_nanopub(v, base)}
        if folds and (held := solution[claims]) is not None:
            named.update(str(value_of(held)).split())
        row["nanopublications"] = sorted(named.union(row["nanopublications"]))
    return columns, list(rows.values())


def _is_nanopub(value: str, base: str) -> bool:
    """Whether a row value names a claim nanopublication (not a part graph, which has a '#')."""
    split = vocab.split_iri(value, base)
    return split is not None and split[0] == "claim" and "#" not in value
