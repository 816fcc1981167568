"""Why do we believe this? Named provenance questions, each answer carrying its own provenance.

Every question is one ``queries/*.rq`` file; a path parameter (a slug or a DOI) is validated,
checked to exist, and bound to the query's ``# Binds:`` variable by substitution, never pasted
into the query text. An answer carries the dataset hash, the store generation, the SPARQL and
its bindings, a ``/sparql`` link that asks the same question (the bound value inlined as a
trailing ``VALUES`` clause built from the validated term) and, per row, the nanopublications
behind it. By default only claims in force are shown: superseded and retracted ones appear
only in a claim's history.

Plain functions first (they take an answer cache and values, never ``request``); the blueprint
below the HTTP marker maps ``/api/...`` onto them and serves the OpenAPI document, which is
generated from the same table of questions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from exmech import formats, queries, vocab
from exmech.errors import BadRequest, NotAcceptable, NotFound
from exmech.querytext import analyse, tokenize, with_row_cap
from exmech.store import Answer, Binding, Query
from exmech.store.cache import AnswerCache

SPARQL_JSON = "application/sparql-results+json"
# Crossref's recommended pattern (it matches nearly every DOI issued): no quotes, spaces or
# backslashes, so a valid DOI is also a safe SPARQL string.
DOI = re.compile(r"^10\.\d{4,9}/[-._;()/:a-zA-Z0-9]+$")
_IRI_UNSAFE = re.compile(r'[<>"{}|^`\\\x00-\x20]')
_XSD = vocab.XSD
_NUMBERS = {f"{_XSD}integer": int, f"{_XSD}decimal": float, f"{_XSD}double": float}
AGGREGATED = "claims"  # claim IRIs (a GROUP_CONCAT, or one per row); the row's nanopublications


@dataclass(frozen=True)
class Parameter:
    """A path parameter: how it is validated, which query variable it binds, what must exist."""

    name: str  # slug or doi
    variable: str
    kind: str  # a vocab kind, or "doi"
    classes: tuple[str, ...]  # the resource must be typed with one of these
    example: str
    description: str


@dataclass(frozen=True)
class Question:
    """One API operation: a path under /api answered by one named query."""

    name: str
    path: str  # OpenAPI path template, relative to /api
    query: str
    parameter: Parameter | None = None

    @property
    def rule(self) -> str:
        """The Flask URL rule (a DOI may hold slashes).

        >>> QUESTION["doi-claims"].rule
        '/dois/<text:doi>'
        """
        return re.sub(
            r"\{(\w+)\}", lambda m: "<text:doi>" if m[1] == "doi" else f"<{m[1]}>", self.path
        )


def _slug(kind: str, variable: str, classes: tuple[str, ...], example: str) -> Parameter:
    return Parameter(
        "slug",
        variable,
        kind,
        classes,
        example,
        f"Slug of the {kind}: lower-case letters, digits and hyphens "
        f"(the last segment of https://w3id.org/exmech/id/{kind}/...).",
    )


EXM, PROV = vocab.EXM, vocab.PROV
STUDY_CLASSES = tuple(
    EXM + c
    for c in (
        "RandomisedControlledTrial",
        "NonRandomisedControlledTrial",
        "SecondaryAnalysis",
        "SystematicReview",
        "MetaAnalysis",
        "Study",
    )
)
AGENT_CLASSES = tuple(PROV + c for c in ("Person", "SoftwareAgent", "Organization", "Agent"))

QUESTIONS: tuple[Question, ...] = (
    Question(
        "mechanism-claims",
        "/mechanisms/{slug}/claims",
        "mechanism-claims",
        _slug("mechanism", "mechanism", (EXM + "Mechanism",), "pain-self-efficacy"),
    ),
    Question(
        "study-claims",
        "/studies/{slug}",
        "study-claims",
        _slug("study", "study", STUDY_CLASSES, "sherman-2013"),
    ),
    Question(
        "curator-nanopublications",
        "/curators/{slug}",
        "curator-nanopublications",
        _slug("curator", "curator", AGENT_CLASSES, "exmech-import"),
    ),
    Question(
        "exercise-mechanisms",
        "/exercises/{slug}/mechanisms",
        "exercise-mechanisms",
        _slug("exercise", "exercise", (EXM + "ExerciseType",), "yoga"),
    ),
    Question(
        "claim-history",
        "/claims/{slug}/history",
        "claim-history",
        _slug("claim", "claim", (EXM + "Claim",), "66bd78928268d95e30a2"),
    ),
    Question(
        "doi-claims",
        "/dois/{doi}",
        "doi-claims",
        Parameter(
            "doi",
            "doi",
            "doi",
            (),
            "10.2522/ptj.20110290",
            "A DOI such as 10.2522/ptj.20110290 (slashes allowed; compared case-insensitively).",
        ),
    ),
    Question("evidence-map", "/evidence-map", "evidence-map"),
    Question("theme-frequencies", "/themes/frequencies", "theme-frequencies-recomputed"),
    Question("claims-by-evidence", "/claims/by-evidence", "claims-by-evidence"),
)
QUESTION = {q.name: q for q in QUESTIONS}


@dataclass(frozen=True)
class Result:
    """A question's answer and everything needed to check it."""

    question: Question
    query: queries.NamedQuery
    bindings: dict[str, Binding]
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    generation: str
    dataset: str
    cached: bool = field(default=False, compare=False)

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


