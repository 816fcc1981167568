"""Every media type exmech speaks, and content negotiation over them.

Pure: takes header values and returns choices; the response objects are built by the
blueprints. Built on pyoxigraph's format objects and werkzeug's Accept parsing, so q-values,
wildcards and parameters behave as in every mature server: no Accept header gives the
default, an Accept header that matches nothing gives None (406 for the caller).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from exmech import rdf


@dataclass(frozen=True)
class Format:
    """A media type we can produce, with its short name for ``?format=``."""

    name: str
    media_type: str
    aliases: tuple[str, ...] = ()
    extension: str = ""
    iri: str = ""  # the W3C format IRI, for service descriptions

    @property
    def content_type(self) -> str:
        """The Content-Type header value: text and XML types say their charset.

        >>> SPARQL_CSV.content_type
        'text/csv; charset=utf-8'
        >>> JSONLD.content_type
        'application/ld+json'
        """
        if self.media_type.startswith("text/") or self.media_type.endswith(("+xml", "/xml")):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


def media_type_of(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lower-cased.

    >>> media_type_of("application/sparql-query; charset=UTF-8")
    'application/sparql-query'
    """
    return (content_type or "").split(";", 1)[0].strip().lower()


def _results(fmt: ox.QueryResultsFormat, name: str, *aliases: str) -> Format:
    return Format(name, media_type_of(fmt.media_type), aliases, fmt.file_extension, fmt.iri)


def _rdf(fmt: ox.RdfFormat, name: str, *aliases: str, iri: str = "") -> Format:
    return Format(name, media_type_of(fmt.media_type), aliases, fmt.file_extension, iri or fmt.iri)


SPARQL_JSON = _results(ox.QueryResultsFormat.JSON, "json", "application/json")
SPARQL_XML = _results(ox.QueryResultsFormat.XML, "xml", "application/xml", "text/xml")
SPARQL_CSV = _results(ox.QueryResultsFormat.CSV, "csv")
SPARQL_TSV = _results(ox.QueryResultsFormat.TSV, "tsv")
RESULTS = (SPARQL_JSON, SPARQL_XML, SPARQL_CSV, SPARQL_TSV)

# Aliases: the names SPARQLWrapper and other clients put in ?format= (n3, rdf+xml,
# json-ld...), and media types of formats ours are a subset of (Turtle is valid N3).
TURTLE = _rdf(
    ox.RdfFormat.TURTLE,
    "turtle",
    "ttl",
    "n3",
    "application/turtle",
    "application/x-turtle",
    "text/n3",
    "text/rdf+n3",
    "application/n3",
)
NTRIPLES = _rdf(ox.RdfFormat.N_TRIPLES, "ntriples", "nt", "n-triples", "text/plain")
RDFXML = _rdf(ox.RdfFormat.RDF_XML, "rdfxml", "rdf+xml", "xml", "application/xml", "text/xml")
# pyoxigraph names the newer ns/formats/data/ IRI; the Service Description vocabulary and its
# users know this one.
JSONLD = _rdf(
    ox.RdfFormat.JSON_LD,
    "jsonld",
    "json-ld",
    "json",
    "application/json",
    "application/x-json+ld",
    iri="http://www.w3.org/ns/formats/JSON-LD",
)
TRIG = _rdf(ox.RdfFormat.TRIG, "trig")
NQUADS = _rdf(ox.RdfFormat.N_QUADS, "nquads", "n-quads")
GRAPHS = (TURTLE, NTRIPLES, RDFXML, JSONLD, TRIG, NQUADS)
HTML = Format("html", "text/html", ("htm", "application/xhtml+xml"), "html")
JSON = Format("json", "application/json", (), "json")
JSONLD_EXPANDED = "http://www.w3.org/ns/json-ld#expanded"
JSONLD_COMPACTED = "http://www.w3.org/ns/json-ld#compacted"


def wants_expanded(accept: str | None, profile: str | None) -> bool:
    """Expanded JSON-LD asked for: ``?profile=expanded``, or the expanded profile in Accept.

    >>> wants_expanded('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"', None)
    True
    >>> wants_expanded("application/ld+json", None), wants_expanded(None, "expanded")
    (False, True)
    """
    return profile == "expanded" or JSONLD_EXPANDED in (accept or "")


