"""Content negotiation, format names, conversion, and row capping in every results format."""

from __future__ import annotations

import io

import pyoxigraph as ox
import pytest
import rdflib
from exmech import formats
from exmech.formats import GRAPHS, RESULTS, by_name, negotiate
from exmech.store.results import cap_rows
from rdflib.query import Result

SELECT_CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SPARQLWRAPPER_JSON = (
    "application/sparql-results+json,application/json,text/javascript,application/javascript"
)
SPARQLWRAPPER_N3 = (
    "application/turtle,text/turtle,text/rdf+n3,application/n-triples,application/n3,text/n3"
)


@pytest.mark.parametrize(
    ("accept", "format_param", "expected"),
    [
        (None, None, "json"),
        ("", None, "json"),
        ("*/*", None, "json"),
        ("*", None, "json"),
        ("application/*", None, "json"),
        ("text/*", None, "csv"),
        ("application/sparql-results+xml", None, "xml"),
        ("application/sparql-results+json;charset=utf-8", None, "json"),
        ("APPLICATION/SPARQL-RESULTS+XML", None, "xml"),
        ("text/tab-separated-values; charset=utf-8", None, "tsv"),
        ("text/csv;q=0.5, application/sparql-results+xml", None, "xml"),
        ("text/csv;q=0.9, text/tab-separated-values;q=0.95", None, "tsv"),
        ("application/sparql-results+json;q=0, */*", None, "xml"),
        ("*/*;q=0.1, text/tab-separated-values", None, "tsv"),
        (SELECT_CHROME, None, "xml"),
        (SPARQLWRAPPER_JSON, None, "json"),
        ("application/xml", None, "xml"),
        ("image/png", None, None),
        ("text/csv;q=0", None, None),
        ("garbage", None, None),
        (";;;,,,", None, None),
        ("text/turtle", None, None),
        ("image/png", "csv", "csv"),
        (None, "text/tab-separated-values", "tsv"),
        (None, "JSON", "json"),
        (None, "bogus", None),
        (None, ["bogus", "xml"], "xml"),
        (None, ["tsv", "text/tab-separated-values"], "tsv"),
    ],
)
def test_negotiate_results(
    accept: str | None, format_param: str | list[str] | None, expected: str | None
) -> None:
    chosen = negotiate(accept, format_param, RESULTS)
    assert (chosen.name if chosen else None) == expected


@pytest.mark.parametrize(
    ("accept", "format_param", "expected"),
    [
        (None, None, "turtle"),
        ("*/*", None, "turtle"),
        ("application/*", None, "ntriples"),
        ("text/turtle", None, "turtle"),
        ("application/x-turtle", None, "turtle"),
        (SPARQLWRAPPER_N3, None, "turtle"),
        ("application/n-triples", None, "ntriples"),
        ("text/plain", None, "ntriples"),
        ("application/rdf+xml", None, "rdfxml"),
        ("application/xml", None, "rdfxml"),
        ("application/ld+json", None, "jsonld"),
        ("application/json", None, "jsonld"),
        ("application/trig", None, "trig"),
        ("application/n-quads", None, "nquads"),
        ("text/turtle;q=0.1, application/ld+json;q=0.2", None, "jsonld"),
        (SELECT_CHROME, None, "rdfxml"),
        ("application/sparql-results+json", None, None),
        ("text/csv", None, None),
        # SPARQLWrapper's format= values for CONSTRUCT.
        (None, ["rdf+xml", "application/rdf+xml"], "rdfxml"),
        (None, ["json-ld", "application/ld+json"], "jsonld"),
        (None, "n3", "turtle"),
        (None, "turtle", "turtle"),
        (None, "xml", "rdfxml"),
        (None, "nt", "ntriples"),
        (None, "csv", None),
    ],
)
def test_negotiate_graphs(
    accept: str | None, format_param: str | list[str] | None, expected: str | None
) -> None:
    chosen = negotiate(accept, format_param, GRAPHS)
    assert (chosen.name if chosen else None) == expected


def test_a_huge_accept_header_is_parsed() -> None:
    header = ", ".join(f"application/x-{i};q=0.{i % 10}" for i in range(2000))
    assert negotiate(header, None, RESULTS) is None
    assert negotiate(header + ", text/csv;q=0.01", None, RESULTS) == formats.SPARQL_CSV


@pytest.mark.parametrize("offer", RESULTS)
def test_results_formats_are_pyoxigraphs(offer: formats.Format) -> None:
    fmt = ox.QueryResultsFormat.from_media_type(offer.media_type)
    assert fmt is not None and by_name(fmt.file_extension, RESULTS) == offer