def sparql_term(binding: Binding) -> str:
    """A bound value written as SPARQL; raises ValueError for a value it cannot write safely.

    >>> sparql_term(("iri", "https://w3id.org/exmech/id/mechanism/mood"))
    '<https://w3id.org/exmech/id/mechanism/mood>'
    >>> sparql_term(("literal", 'say "hi"\\n', "", ""))
    '"say \\\\"hi\\\\"\\\\n"'
    >>> sparql_term(("iri", "x> } DROP ALL"))
    Traceback (most recent call last):
    ValueError: not a safe IRI: 'x> } DROP ALL'
    """
    if binding[0] == "iri":
        if _IRI_UNSAFE.search(binding[1]) or ":" not in binding[1]:
            raise ValueError(f"not a safe IRI: {binding[1]!r}")
        return f"<{binding[1]}>"
    _, value, datatype, lang = binding
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    if lang:
        if not re.fullmatch(r"[a-zA-Z]+(-[a-zA-Z0-9]+)*", lang):
            raise ValueError(f"not a language tag: {lang!r}")
        return f'"{escaped}"@{lang}'
    if datatype:
        return f'"{escaped}"^^{sparql_term(("iri", datatype))}'
    return f'"{escaped}"'


def values_clause(bindings: dict[str, Binding]) -> str:
    """A trailing VALUES clause binding each variable to one value ("" when there are none).

    >>> values_clause({"claim": ("iri", "https://w3id.org/exmech/id/claim/abc")})
    '\\nVALUES ?claim { <https://w3id.org/exmech/id/claim/abc> }\\n'
    """
    if not bindings:
        return "\n"
    names = " ".join(f"?{name}" for name in bindings if re.fullmatch(r"\w+", name))
    if len(bindings) == 1:
        (value,) = bindings.values()
        return f"\nVALUES {names} {{ {sparql_term(value)} }}\n"
    terms = " ".join(sparql_term(v) for v in bindings.values())
    return f"\nVALUES ({names}) {{ ({terms}) }}\n"


def term_json(binding: Binding) -> dict[str, str]:
    """A bound value as a SPARQL JSON results term.

    >>> term_json(("literal", "10.2522/ptj.20110290", "", ""))
    {'type': 'literal', 'value': '10.2522/ptj.20110290'}
    """
    if binding[0] == "iri":
        return {"type": "uri", "value": binding[1]}
    out = {"type": "literal", "value": binding[1]}
    if binding[2]:
        out["datatype"] = binding[2]
    if binding[3]:
        out["xml:lang"] = binding[3]
    return out


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
    split = vocab.split_iri(value, base)
    return split is not None and split[0] == "claim" and "#" not in value


def parse_value(parameter: Parameter, raw: str, base: str = vocab.BASE) -> Binding:
    """The bound value for a path parameter; raises BadRequest when it is malformed.

    >>> parse_value(QUESTION["mechanism-claims"].parameter, "mood")
    ('iri', 'https://w3id.org/exmech/id/mechanism/mood')
    >>> parse_value(QUESTION["doi-claims"].parameter, "10.1155/2013/130818")
    ('literal', '10.1155/2013/130818', '', '')
    """
    if parameter.kind == "doi":
        if len(raw) > 300 or not DOI.match(raw):
            raise BadRequest(
                f"malformed DOI {raw[:100]!r}: expected 10.<registrant>/<suffix>, "
                "e.g. 10.2522/ptj.20110290"
            )
        return ("literal", raw, "", "")
    try:
        return ("iri", vocab.iri(parameter.kind, raw, base))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def run_named(
    cache: AnswerCache, named: queries.NamedQuery, bindings: dict[str, Binding], max_rows: int
) -> tuple[Answer, list[str], list[dict[str, Any]], str]:
    """Run a named query with bound values; (answer, columns, rows, dataset hash).

    Raises ValueError when a value is bound to a variable the query does not declare.
    """
    unknown = set(bindings) - set(named.binds)
    if unknown:
        raise ValueError(f"{named.name}.rq does not bind {', '.join(sorted(unknown))}")
    answer = cache.query(
        Query(
            text=named.text,
            form=named.form,
            media_type=SPARQL_JSON,
            capped_text=with_row_cap(analyse(named.text), max_rows + 1),
            substitutions=tuple(sorted(bindings.items())),
            max_rows=max_rows,
        )
    )
    columns, rows = rows_of(answer.body)
    return answer, columns, rows, cache.store.dataset_hash


