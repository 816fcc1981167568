"""The published JSON-LD ``@context`` and compaction with it (pyld, offline).

One context per ontology version, at ``{base}/ontology/{version}/context.jsonld`` (also
``/ontology/context.jsonld`` for the current one), so a consumer reads
``"prefLabel": "Motor control"`` and ``"inTheme": "https://w3id.org/exmech/id/theme/..."``.
exmech's own terms come through ``@vocab`` (a new ontology term compacts to its local name
with no change here); terms of the reused vocabularies are listed, IRI-valued ones coerced to
``@id``. Compaction never fetches anything: pyld gets the context as data and a document
loader that refuses every URL.
"""

from __future__ import annotations

import json
from typing import Any

from pyld import jsonld

from exmech import formats, vocab
from exmech.errors import BadRequest

# The ontology's owl:versionInfo (tests/test_jsonld.py checks they agree).
ONTOLOGY_VERSION = vocab.RELEASE
EXPANDED_PROFILE = formats.JSONLD_EXPANDED
COMPACTED_PROFILE = formats.JSONLD_COMPACTED

_IRI = {"@type": "@id"}
# term -> (IRI, coercion); names are the local names of the reused vocabularies' terms.
TERMS: dict[str, tuple[str, dict[str, str]]] = {
    "prefLabel": (vocab.SKOS + "prefLabel", {}),
    "definition": (vocab.SKOS + "definition", {}),
    "scopeNote": (vocab.SKOS + "scopeNote", {}),
    "broader": (vocab.SKOS + "broader", _IRI),
    "inScheme": (vocab.SKOS + "inScheme", _IRI),
    "hasTopConcept": (vocab.SKOS + "hasTopConcept", _IRI),
    "topConceptOf": (vocab.SKOS + "topConceptOf", _IRI),
    "label": (vocab.RDFS + "label", {}),
    "comment": (vocab.RDFS + "comment", {}),
    "seeAlso": (vocab.RDFS + "seeAlso", _IRI),
    "isDefinedBy": (vocab.RDFS + "isDefinedBy", _IRI),
    "subClassOf": (vocab.RDFS + "subClassOf", _IRI),
    "subPropertyOf": (vocab.RDFS + "subPropertyOf", _IRI),
    "domain": (vocab.RDFS + "domain", _IRI),
    "range": (vocab.RDFS + "range", _IRI),
    "title": (vocab.DCTERMS + "title", {}),
    "description": (vocab.DCTERMS + "description", {}),
    "created": (vocab.DCTERMS + "created", {"@type": vocab.XSD + "dateTime"}),
    "creator": (vocab.DCTERMS + "creator", _IRI),
    "license": (vocab.DCTERMS + "license", _IRI),
    "source": (vocab.DCTERMS + "source", _IRI),
    "replaces": (vocab.DCTERMS + "replaces", _IRI),
    "doi": (vocab.BIBO + "doi", {}),
    "pmid": (vocab.BIBO + "pmid", {}),
    "hasPublicationYear": (vocab.FABIO + "hasPublicationYear", {"@type": vocab.XSD + "gYear"}),
    "name": (vocab.FOAF + "name", {}),
    "wasDerivedFrom": (vocab.PROV + "wasDerivedFrom", _IRI),
    "wasAttributedTo": (vocab.PROV + "wasAttributedTo", _IRI),
    "actedOnBehalfOf": (vocab.PROV + "actedOnBehalfOf", _IRI),
    "alternateOf": (vocab.PROV + "alternateOf", _IRI),
    "hasAssertion": (vocab.NP + "hasAssertion", _IRI),
    "hasProvenance": (vocab.NP + "hasProvenance", _IRI),
    "hasPublicationInfo": (vocab.NP + "hasPublicationInfo", _IRI),
    "supersedes": (vocab.NPX + "supersedes", _IRI),
    "retracts": (vocab.NPX + "retracts", _IRI),
    "versionIRI": (vocab.OWL + "versionIRI", _IRI),
    "versionInfo": (vocab.OWL + "versionInfo", {}),
}
PREFIXES = ("exm", "np", "npx", "prov", "skos", "dcterms", "fabio", "bibo", "foaf", "rdf")


