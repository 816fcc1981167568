"""Asking a question: validate and resolve its value, run its named query, keep the provenance.

Plain functions over an answer cache and values, never ``request``: the routes, the
linked-data pages and the tests all ask through ``ask``. Only claims in force are shown,
except in ``claim-history``, which shows every version and retraction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from exmech import queries, vocab
from exmech.errors import BadRequest, NotFound
from exmech.provenance.arguments import parse_value
from exmech.provenance.questions import Parameter, Question
from exmech.provenance.rows import rows_of
from exmech.provenance.terms import term_json, values_clause
from exmech.querytext import Bound
from exmech.store import Results, execute_named
from exmech.store.cache import AnswerCache


@dataclass(frozen=True)
class Result:
    """A question's answer and everything needed to check it."""

    question: Question
    query: queries.NamedQuery
    bindings: dict[str, Bound]
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    generation: str
    dataset: str
    cached: bool = field(default=False, compare=False)
    # The parsed answer the rows were read from (its terms: IRIs, language tags, datatypes).
    solutions: Results | None = field(default=None, compare=False, repr=False)

    @property
    def linked_query(self) -> str:
        """The query text with the bound values inlined as a trailing VALUES clause."""
        return self.query.text.rstrip("\n") + values_clause(self.bindings)

    def to_json(self, sparql_url: str) -> dict[str, Any]:
        """The API body: the rows and their provenance."""
        return {
            "question": self.query.answers,
            "query_name": self.query.name,
            "query": self.query.text,
            "bindings": {k: term_json(v) for k, v in self.bindings.items()},
            "sparql_url": sparql_url,
            "dataset": self.dataset,
            "generation": self.generation,
            "truncated": self.truncated,
            "count": len(self.rows),
            "rows": self.rows,
        }


def run_named(
    cache: AnswerCache, named: queries.NamedQuery, bindings: dict[str, Bound], max_rows: int
) -> tuple[Results, list[str], list[dict[str, Any]], str]:
    """Run a named query with bound values; (results, columns, rows, dataset hash).

    Raises what ``execute_named`` raises.
    """
    results = execute_named(cache, named, bindings, max_rows)
    columns, rows = rows_of(results)
    return results, columns, rows, cache.dataset_hash


def resolve(cache: AnswerCache, parameter: Parameter, raw: str, base: str = vocab.BASE) -> Bound:
    """Validate a path value and check that the graph knows it; the value to bind.

    Raises BadRequest (malformed) or NotFound (well-formed, unknown). A DOI comes back as
    the graph writes it (DOIs are case-insensitive), so the question matches it exactly.
    """
    binding = parse_value(parameter, raw, base)
    if parameter.kind == "doi":
        _, _, rows, _ = run_named(cache, queries.load("study-by-doi"), {"doi": binding}, 100)
        if not rows:
            raise NotFound(f"no study with DOI {raw} in the graph")
        return ox.Literal(str(rows[0]["storedDoi"]))
    _, _, rows, _ = run_named(cache, queries.load("resource-types"), {"resource": binding}, 100)
    if not {row["type"] for row in rows} & set(parameter.classes):
        raise NotFound(f"no {parameter.kind} {raw!r} in the graph")
    return binding


def ask(
    cache: AnswerCache,
    question: Question,
    value: str | None = None,
    *,
    max_rows: int = 10_000,
    base: str = vocab.BASE,
) -> Result:
    """Answer one question, for one path value when it takes one.

    Raises BadRequest (malformed value), NotFound (unknown resource), and whatever the store
    raises (QueryTimeout, StoreUnavailable). Only claims in force are shown, except in
    ``claim-history``, which shows every version and retraction.
    """
    named = queries.load(question.query)
    bindings: dict[str, Bound] = {}
    if question.parameter is not None:
        if value is None:
            raise BadRequest(f"{question.name} needs a {question.parameter.name}")
        bindings[question.parameter.variable] = resolve(cache, question.parameter, value, base)
    answer, columns, rows, dataset = run_named(cache, named, bindings, max_rows)
    return Result(
        question,
        named,
        bindings,
        columns,
        rows,
        answer.truncated,
        answer.generation,
        dataset,
        answer.cached,
        answer,
    )
