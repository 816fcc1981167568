"""Submissions as nanopublications: each bare assertion triple becomes a claim, a withdrawal
becomes a retraction, and both get the publication info the service writes.

Built with rdflib through ``exmech.nanopub`` (the importer's own builders), so submitted
claims have exactly the shape of the shipped ones; returned as pyoxigraph quads for checking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyoxigraph as ox
import rdflib
from rdflib.namespace import XSD

from exmech import nanopub
from exmech.curation.submission import Fields
from exmech.validation import parse, to_rdflib


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
    for s, p, o in to_rdflib(quads):
        if isinstance(s, rdflib.URIRef) and isinstance(p, rdflib.URIRef):
            nanopub.add_claim(ds, (s, p, o), prov, info, base)  # type: ignore[arg-type]
    return _quads(ds)


def retraction(target: str, info: nanopub.PubInfo, base: str) -> list[ox.Quad]:
    """The quads of a retraction of ``target`` by ``info.curator``."""
    ds = rdflib.Dataset()
    nanopub.add_retraction(ds, rdflib.URIRef(target), info, base)
    return _quads(ds)


def _quads(ds: rdflib.Dataset) -> list[ox.Quad]:
    """An rdflib dataset as pyoxigraph quads (through N-Quads, as validation reads them)."""
    return parse(ds.serialize(format="nquads").encode(), ox.RdfFormat.N_QUADS)
