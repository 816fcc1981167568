"""Curation: curators submit claims, SHACL decides, accepted nanopublications are never lost.

A submission is RDF (TriG, Turtle, N-Quads, N-Triples or JSON-LD, by Content-Type; RDF/XML
gets 415) holding either complete nanopublications or bare assertion triples in the default
graph plus request fields (:class:`Fields`, as query parameters or, with multipart/form-data,
form fields beside a file part ``data``). Each bare triple becomes one claim nanopublication
whose publication info the service writes (the authenticated curator, described as a
prov:Person with the token's name; the time; CC BY 4.0; ``dcterms:conformsTo`` the shapes'
versionIRI). Complete nanopublications keep their publication info, but must be attributed
to the authenticated curator and retract only in the curator's name (else 403: rejected,
never rewritten) and must state the current shapes version.

Every nanopublication is named by its content (``nanopub.slug_for``: assertion + study, or
assertion + retracting curator); the IRIs a complete one used for itself and its four graphs
are replaced. Resubmitting a claim therefore finds the stored one: the answer is 200 with
``"existing": true`` and nothing is written; 201 means at least one nanopublication was added.

The parts, each importing only those after it: ``routes`` (the ``/curation`` blueprint and
its routes and errors), ``desk`` (the :class:`Curation` desk, which checks and accepts),
``wrapping`` (bare triples and retractions as nanopublications), ``submission`` (a request's
syntax, fields and curator); ``export`` (accepted submissions as TriG) stands apart. Only
``routes`` uses Flask.
"""

from __future__ import annotations

from exmech.curation.desk import (
    ATTRIBUTED,
    CLAIM_SLUG,
    VALIDATED,
    Checked,
    Curation,
    Outcome,
    ValidationFailed,
    finding,
    publication_problems,
)
from exmech.curation.export import export_trig
from exmech.curation.routes import REPORT_OFFERS, bp
from exmech.curation.submission import (
    FIELD_NAMES,
    SUBMISSION_FORMATS,
    Curator,
    Fields,
    body_format,
)
from exmech.curation.wrapping import now_literal, retraction, wrap

__all__ = [
    "ATTRIBUTED",
    "CLAIM_SLUG",
    "Checked",
    "Curation",
    "Curator",
    "FIELD_NAMES",
    "Fields",
    "Outcome",
    "REPORT_OFFERS",
    "SUBMISSION_FORMATS",
    "VALIDATED",
    "ValidationFailed",
    "body_format",
    "bp",
    "export_trig",
    "finding",
    "now_literal",
    "publication_problems",
    "retraction",
    "wrap",
]
