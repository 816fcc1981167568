"""Submissions as nanopublications: each bare assertion triple becomes a claim, a withdrawal
becomes a retraction, and both get the publication info the service writes.

Built by ``exmech.nanopub`` (the importer's own builders), so submitted claims have exactly
the shape of the shipped ones. The submitted terms are used as they were parsed, lexical
forms and all: nothing passes through another library's term model or parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyoxigraph as ox

from exmech import nanopub, vocab
from exmech.curation.submission import Fields
from exmech.errors import BadRequest

DATE_TIME = ox.NamedNode(vocab.XSD + "dateTime")


def now_literal() -> ox.Literal:
    """The current time as an xsd:dateTime in UTC, to the second."""
    return ox.Literal(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=DATE_TIME)


def wrap(
    quads: Sequence[ox.Quad], fields: Fields, info: nanopub.PubInfo, base: str
) -> list[ox.Quad]:
    """One claim nanopublication per bare assertion triple, with the fields' provenance
    (triples whose subject is not an IRI are left for the shapes to refuse)."""
    prov = fields.provenance(base)
    out: list[ox.Quad] = []
    for q in dict.fromkeys(ox.Triple(q.subject, q.predicate, q.object) for q in quads):
        if isinstance(q.object, ox.Triple):
            raise BadRequest(
                f"the object of a <{q.predicate.value}> statement is a triple term: a claim's "
                "assertion links an exercise type to a mechanism by their IRIs"
            )
        if isinstance(q.subject, ox.NamedNode):
            nanopub.add_claim(out, (q.subject, q.predicate, q.object), prov, info, base)
    return list(dict.fromkeys(out))


def retraction(target: str, info: nanopub.PubInfo, base: str) -> list[ox.Quad]:
    """The quads of a retraction of ``target`` by ``info.curator``."""
    out: list[ox.Quad] = []
    nanopub.add_retraction(out, ox.NamedNode(target), info, base)
    return list(dict.fromkeys(out))
