"""The OpenAPI 3.1 document of ``/api``, generated from the table of questions.

Generated rather than written by hand so it cannot drift: each question's path, parameter
schema (the same patterns the validation uses) and row schema (the query's projected
columns) come from the code that serves it.
"""

from __future__ import annotations

from typing import Any

from exmech import formats, queries, vocab
from exmech.provenance.arguments import DOI
from exmech.provenance.questions import QUESTIONS, Question
from exmech.provenance.rows import AGGREGATED

_VALUE = {"type": ["string", "number", "integer", "boolean", "null"]}
_ERRORS = {
    "400": "Malformed parameter.",
    "404": "No such resource in the graph.",
    "406": "Neither application/json nor application/ld+json is acceptable (Accept or format).",
    "503": "The query ran out of time or the store is unavailable.",
}


_FORMAT_PARAMETERS = (
    {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "json (the default) or jsonld; wins over Accept.",
        "schema": {"enum": ["json", "jsonld"]},
    },
    {
        "name": "profile",
        "in": "query",
        "required": False,
        "description": "With JSON-LD: expanded (full IRIs, no context) or compacted (the "
        "default); anything else is 400.",
        "schema": {"enum": ["expanded", "compacted"]},
    },
)
_JSONLD_ANSWER = {
    "type": "object",
    "description": "The same answer as compact JSON-LD (application/ld+json, or format=jsonld): "
    "the JSON answer's keys, an @context naming the published /api context, @type ResultSet "
    "(W3C result-set vocabulary), each row a ResultSolution with its index. Expanded JSON-LD "
    "(an array) with profile=expanded or the JSON-LD expanded profile in Accept.",
}


def _answer_schema(question: Question) -> dict[str, Any]:
    """The 200 body: the shared provenance fields plus rows with exactly the query's columns."""
    columns = [c for c in queries.load(question.query).columns if c != AGGREGATED]
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
    """One GET operation; 404 is listed only where there is a path value to get wrong."""
    named = queries.load(question.query)
    operation: dict[str, Any] = {
        "operationId": question.name,
        "summary": named.answers,
        "description": f"Answered by `service/exmech/queries/{named.name}.rq`.",
        "parameters": list(_FORMAT_PARAMETERS),
        "responses": {
            "200": {
                "description": "The answer, with its provenance.",
                "content": {
                    formats.JSON.media_type: {
                        "schema": {"$ref": f"#/components/schemas/{question.name}"}
                    },
                    formats.JSONLD.media_type: {
                        "schema": {"$ref": "#/components/schemas/JsonLdAnswer"}
                    },
                },
            },
            **{
                status: {"$ref": f"#/components/responses/{status}"}
                for status in _ERRORS
                if question.parameter is not None or status != "404"
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
            *operation["parameters"],
            {
                "name": parameter.name,
                "in": "path",
                "required": True,
                "description": parameter.description,
                "schema": schema,
                "example": parameter.example,
            },
        ]
    return operation


def openapi(version: str, questions: tuple[Question, ...] = QUESTIONS) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API, generated from the table of questions.

    >>> sorted(openapi("0")["paths"])[:3]
    ['/api', '/api/0.2.0/context.jsonld', '/api/claims/by-evidence']
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
        f"/api/{vocab.RELEASE}/context.jsonld": {
            "get": {
                "operationId": "jsonld-context",
                "summary": "The JSON-LD context of /api answers (this release's).",
                "responses": {
                    "200": {
                        "description": "A JSON-LD context document.",
                        "content": {formats.JSONLD.media_type: {"schema": {"type": "object"}}},
                    }
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
        "JsonLdAnswer": {
            "oneOf": [_JSONLD_ANSWER, {"type": "array", "items": {"type": "object"}}],
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