def context_iri(base: str = vocab.BASE, version: str = ONTOLOGY_VERSION) -> str:
    """Where the context of one ontology version is published.

    >>> context_iri()
    'https://w3id.org/exmech/ontology/0.2.0/context.jsonld'
    """
    return f"{base}/ontology/{version}/context.jsonld"


def context() -> dict[str, Any]:
    """The ``@context`` object itself (what ``context.jsonld`` holds under ``@context``).

    >>> c = context()
    >>> c["@vocab"], c["prefLabel"]
    ('https://w3id.org/exmech/ontology#', 'http://www.w3.org/2004/02/skos/core#prefLabel')
    >>> c["inTheme"]
    {'@id': 'https://w3id.org/exmech/ontology#inTheme', '@type': '@id'}
    """
    out: dict[str, Any] = {"@version": 1.1, "@vocab": vocab.EXM}
    out.update({p: vocab.PREFIXES[p] for p in PREFIXES})
    out["xsd"] = vocab.XSD
    for name, (iri, coercion) in TERMS.items():
        out[name] = {"@id": iri, **coercion} if coercion else iri
    # exmech's IRI-valued properties: compact to a plain IRI string, not {"@id": ...}.
    for name in EXM_IRI_VALUED:
        out[name] = {"@id": vocab.EXM + name, "@type": "@id"}
    return out


# exm: properties whose values are always IRIs (the rest come through @vocab unchanged): the
# ontology's owl:ObjectProperty terms; tests/test_jsonld.py fails when the two drift apart.
EXM_IRI_VALUED = (
    "assertionObject",
    "assertionPredicate",
    "assertionSubject",
    "caveat",
    "contradictedMechanism",
    "evidenceKind",
    "evidenceLevel",
    "examinedMechanism",
    "findingDirection",
    "hasSecondaryReport",
    "inTheme",
    "linkedMechanism",
    "listedIn",
    "listedMechanism",
    "mediatorStatus",
    "ofTheme",
    "proposedMechanism",
    "reportedIn",
    "secondaryReportOf",
    "studiesExerciseType",
    "supportedMechanism",
    "themeBasis",
    "unsupportedMechanism",
    "validatedAgainst",
    "wordingReadFrom",
    "wordingSourceKind",
)


def document() -> bytes:
    """The published context document, as served."""
    return json.dumps({"@context": context()}, indent=2, ensure_ascii=False).encode("utf-8")


def _refuse(url: str, options: Any = None) -> Any:
    raise BadRequest(f"exmech never fetches JSON-LD documents ({url[:100]})")


OPTIONS = {"documentLoader": _refuse}


def expanded(nquads: str) -> list[dict[str, Any]]:
    """Expanded JSON-LD of N-Quads (numbers and booleans as JSON values)."""
    return jsonld.from_rdf(  # type: ignore[no-any-return]
        nquads, {"format": "application/n-quads", "useNativeTypes": True, **OPTIONS}
    )


def compacted(nquads: str, base: str = vocab.BASE) -> dict[str, Any]:
    """Compacted JSON-LD of N-Quads, its ``@context`` the published context's IRI.

    >>> doc = compacted('<https://w3id.org/exmech/id/mechanism/m> '
    ...     '<http://www.w3.org/2004/02/skos/core#prefLabel> "Motor control" .\\n')
    >>> doc["prefLabel"], doc["@id"], doc["@context"].endswith("/0.2.0/context.jsonld")
    ('Motor control', 'https://w3id.org/exmech/id/mechanism/m', True)
    """
    out: dict[str, Any] = jsonld.compact(expanded(nquads), context(), OPTIONS)
    out["@context"] = context_iri(base)
    return out
