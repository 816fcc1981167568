"""Namespaces and resource IRIs (claim names are hashed in ``nanopub.claim_slug``).

Pure: no I/O, no store. Every IRI exmech mints goes through here so that the
patterns in docs/model.md live in one place.
"""

from __future__ import annotations

import re

BASE = "https://w3id.org/exmech"
ONTOLOGY = f"{BASE}/ontology"
EXM = f"{ONTOLOGY}#"
ID = f"{BASE}/id/"
SHAPES = f"{BASE}/shapes"
# The release of the ontology, shapes and JSON-LD contexts (owl:versionInfo of both files;
# earlier releases: linked_data/versions.py).
RELEASE = "0.2.0"

NP = "http://www.nanopub.org/nschema#"
NPX = "http://purl.org/nanopub/x/"
PROV = "http://www.w3.org/ns/prov#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
FABIO = "http://purl.org/spar/fabio/"
BIBO = "http://purl.org/ontology/bibo/"
FOAF = "http://xmlns.com/foaf/0.1/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
OWL = "http://www.w3.org/2002/07/owl#"
SH = "http://www.w3.org/ns/shacl#"

KINDS = ("theme", "mechanism", "exercise", "study", "claim", "curator", "graph")

PREFIXES: dict[str, str] = {
    "exm": EXM,
    "np": NP,
    "npx": NPX,
    "prov": PROV,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "fabio": FABIO,
    "bibo": BIBO,
    "foaf": FOAF,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "owl": OWL,
    "sh": SH,
    **{kind: f"{ID}{kind}/" for kind in KINDS},
}

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
GRAPH_PARTS = ("head", "assertion", "provenance", "pubinfo")


def iri(kind: str, slug: str, base: str = BASE) -> str:
    """The IRI of a resource; raises ValueError for an unknown kind or a malformed slug.

    >>> iri("mechanism", "muscle-strength")
    'https://w3id.org/exmech/id/mechanism/muscle-strength'
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not SLUG.match(slug):
        raise ValueError(f"malformed slug {slug!r}: use lower-case letters, digits and hyphens")
    return f"{base}/id/{kind}/{slug}"


def split_iri(value: str, base: str = BASE) -> tuple[str, str] | None:
    """(kind, slug) of one of our resource IRIs, or None.

    >>> split_iri("https://w3id.org/exmech/id/study/wun-2021#rank-3")
    ('study', 'wun-2021')
    >>> split_iri("https://example.org/x") is None
    True
    """
    prefix = f"{base}/id/"
    if not value.startswith(prefix):
        return None
    kind, _, rest = value[len(prefix) :].partition("/")
    slug = rest.split("#", 1)[0]
    if kind not in KINDS or not SLUG.match(slug):
        return None
    return kind, slug


def claim_graphs(slug: str, base: str = BASE) -> dict[str, str]:
    """The four named graphs of a claim nanopublication, by part.

    >>> claim_graphs("abc")["assertion"]
    'https://w3id.org/exmech/id/graph/abc-assertion'
    """
    return {part: iri("graph", f"{slug}-{part}", base) for part in GRAPH_PARTS}
