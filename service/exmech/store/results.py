"""Answers as bytes and as terms: row counting and truncation on serialized SELECT results,
and the one place a serialized answer is parsed into ``Results``.

The engine serializes far faster than Python could, so exmech lets it write the bytes
(after a top-level LIMIT of max_rows + 1, see querytext.with_row_cap) and then counts and,
rarely, trims the rows in the bytes. Shared by every store backend.

Trimming cuts the engine's own bytes at a record boundary, so what is kept is byte for byte
what the engine wrote; only JSON is parsed and written again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import orjson
import pyoxigraph as ox

from exmech.store import Answer, Results

# What a store serializes an answer in when exmech itself will read it: the most compact
# format of each kind that pyoxigraph writes and reads back exactly (TSV keeps blank node
# labels, language tags, datatypes and triple terms; it parses about twice as fast as JSON).
PARSED_TYPES = {
    "SELECT": "text/tab-separated-values",
    "ASK": "application/sparql-results+json",
    "CONSTRUCT": "application/n-triples",
    "DESCRIBE": "application/n-triples",
}

# In CSV a record ends at a line feed outside double quotes; a quoted field ("a""b") is
# matched whole, so line breaks inside it are skipped.
_CSV_FIELD_OR_END = re.compile(rb'"[^"]*"|\n')


def _csv_record_ends(body: bytes) -> Iterator[int]:
    for match in _CSV_FIELD_OR_END.finditer(body):
        if match.group() == b"\n":
            yield match.end()


def _tsv_record_ends(body: bytes) -> Iterator[int]:
    # TSV escapes line breaks inside terms (\n), so every line feed ends a record.
    pos = body.find(b"\n")
    while pos >= 0:
        yield pos + 1
        pos = body.find(b"\n", pos + 1)


def _cap_records(body: bytes, ends: Iterator[int], limit: int | None) -> tuple[bytes, int, bool]:
    """Count the records after the header line; cut after ``limit`` of them."""
    rows = -1
    for end in ends:
        rows += 1
        if limit is not None and rows == limit:
            if end < len(body):
                return body[:end], limit, True
    return body, max(rows, 0), False


def _cap_xml(body: bytes, limit: int | None) -> tuple[bytes, int, bool]:
    # Literals are escaped (&lt;), so "<result>" only ever opens a solution.
    rows = body.count(b"<result>")
    if limit is None or rows <= limit:
        return body, rows, False
    cut = -1
    for _ in range(limit + 1):
        cut = body.index(b"<result>", cut + 1)
    return body[:cut] + b"</results></sparql>", limit, True


def _cap_json(body: bytes, limit: int | None) -> tuple[bytes, int, bool]:
    # orjson: every JSON answer is parsed here to count its rows, 5x to 12x faster than json
    # on 3 kB to 200 kB answers (bench/README.md); it writes compact UTF-8, as json did here.
    data = orjson.loads(body)
    bindings = data["results"]["bindings"]
    if limit is None or len(bindings) <= limit:
        return body, len(bindings), False
    data["results"]["bindings"] = bindings[:limit]
    return orjson.dumps(data), limit, True


def cap_rows(body: bytes, media_type: str, limit: int | None) -> tuple[bytes, int, bool]:
    """(body with at most ``limit`` rows, rows kept, whether rows were dropped).

    Raises ValueError for a media type that is not a SPARQL results format.

    >>> cap_rows(b'?a\\n<x>\\n<y>\\n', "text/tab-separated-values", 1)
    (b'?a\\n<x>\\n', 1, True)
    >>> cap_rows(b'a\\r\\n"x\\r\\ny"\\r\\n\\r\\n', "text/csv; charset=utf-8", 1)
    (b'a\\r\\n"x\\r\\ny"\\r\\n', 1, True)
    >>> two = b'{"head":{"vars":[]},"results":{"bindings":[{},{}]}}'
    >>> cap_rows(two, "application/sparql-results+json", 5)[1:]
    (2, False)
    """
    kind = media_type.split(";")[0].strip().lower()
    if kind == "application/sparql-results+json":
        return _cap_json(body, limit)
    if kind == "application/sparql-results+xml":
        return _cap_xml(body, limit)
    if kind == "text/tab-separated-values":
        return _cap_records(body, _tsv_record_ends(body), limit)
    if kind == "text/csv":
        return _cap_records(body, _csv_record_ends(body), limit)
    raise ValueError(f"cannot count rows of {media_type}")


def parsed_type(form: str) -> str:
    """The media type a store serializes a ``form`` answer in for ``parse``."""
    return PARSED_TYPES.get(form, PARSED_TYPES["SELECT"])


def parse(answer: Answer) -> Results:
    """The answer's rows (or boolean, or triples) as pyoxigraph terms, read once.

    Raises ValueError for an answer in a format that is not RDF or SPARQL results.

    >>> tsv = b"?s\\t?n\\n<http://e/a>\\t1\\n\\t\\n"
    >>> rows = parse(Answer(tsv, "text/tab-separated-values", 2, False, "g")).rows
    >>> rows[0][0], rows[0][1].value, rows[1]
    (<NamedNode value=http://e/a>, '1', (None, None))
    """
    size = len(answer.body)
    if answer.form in ("CONSTRUCT", "DESCRIBE"):
        rdf = ox.RdfFormat.from_media_type(answer.media_type)
        if rdf is None:
            raise ValueError(f"cannot read {answer.media_type} as RDF")
        triples = tuple(q.triple for q in ox.parse(answer.body, format=rdf))
        return Results(
            (), (), answer.truncated, answer.generation, answer.form, triples=triples, size=size
        )
    fmt = ox.QueryResultsFormat.from_media_type(answer.media_type)
    if fmt is None:
        raise ValueError(f"cannot read {answer.media_type} as SPARQL results")
    parsed = ox.parse_query_results(answer.body, format=fmt)
    if isinstance(parsed, ox.QueryBoolean):
        return Results((), (), False, answer.generation, "ASK", boolean=bool(parsed), size=size)
    columns = tuple(v.value for v in parsed.variables)
    rows = tuple(tuple(solution) for solution in parsed)
    return Results(columns, rows, answer.truncated, answer.generation, "SELECT", size=size)
