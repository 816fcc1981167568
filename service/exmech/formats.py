"""Every media type exmech speaks, and content negotiation over them.

Pure: takes header values and returns choices; the response objects are built by the
blueprints. Built on pyoxigraph's format objects and werkzeug's Accept parsing, so q-values,
wildcards and parameters behave as in every mature server: no Accept header gives the
default, an Accept header that matches nothing gives None (406 for the caller).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header


@dataclass(frozen=True)
class Format:
    """A media type we can produce, with its short name for ``?format=``."""

    name: str
    media_type: str
    aliases: tuple[str, ...] = ()
    extension: str = ""

    @property
    def content_type(self) -> str:
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
    return Format(name, media_type_of(fmt.media_type), aliases, fmt.file_extension)


def _rdf(fmt: ox.RdfFormat, name: str, *aliases: str) -> Format:
    return Format(name, media_type_of(fmt.media_type), aliases, fmt.file_extension)


SPARQL_JSON = _results(ox.QueryResultsFormat.JSON, "json", "application/json")
SPARQL_XML = _results(ox.QueryResultsFormat.XML, "xml", "application/xml", "text/xml")
SPARQL_CSV = _results(ox.QueryResultsFormat.CSV, "csv")
SPARQL_TSV = _results(ox.QueryResultsFormat.TSV, "tsv")
RESULTS = (SPARQL_JSON, SPARQL_XML, SPARQL_CSV, SPARQL_TSV)

TURTLE = _rdf(ox.RdfFormat.TURTLE, "turtle", "ttl", "application/x-turtle")
NTRIPLES = _rdf(ox.RdfFormat.N_TRIPLES, "ntriples", "nt", "text/plain")
RDFXML = _rdf(ox.RdfFormat.RDF_XML, "rdfxml", "rdf", "application/xml", "text/xml")
JSONLD = _rdf(ox.RdfFormat.JSON_LD, "jsonld", "json", "application/json")
TRIG = _rdf(ox.RdfFormat.TRIG, "trig")
NQUADS = _rdf(ox.RdfFormat.N_QUADS, "nquads", "nq")
GRAPHS = (TURTLE, NTRIPLES, RDFXML, JSONLD, TRIG, NQUADS)
HTML = Format("html", "text/html", ("htm",), "html")
JSON = Format("json", "application/json", (), "json")


def offers_for(form: str | None) -> tuple[Format, ...]:
    """The formats a query of this form can be answered in, default first."""
    return GRAPHS if form in ("CONSTRUCT", "DESCRIBE") else RESULTS


def by_name(value: str, offers: tuple[Format, ...]) -> Format | None:
    """The offer a ``format`` parameter names (short name, alias or media type).

    >>> by_name("ttl", GRAPHS).name
    'turtle'
    >>> by_name("text/csv", RESULTS).name
    'csv'
    """
    wanted = value.strip().lower()
    for offer in offers:
        if wanted in (offer.name, offer.media_type, offer.extension, *offer.aliases):
            return offer
    return None


def negotiate(
    accept: str | None, format_param: str | None, offers: tuple[Format, ...]
) -> Format | None:
    """Pick the offer a client asked for; None when it accepts none of them.

    A ``format`` parameter wins over Accept (for browsers and curl users). Without an
    Accept header, the first offer is the default.

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
    """
    if format_param:
        return by_name(format_param, offers)
    if accept is None or not accept.strip():
        return offers[0]
    parsed = parse_accept_header(accept, MIMEAccept)
    candidates: dict[str, Format] = {}
    for offer in offers:
        candidates.setdefault(offer.media_type, offer)
    for offer in offers:
        for alias in offer.aliases:
            if "/" in alias:
                candidates.setdefault(alias, offer)
    best = parsed.best_match(list(candidates))
    if best is None:
        return None
    chosen = candidates[best]
    # Prefer the canonical type when a wildcard matched an alias first.
    return chosen