def resolve(cache: AnswerCache, parameter: Parameter, raw: str, base: str = vocab.BASE) -> Binding:
    """Validate a path value and check that the graph knows it; the value to bind.

    Raises BadRequest (malformed) or NotFound (well-formed, unknown). A DOI comes back as
    the graph writes it (DOIs are case-insensitive), so the question matches it exactly.
    """
    binding = parse_value(parameter, raw, base)
    if parameter.kind == "doi":
        _, _, rows, _ = run_named(cache, queries.load("study-by-doi"), {"doi": binding}, 100)
        if not rows:
            raise NotFound(f"no study with DOI {raw} in the graph")
        return ("literal", str(rows[0]["storedDoi"]), "", "")
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
    bindings: dict[str, Binding] = {}
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
    )


# OpenAPI ------------------------------------------------------------------------------

_VALUE = {"type": ["string", "number", "integer", "boolean", "null"]}
_ERRORS = {
    "400": "Malformed parameter.",
    "404": "No such resource in the graph.",
    "406": "The Accept header excludes application/json.",
    "503": "The query ran out of time or the store is unavailable.",
}


def _answer_schema(question: Question) -> dict[str, Any]:
    columns = [c for c in projection(queries.load(question.query).text) if c != AGGREGATED]
    row = {
        "type": "object",
        "properties": {
            **{c: _VALUE for c in columns},
            "nanopublications": {"type": "array", "items": {"type": "string", "format": "uri"}},
        },
        "required": [*columns, "nanopublications"],
        "additionalProperties": False,
    }
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Provenance"},
            {
                "type": "object",
                "properties": {"rows": {"type": "array", "items": row}},
                "required": ["rows"],
            },
        ]
    }


def _operation(question: Question) -> dict[str, Any]:
    named = queries.load(question.query)
    operation: dict[str, Any] = {
        "operationId": question.name,
        "summary": named.answers,
        "description": f"Answered by `service/exmech/queries/{named.name}.rq`.",
        "responses": {
            "200": {
                "description": "The answer, with its provenance.",
                "content": {
                    formats.JSON.media_type: {
                        "schema": {"$ref": f"#/components/schemas/{question.name}"}
                    }
                },
            },
            **{
                status: {"$ref": f"#/components/responses/{status}"}
                for status in _ERRORS
                if question.parameter is not None or status not in ("400", "404")
            },
        },
    }
    parameter = question.parameter
    if parameter is not None:
        schema: dict[str, Any] = {"type": "string"}
        if parameter.kind == "doi":
            schema.update(pattern=DOI.pattern, maxLength=300)
        else:
            schema["pattern"] = vocab.SLUG.pattern
        operation["parameters"] = [
            {
                "name": parameter.name,
                "in": "path",
                "required": True,
                "description": parameter.description,
                "schema": schema,
                "example": parameter.example,
            }
        ]
    return operation


