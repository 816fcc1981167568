"""An /api answer as compact JSON-LD: the JSON answer's own keys, given meaning by a context.

The answer is a ``rs:ResultSet`` of the W3C result-set vocabulary
(``http://www.w3.org/2001/sw/DataAccess/tests/result-set#``, the DAWG test suites' record of a
SELECT answer): ``count`` is ``rs:size``, ``variables`` are ``rs:resultVariable`` and each of
``rows`` is a ``rs:ResultSolution`` with its ``rs:index``. A row is one node whose keys are the
question's columns (terms of ``https://w3id.org/exmech/api#``), so a consumer reads
``"mechanismLabel": "Motor control"`` rather than the vocabulary's binding-per-cell
indirection; ``nanopublications`` is ``prov:wasDerivedFrom``. Values keep their RDF terms
(IRIs, language tags, datatypes), read from the parsed answer, not from the JSON.

Pure: (columns, solutions of pyoxigraph terms, the JSON answer) in, JSON-LD out. Compaction
never fetches anything: pyld gets the context as data and a loader that refuses every URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyoxigraph as ox
from pyld import jsonld

from exmech import vocab
from exmech.errors import BadRequest
from exmech.provenance.rows import AGGREGATED
from exmech.store import Term

RS = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#"
API = f"{vocab.BASE}/api#"
# Columns of the shipped questions whose values are IRIs, language-tagged text or typed
# literals: coerced so they compact to plain JSON strings. tests/test_api_jsonld.py runs every
# question and fails when a value would still compact to an object.
IRI_COLUMNS = (
    "claim curator direction exercise level link mechanism mediatorStatus nanopub retracts "
    "study supersedes target theme"
).split()
ENGLISH_COLUMNS = (
    "exerciseLabel",
    "label",
    "mechanismLabel",
    "question",
    "studyLabel",
    "themeLabel",
)
TYPED_COLUMNS = {"created": vocab.XSD + "dateTime", "claimPercent": vocab.XSD + "decimal"}
# The envelope: keys of the JSON answer, mapped to the standard terms where one fits.
ENVELOPE: dict[str, dict[str, Any]] = {
    "ResultSet": {"@id": RS + "ResultSet"},
    "ResultSolution": {"@id": RS + "ResultSolution"},
    "rows": {"@id": RS + "solution", "@container": "@set"},
    "index": {"@id": RS + "index"},
    "count": {"@id": RS + "size"},
    "variables": {"@id": RS + "resultVariable", "@container": "@set"},
    "nanopublications": {
        "@id": vocab.PROV + "wasDerivedFrom",
        "@type": "@id",
        "@container": "@set",
    },
    "sparql_url": {"@id": API + "sparql_url", "@type": "@id"},
}


def context_iri(base: str = vocab.BASE, release: str = vocab.RELEASE) -> str:
    """Where the /api context of a release is published.

    >>> context_iri()
    'https://w3id.org/exmech/api/0.2.0/context.jsonld'
    """
    return f"{base}/api/{release}/context.jsonld"


def context() -> dict[str, Any]:
    """The ``@context`` object itself (what ``context.jsonld`` holds under ``@context``).

    >>> c = context()
    >>> c["@vocab"], c["count"]["@id"] == RS + "size", c["mechanism"]["@type"]
    ('https://w3id.org/exmech/api#', True, '@id')
    """
    out: dict[str, Any] = {"@version": 1.1, "@vocab": API, "rs": RS, "prov": vocab.PROV}
    out.update(ENVELOPE)
    out.update({name: {"@id": API + name, "@type": "@id"} for name in IRI_COLUMNS})
    out.update({name: {"@id": API + name, "@language": "en"} for name in ENGLISH_COLUMNS})
    out.update({name: {"@id": API + name, "@type": t} for name, t in TYPED_COLUMNS.items()})
    return out


def document() -> bytes:
    """The published context document, as served."""
    return json.dumps({"@context": context()}, indent=2, ensure_ascii=False).encode("utf-8")


def _refuse(url: str, options: Any = None) -> Any:
    raise BadRequest(f"exmech never fetches JSON-LD documents ({url[:100]})")


OPTIONS = {"documentLoader": _refuse}


def value(term: Term) -> dict[str, Any]:
    """One term as an expanded JSON-LD value; integers and booleans as JSON values.

    >>> value(ox.Literal("Pilates", language="en"))
    {'@value': 'Pilates', '@language': 'en'}
    >>> value(ox.Literal("43.9", datatype=ox.NamedNode(vocab.XSD + "decimal")))
    {'@value': '43.9', '@type': 'http://www.w3.org/2001/XMLSchema#decimal'}
    >>> value(ox.Literal("3", datatype=ox.NamedNode(vocab.XSD + "integer")))
    {'@value': 3}
    """
    if isinstance(term, ox.NamedNode):
        return {"@id": term.value}
    if isinstance(term, ox.BlankNode):
        return {"@id": f"_:{term.value}"}
    if isinstance(term, ox.Triple):  # no shipped question projects one: kept as its text
        return {"@value": str(term)}
    if term.language:
        return {"@value": term.value, "@language": term.language}
    datatype = term.datatype.value
    if datatype == vocab.XSD + "integer" and term.value.lstrip("-").isdigit():
        if str(int(term.value)) == term.value:
            return {"@value": int(term.value)}
    if datatype == vocab.XSD + "boolean" and term.value in ("true", "false"):
        return {"@value": term.value == "true"}
    if datatype == vocab.XSD + "string":
        return {"@value": term.value}
    return {"@value": term.value, "@type": datatype}


def _folded(
    columns: Sequence[str], solutions: Sequence[Sequence[Term | None]]
) -> list[tuple[Term | None, ...]]:
    """The terms of each row the JSON answer has: solutions alike in every column but
    ``claims`` are one row (rows.rows_of folds them the same way, in the same order)."""
    kept = [i for i, c in enumerate(columns) if c != AGGREGATED]
    firsts: dict[Any, tuple[Term | None, ...]] = {}
    for number, solution in enumerate(solutions):
        terms = tuple(solution[i] for i in kept)
        firsts.setdefault(terms if AGGREGATED in columns else number, terms)
    return list(firsts.values())


def expanded(
    columns: Sequence[str],
    solutions: Sequence[Sequence[Term | None]],
    body: Mapping[str, Any],
    bindings: Mapping[str, Term],
    iri: str,
) -> list[dict[str, Any]]:
    """The answer in expanded JSON-LD.

    ``columns`` and ``solutions`` are the parsed SELECT answer, ``body`` the JSON answer made
    from it (its envelope, its ``sparql_url`` absolute, and each row's nanopublications),
    ``bindings`` the values bound to the query, ``iri`` the answer's own IRI.
    """
    names = [c for c in columns if c != AGGREGATED]
    rows = _folded(columns, solutions)
    if len(rows) != len(body["rows"]):
        raise ValueError(f"{len(rows)} rows of terms for {len(body['rows'])} JSON rows")
    nodes = []
    for index, (terms, row) in enumerate(zip(rows, body["rows"], strict=True), start=1):
        node: dict[str, Any] = {"@type": [RS + "ResultSolution"], RS + "index": [{"@value": index}]}
        for name, term in zip(names, terms, strict=True):
            if term is not None:
                node[API + name] = [value(term)]
        if row["nanopublications"]:
            node[vocab.PROV + "wasDerivedFrom"] = [{"@id": i} for i in row["nanopublications"]]
        nodes.append(node)
    answer: dict[str, Any] = {
        "@id": iri,
        "@type": [RS + "ResultSet"],
        RS + "size": [{"@value": body["count"]}],
        RS + "resultVariable": [{"@value": n} for n in names],
        API + "question": [{"@value": body["question"], "@language": "en"}],
        API + "query_name": [{"@value": body["query_name"]}],
        API + "query": [{"@value": body["query"]}],
        API + "sparql_url": [{"@id": body["sparql_url"]}],
        API + "dataset": [{"@value": body["dataset"]}],
        API + "generation": [{"@value": body["generation"]}],
        API + "truncated": [{"@value": body["truncated"]}],
        RS + "solution": nodes,
    }
    if bindings:
        answer[API + "bindings"] = [{API + k: [value(v)] for k, v in bindings.items()}]
    return [answer]


def compacted(expanded_form: list[dict[str, Any]], base: str = vocab.BASE) -> dict[str, Any]:
    """Compacted with the published context, its ``@context`` the context's IRI."""
    out: dict[str, Any] = jsonld.compact(expanded_form, context(), OPTIONS)
    out["@context"] = context_iri(base)
    return out