def offers_for(form: str | None) -> tuple[Format, ...]:
    """The formats a query of this form can be answered in, default first."""
    return GRAPHS if form in ("CONSTRUCT", "DESCRIBE") else RESULTS


def by_name(value: str, offers: tuple[Format, ...]) -> Format | None:
    """The offer a ``format`` parameter names (short name, alias, extension or media type).

    >>> by_name("ttl", GRAPHS).name
    'turtle'
    >>> by_name("text/csv", RESULTS).name
    'csv'
    >>> by_name("rdf+xml", GRAPHS).name, by_name("xml", RESULTS).name
    ('rdfxml', 'xml')
    >>> by_name("bogus", RESULTS) is None
    True
    """
    wanted = media_type_of(value)
    for offer in offers:
        if wanted in (offer.name, offer.media_type, offer.extension, *offer.aliases):
            return offer
    return None


def _accepted(accept: str) -> MIMEAccept:
    """The Accept header with media-type parameters dropped (q kept), ``*`` read as ``*/*``.

    Werkzeug would otherwise demand that ``text/csv;charset=utf-8`` match an offer's
    parameters too, and skip a bare ``*`` that old clients send.
    """
    best: dict[str, float] = {}
    for value, quality in parse_accept_header(accept, MIMEAccept):
        kind = media_type_of(value)
        kind = "*/*" if kind == "*" else kind
        if kind:
            best[kind] = max(quality, best.get(kind, 0.0))
    return MIMEAccept(list(best.items()))


def negotiate(
    accept: str | None,
    format_param: str | Sequence[str] | None,
    offers: tuple[Format, ...],
) -> Format | None:
    """Pick the offer a client asked for; None when it accepts none of them.

    A ``format`` parameter wins over Accept (for browsers and curl users); given several
    (SPARQLWrapper sends ``format=rdf+xml&format=application/rdf+xml``), the first that
    names an offer wins. Without an Accept header, the first offer is the default. Among
    offers a client likes equally, the earlier offer wins.

    >>> negotiate(None, None, RESULTS).name
    'json'
    >>> negotiate("text/csv;q=0.5, application/sparql-results+xml", None, RESULTS).name
    'xml'
    >>> negotiate("text/*", None, RESULTS).name
    'csv'
    >>> negotiate("image/png", None, RESULTS) is None
    True
    >>> negotiate("application/json", None, GRAPHS).name
    'jsonld'
    >>> negotiate("application/sparql-results+json;charset=utf-8", None, RESULTS).name
    'json'
    >>> negotiate("text/csv", ["bogus", "tsv"], RESULTS).name
    'tsv'
    """
    if format_param:
        names = [format_param] if isinstance(format_param, str) else list(format_param)
        for name in names:
            chosen = by_name(name, offers)
            if chosen is not None:
                return chosen
        return None
    if accept is None or not accept.strip():
        return offers[0]
    candidates: dict[str, Format] = {}
    for offer in offers:
        candidates.setdefault(offer.media_type, offer)
    for offer in offers:
        for alias in offer.aliases:
            if "/" in alias:
                candidates.setdefault(alias, offer)
    best = _accepted(accept).best_match(list(candidates))
    return None if best is None else candidates[best]


def convert(
    data: bytes, source: Format, target: Format, prefixes: Mapping[str, str] | None = None
) -> bytes:
    """RDF ``data`` in ``source`` format re-serialized as ``target``; raises SyntaxError.

    >>> convert(b"<http://e/s> <http://e/p> 1 .", TURTLE, NTRIPLES).decode().strip()
    '<http://e/s> <http://e/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .'
    """
    if source == target:
        return data
    read = ox.RdfFormat.from_media_type(source.media_type)
    write = ox.RdfFormat.from_media_type(target.media_type)
    if read is None or write is None:
        raise ValueError(f"cannot convert {source.media_type} to {target.media_type}")
    return rdf.serialize(rdf.parse(data, read), write, prefixes or {}, only_used=False)
