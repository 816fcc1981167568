"""Submissions as nanopublications: each bare assertion triple becomes a claim, a withdrawal
becomes a retraction, and both get the publication info the service writes.

Built with rdflib through ``exmech.nanopub`` (the importer's own builders), so submitted
claims have exactly the shape of the shipped ones; returned as pyoxigraph quads for checking.
Terms cross between the two libraries one by one (``nanopub.rdflib_term``/``ox_term``), never
through rdflib's parser, which would rewrite lexical forms ("01" to "1", "true " to "false").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyoxigraph as ox
import rdflib
from rdflib.namespace import XSD

from exmech import nanopub
from exmech.curation.submission import Fields


def now_literal() -> rdflib.Literal:
    """The current time as an xsd:dateTime in UTC, to the second."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return rdflib.Literal(stamp, datatype=XSD.dateTime, normalize=False)


def wrap(
    quads: Sequence[ox.Quad], fields: Fields, info: nanopub.PubInfo, base: str
) -> list[ox.Quad]:
    """One claim nanopublication per bare assertion triple, with the fields' provenance."""
    prov = fields.provenance(base)
    ds = rdflib.Dataset()
    for q in dict.fromkeys(ox.Triple(q.subject, q.predicate, q.object) for q in quads):
        s, o = nanopub.rdflib_term(q.subject), nanopub.rdflib_term(q.object)
        if isinstance(s, rdflib.URIRef):
            nanopub.add_claim(ds, (s, rdflib.URIRef(q.predicate.value), o), prov, info, base)  # type: ignore[arg-type]
    return _quads(ds)


def retraction(target: str, info: nanopub.PubInfo, base: str) -> list[ox.Quad]:
    """The quads of a retraction of ``target`` by ``info.curator``."""
    ds = rdflib.Dataset()
    nanopub.add_retraction(ds, rdflib.URIRef(target), info, base)
    return _quads(ds)


def _quads(ds: rdflib.Dataset) -> list[ox.Quad]:
    """An rdflib dataset as pyoxigraph quads, term by term (lexical forms kept)."""
    quads = []
    for s, p, o, g in ds.quads((None, None, None, None)):
        subject = nanopub.ox_term(s)
        assert not isinstance(subject, ox.Literal)
        graph = g.identifier if isinstance(g, rdflib.Graph) else g
        quads.append(
            ox.Quad(subject, ox.NamedNode(str(p)), nanopub.ox_term(o), ox.NamedNode(str(graph)))
        )
    return quads
