"""Why do we believe this? Named provenance questions, each answer carrying its own provenance.

Every question is one ``queries/*.rq`` file; a path parameter (a slug or a DOI) is validated,
checked to exist, and bound to the query's ``# Binds:`` variable by substitution, never pasted
into the query text. An answer carries the dataset hash, the store generation, the SPARQL and
its bindings, a ``/sparql`` link that asks the same question (the bound value inlined as a
trailing ``VALUES`` clause built from the validated term) and, per row, the nanopublications
behind it. By default only claims in force are shown: superseded and retracted ones appear
only in a claim's history.

Imports run one way, each module using only those listed before it: ``questions`` (the table
of questions), ``terms`` (bound values as SPARQL text and JSON), ``rows`` (answers as JSON
rows), ``arguments`` (path values checked), ``answers`` (``ask``: plain functions over an
answer cache, never ``request``), ``openapi_document`` (the OpenAPI document, generated from
the table) and ``routes`` (the /api blueprint). This module only re-exports.
"""

from __future__ import annotations

from exmech.provenance.answers import Result, ask, resolve, run_named
from exmech.provenance.arguments import DOI, parse_value
from exmech.provenance.openapi_document import openapi
from exmech.provenance.questions import (
    AGENT_CLASSES,
    QUESTION,
    QUESTIONS,
    STUDY_CLASSES,
    Parameter,
    Question,
)
from exmech.provenance.routes import TextConverter, bp
from exmech.provenance.rows import AGGREGATED, rows_of, value_of
from exmech.provenance.terms import term_json, values_clause

__all__ = [
    "AGENT_CLASSES",
    "AGGREGATED",
    "DOI",
    "QUESTION",
    "QUESTIONS",
    "STUDY_CLASSES",
    "Parameter",
    "Question",
    "Result",
    "TextConverter",
    "ask",
    "bp",
    "openapi",
    "parse_value",
    "resolve",
    "rows_of",
    "run_named",
    "term_json",
    "value_of",
    "values_clause",
]
