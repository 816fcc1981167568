"""What exmech sends to a SPARQL server and how it reads the replies, engine quirks included.

The differences between Virtuoso 7 and SPARQL 1.1 in query text and results live here,
as pure functions (those in HTTP replies are in ``protocol``): the extensions refused
before sending, the JSON and RDF made standard on the way back. Bound values are written
into the query text by ``querytext.with_values`` (the protocol has no parameter for them;
the embedded store binds the same way).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable

import pyoxigraph as ox

from exmech.errors import BadRequest, Forbidden
from exmech.querytext import decode_escapes, tokenize

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
_BOOLEANS = {"0": "false", "1": "true"}
_FUNCTION_NAMESPACES = (
    "http://www.openlinksw.com/schemas/bif#",
    "http://www.openlinksw.com/schemas/sql#",
)
_SQL_PREFIXES = ("bif", "sql")
_ENGINE_WORDS = ("DEFINE", "OPTION")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Only these make Virtuoso's JSON differ from what pyoxigraph reads as the embedded store
# writes it (pyoxigraph itself reads ``typed-literal`` and xsd:string), so other answers
# skip the Python pass.
NEEDS_NORMALISING = (b'"bnode"', b"__ASK_RETVAL", b"callret", b"XMLSchema#boolean")


def refuse_engine_extensions(text: str) -> None:
    """Refuse Virtuoso pragmas, sponger options and SQL function calls before they are sent.

    On Virtuoso these reach the network (``bif:http_get`` fetches any URL as the anonymous
    user, ``DEFINE get:soft`` and ``OPTION (get:soft ...)`` start the sponger) or the
    server's SQL. Pragmas and the ``bif:``/``sql:`` prefixes are not SPARQL 1.1, so they get
    the 400 a standard engine (the embedded one) gives; naming the function namespaces in
    full is valid SPARQL and gets 403. Both readings of codepoint escapes are checked.

    >>> refuse_engine_extensions("SELECT * { ?s ?p 'DEFINE bif:x' }")
    >>> refuse_engine_extensions("define get:soft 'soft' ASK {}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.BadRequest: Virtuoso pragmas (DEFINE) are not SPARQL 1.1; exmech does not ...
    >>> refuse_engine_extensions("SELECT (bif:http_get('x') AS ?x) {}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.BadRequest: bif:http_get is a Virtuoso SQL function, not SPARQL 1.1; ...
    """
    for reading in {text, decode_escapes(text)}:
        for token in tokenize(reading):
            if token.kind == "word" and token.text.upper() in _ENGINE_WORDS:
                raise BadRequest(
                    f"Virtuoso pragmas ({token.text.upper()}) are not SPARQL 1.1; exmech does "
                    "not send them to its store"
                )
            if token.kind == "pname" and token.text.partition(":")[0].lower() in _SQL_PREFIXES:
                raise BadRequest(
                    f"{token.text} is a Virtuoso SQL function, not SPARQL 1.1; exmech does not "
                    "let queries call the server's functions"
                )
            # Also catches PREFIX b: <...bif#>, so no other prefix can reach them either.
            if token.kind == "iri" and token.text[1:-1].lower().startswith(_FUNCTION_NAMESPACES):
                raise Forbidden(
                    f"{token.text} names functions of the SPARQL server itself, which exmech "
                    "does not let queries call"
                )


def normalise_json(body: bytes) -> bytes:
    """Virtuoso's SPARQL JSON made standard: what the embedded store would have written.

    ``typed-literal`` becomes ``literal`` (xsd:string loses its datatype, as in RDF 1.1),
    booleans its bulk loader stored as 0/1 read true/false again, blank node labels become
    valid labels, a Virtuoso ASK (one row of ``__ASK_RETVAL``) becomes a boolean, and
    non-SPARQL variable names (``callret-0``) valid ones.

    >>> normalise_json(b'{"head":{"vars":["__ASK_RETVAL"]},"results":{"bindings":[{"__ASK_RETVAL":{"type":"typed-literal","datatype":"http://www.w3.org/2001/XMLSchema#integer","value":"1"}}]}}')
    b'{"head":{},"boolean":true}'
    >>> normalise_json(b'{"head":{"vars":["o"]},"results":{"bindings":[{"o":{"type":"typed-literal","datatype":"http://www.w3.org/2001/XMLSchema#string","value":"x"}},{"o":{"type":"bnode","value":"nodeID://b1"}}]}}')
    b'{"head":{"vars":["o"]},"results":{"bindings":[{"o":{"type":"literal","value":"x"}},{"o":{"type":"bnode","value":"nodeID_b1"}}]}}'
    """
    data = json.loads(body)
    variables = data.get("head", {}).get("vars", [])
    if "boolean" not in data and variables == ["__ASK_RETVAL"]:
        rows = data["results"]["bindings"]
        value = rows[0]["__ASK_RETVAL"]["value"] if rows else "0"
        return json.dumps(
            {"head": {}, "boolean": value not in ("0", "false")}, separators=(",", ":")
        ).encode()
    if "results" not in data:
        return body
    names = {v: _variable(v) for v in variables}
    data["head"] = {"vars": list(names.values())}
    data["results"] = {"bindings": [_row(row, names) for row in data["results"]["bindings"]]}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _variable(name: str) -> str:
    return name if _VARIABLE.fullmatch(name) else re.sub(r"\W", "_", name)


def _row(row: dict[str, dict[str, str]], names: dict[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, term in row.items():
        kind = term.get("type")
        if kind == "typed-literal":
            term = {"type": "literal", "value": term["value"], "datatype": term["datatype"]}
        if kind in ("typed-literal", "literal") and term.get("datatype") == XSD_STRING:
            term = {"type": "literal", "value": term["value"]}
        elif term.get("datatype") == XSD_BOOLEAN and term["value"] in _BOOLEANS:
            term = {**term, "value": _BOOLEANS[term["value"]]}
        elif kind == "bnode":
            term = {"type": "bnode", "value": re.sub(r"[^A-Za-z0-9_]+", "_", term["value"])}
        out[names.get(name, _variable(name))] = term
    return out


def canonical(triple: ox.Triple) -> ox.Triple:
    """The triple with a 0/1 boolean (as Virtuoso's bulk loader stores it) read false/true."""
    value = triple.object
    if isinstance(value, ox.Literal) and value.datatype.value == XSD_BOOLEAN:
        if value.value in _BOOLEANS:
            literal = ox.Literal(_BOOLEANS[value.value], datatype=value.datatype)
            return ox.Triple(triple.subject, triple.predicate, literal)
    return triple


def quads_text(quads: Iterable[ox.Quad]) -> str:
    """Quads as SPARQL Update data, one GRAPH block a graph."""
    by_graph: dict[str, list[str]] = defaultdict(list)
    for quad in quads:
        by_graph[str(quad.graph_name)].append(f"{quad.subject} {quad.predicate} {quad.object} .")
    return " ".join(f"GRAPH {graph} {{ {' '.join(lines)} }}" for graph, lines in by_graph.items())