def openapi(version: str, questions: tuple[Question, ...] = QUESTIONS) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API, generated from the table of questions.

    >>> sorted(openapi("0")["paths"])[:2]
    ['/api', '/api/claims/by-evidence']
    """
    json_content = formats.JSON.media_type
    paths: dict[str, Any] = {
        "/api": {
            "get": {
                "operationId": "index",
                "summary": "Which questions can this API answer, and where?",
                "responses": {
                    "200": {
                        "description": "The questions.",
                        "content": {
                            json_content: {"schema": {"$ref": "#/components/schemas/Index"}}
                        },
                    },
                    "406": {"$ref": "#/components/responses/406"},
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {json_content: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    schemas: dict[str, Any] = {
        "Term": {
            "type": "object",
            "properties": {
                "type": {"enum": ["uri", "literal"]},
                "value": {"type": "string"},
                "datatype": {"type": "string"},
                "xml:lang": {"type": "string"},
            },
            "required": ["type", "value"],
        },
        "Provenance": {
            "type": "object",
            "properties": {
                "question": {"type": "string"},
                "query_name": {"type": "string"},
                "query": {"type": "string", "description": "The SPARQL that produced the rows."},
                "bindings": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/components/schemas/Term"},
                    "description": "Values bound to the query's variables (by substitution).",
                },
                "sparql_url": {
                    "type": "string",
                    "description": "The same question on /sparql, the bound values inlined "
                    "as a trailing VALUES clause.",
                },
                "dataset": {"type": "string", "description": "Content hash of the data."},
                "generation": {"type": "string", "description": "Store generation answered."},
                "truncated": {"type": "boolean"},
                "count": {"type": "integer", "minimum": 0},
            },
            "required": [
                "question",
                "query_name",
                "query",
                "bindings",
                "sparql_url",
                "dataset",
                "generation",
                "truncated",
                "count",
            ],
        },
        "Index": {
            "type": "object",
            "properties": {
                "openapi": {"type": "string"},
                "questions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "path": {"type": "string"},
                            "question": {"type": "string"},
                        },
                        "required": ["name", "path", "question"],
                    },
                },
            },
            "required": ["openapi", "questions"],
        },
        "Error": {
            "type": "object",
            "properties": {
                "ok": {"const": False},
                "status": {"type": "integer"},
                "error": {"type": "string"},
                "detail": {},
            },
            "required": ["ok", "status", "error"],
        },
    }
    for question in questions:
        paths[f"/api{question.path}"] = {"get": _operation(question)}
        schemas[question.name] = _answer_schema(question)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "exmech provenance API",
            "version": version,
            "description": "Why do we believe this? Each answer carries the dataset hash, the "
            "SPARQL and bindings that produced it, a link running the same question on "
            "/sparql, and the nanopublications behind every row. Superseded and retracted "
            "claims are left out except in a claim's history.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                status: {
                    "description": text,
                    "content": {json_content: {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for status, text in _ERRORS.items()
            },
        },
    }


# HTTP ----------------------------------------------------------------------------------

bp = Blueprint("provenance", __name__, url_prefix="/api")


class TextConverter(PathConverter):
    """Like ``path`` (slashes allowed) but also newlines, so every /api URL reaches a view."""

    regex = r"[^/][\s\S]*?"


@bp.record_once
def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("text", TextConverter)


def _json(body: dict[str, Any]) -> Response:
    if formats.negotiate(request.headers.get("Accept"), None, (formats.JSON,)) is None:
        raise NotAcceptable(f"the API answers in {formats.JSON.media_type} only")
    response = Response(
        json.dumps(body, ensure_ascii=False), content_type=formats.JSON.content_type
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept")
    return response


def _view(question: Question) -> Callable[..., Response]:
    def view(**values: str) -> Response:
        services = current_app.extensions["exmech"]
        settings = services.settings
        value = values.get(question.parameter.name) if question.parameter else None
        result = ask(
            services.cache, question, value, max_rows=settings.max_rows, base=settings.base_iri
        )
        link = url_for("sparql.endpoint") + "?" + urlencode({"query": result.linked_query})
        response = _json(result.to_json(link))
        response.headers["Exmech-Generation"] = result.generation
        response.headers["Exmech-Dataset"] = result.dataset
        response.headers["Exmech-Cache"] = "hit" if result.cached else "miss"
        return response

    view.__name__ = question.name.replace("-", "_")
    return view


for _question in QUESTIONS:
    bp.add_url_rule(_question.rule, endpoint=_question.name, view_func=_view(_question))


@bp.get("")
def index() -> Response:
    return _json(
        {
            "openapi": url_for("provenance.openapi_document"),
            "questions": [
                {"name": q.name, "path": f"/api{q.path}", "question": queries.load(q.query).answers}
                for q in QUESTIONS
            ],
        }
    )


@bp.get("/openapi.json")
def openapi_document() -> Response:
    from importlib.metadata import PackageNotFoundError, version

    try:
        current = version("exmech")
    except PackageNotFoundError:
        current = "0.0.0"
    return _json(openapi(current))


@bp.route("/<text:rest>")
def unknown(rest: str) -> Response:
    raise NotFound(f"no API resource /api/{rest[:200]}; see /api/openapi.json")