@pytest.mark.parametrize("offer", GRAPHS)
def test_graph_formats_are_pyoxigraphs(offer: formats.Format) -> None:
    fmt = ox.RdfFormat.from_media_type(offer.media_type)
    assert fmt is not None and by_name(fmt.file_extension, GRAPHS) == offer


@pytest.mark.parametrize(
    ("offer", "content_type"),
    [
        (formats.SPARQL_JSON, "application/sparql-results+json"),
        (formats.SPARQL_XML, "application/sparql-results+xml; charset=utf-8"),
        (formats.SPARQL_CSV, "text/csv; charset=utf-8"),
        (formats.TURTLE, "text/turtle; charset=utf-8"),
        (formats.RDFXML, "application/rdf+xml; charset=utf-8"),
        (formats.JSONLD, "application/ld+json"),
    ],
)
def test_content_type(offer: formats.Format, content_type: str) -> None:
    assert offer.content_type == content_type


TURTLE = b"""@prefix e: <http://e/> .
e:s e:p "line one\\nline \\"two\\"" , 3 , e:o ; e:q "chat"@fr .
"""
RDFLIB_NAMES = {
    "turtle": "turtle",
    "ntriples": "nt",
    "rdfxml": "xml",
    "jsonld": "json-ld",
    "trig": "trig",
    "nquads": "nquads",
}


@pytest.mark.parametrize("target", GRAPHS)
def test_convert_keeps_every_triple(target: formats.Format) -> None:
    body = formats.convert(TURTLE, formats.TURTLE, target, {"e": "http://e/"})
    expected = rdflib.Graph().parse(data=TURTLE, format="turtle")
    if target.name in ("trig", "nquads"):
        got = rdflib.Dataset()
        got.parse(data=body, format=RDFLIB_NAMES[target.name])
        triples = set(got.triples((None, None, None)))
    else:
        triples = set(rdflib.Graph().parse(data=body, format=RDFLIB_NAMES[target.name]))
    assert triples == set(expected)


# Rows that stress every serializer: a line break, quotes, a comma, a tab, an unbound
# variable, an empty string, and a row of nothing but unbound variables.
ROWS_QUERY = """SELECT ?x ?y { VALUES (?x ?y) {
  ("a\\nb" 1) (UNDEF UNDEF) ("q\\"t\\tz\\r" <http://x/>) ("é,x" "") (UNDEF "only y")
  ("\\r\\n" "x,\\"y\\"") } }"""
RESULT_TYPES = [
    ("application/sparql-results+json", ox.QueryResultsFormat.JSON, "json"),
    ("application/sparql-results+xml", ox.QueryResultsFormat.XML, "xml"),
    ("text/csv", ox.QueryResultsFormat.CSV, "csv"),
    ("text/tab-separated-values", ox.QueryResultsFormat.TSV, "tsv"),
]


def _rows(body: bytes, rdflib_format: str) -> list[tuple[str | None, ...]]:
    """Rows as parsed by rdflib (its iterator skips all-unbound rows; bindings keep them)."""
    result = Result.parse(io.BytesIO(body), format=rdflib_format)
    names = result.vars or []
    return [
        tuple(str(row[v]) if row.get(v) is not None else None for v in names)
        for row in result.bindings
    ]


@pytest.mark.parametrize(("media_type", "fmt", "rdflib_format"), RESULT_TYPES)
@pytest.mark.parametrize("limit", [None, 0, 1, 2, 5, 6, 7])
def test_cap_rows_keeps_exactly_the_first_rows(
    media_type: str, fmt: ox.QueryResultsFormat, rdflib_format: str, limit: int | None
) -> None:
    store = ox.Store()
    body = store.query(ROWS_QUERY).serialize(format=fmt)
    everything = _rows(body, rdflib_format)
    assert len(everything) == 6

    capped, rows, truncated = cap_rows(body, media_type + "; charset=utf-8", limit)

    kept = everything if limit is None else everything[:limit]
    assert (rows, truncated) == (len(kept), len(kept) < len(everything))
    assert _rows(capped, rdflib_format) == kept
    if not truncated:
        assert capped == body


@pytest.mark.parametrize(("media_type", "fmt", "rdflib_format"), RESULT_TYPES)
def test_cap_rows_counts_rows_without_variables(
    media_type: str, fmt: ox.QueryResultsFormat, rdflib_format: str
) -> None:
    body = ox.Store().query("SELECT * { VALUES () { () () () } }").serialize(format=fmt)
    capped, rows, truncated = cap_rows(body, media_type, 2)
    assert (rows, truncated) == (2, True)
    assert cap_rows(capped, media_type, None)[1] == 2


def test_cap_rows_refuses_graph_formats() -> None:
    with pytest.raises(ValueError, match="text/turtle"):
        cap_rows(b"", "text/turtle", 1)
