"""What a request submits: its RDF syntax, the fields that make claims of bare triples, and
the curator it acts for.

Pure (no store, no Flask), so the desk and the routes share one reading of a submission.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyoxigraph as ox

from exmech import formats, nanopub, vocab
from exmech.errors import BadRequest, UnsupportedMediaType
from exmech.validation import ParseError, parse

SUBMISSION_FORMATS = (
    formats.TRIG,
    formats.TURTLE,
    formats.NQUADS,
    formats.NTRIPLES,
    formats.JSONLD,
)
FIELD_NAMES = ("study", "location", "status", "note", "wording", "direction", "direction_note")
_IRI = re.compile(r"^https?://\S+$")
_STATUS = re.compile(r"^[A-Z][A-Za-z]*$")


@dataclass(frozen=True)
class Curator:
    """Who a request acts for: an IRI (ORCID welcome), a display name, and the public key
    their signed submissions must carry (empty when none is registered)."""

    iri: str
    name: str
    public_key: str = ""


@dataclass(frozen=True)
class Fields:
    """Request fields that make claims of bare assertion triples (query or form fields).

    ``study`` (IRI or slug such as ``sherman-2013``), ``location`` (where in the study),
    ``status`` (an ``exm:MediatorStatus`` local name such as ``MediationTested``, or its IRI),
    ``wording`` (the source's words) and the optional ``note``; ``direction`` (an
    ``exm:FindingDirection`` name: Supports, NoEffect, Contradicts, NotReported, the default)
    with ``direction_note``, the source's words for it. The evidence level follows from the
    status and the ECO evidence kind from the level (docs/model.md, Evidence).
    """

    study: str | None = None
    location: str | None = None
    status: str | None = None
    note: str | None = None
    wording: str | None = None
    direction: str | None = None
    direction_note: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Fields:
        """The fields present in a mapping; blank values count as absent.

        >>> Fields.of({"study": " wun-2021 ", "note": ""}).study
        'wun-2021'
        """
        return cls(**{k: (values.get(k) or "").strip() or None for k in FIELD_NAMES})

    def over(self, defaults: Fields) -> Fields:
        """These fields, the gaps filled from ``defaults`` (the note only with its status)."""
        note = self.note if self.status else (self.note or defaults.note)
        return Fields(
            self.study or defaults.study,
            self.location or defaults.location,
            self.status or defaults.status,
            note,
            self.wording or defaults.wording,
            self.direction or defaults.direction,
            self.direction_note if self.direction else defaults.direction_note,
        )

    def provenance(self, base: str) -> nanopub.Provenance:
        """The provenance these fields give; raises BadRequest for a missing or odd study.

        >>> Fields("wun-2021", status="OutcomeOnly").provenance(vocab.BASE).status
        <NamedNode value=https://w3id.org/exmech/ontology#OutcomeOnly>
        """
        if not self.study:
            raise BadRequest(
                "bare assertion triples need the field study (a study IRI or slug such as "
                "wun-2021), and location, status and wording; or send complete nanopublications"
            )
        if vocab.SLUG.match(self.study):
            study = vocab.iri("study", self.study, base)
        elif _IRI.match(self.study):
            study = self.study
        else:
            raise BadRequest(f"study must be a study IRI or slug, not {self.study!r}")
        status = None
        if self.status:
            if _IRI.match(self.status):
                status = ox.NamedNode(self.status)
            elif _STATUS.match(self.status):
                status = ox.NamedNode(vocab.EXM + self.status)
            else:
                raise BadRequest(
                    f"status must be an exm:MediatorStatus name such as NotMeasured, "
                    f"not {self.status!r}"
                )
        return nanopub.Provenance(
            ox.NamedNode(study),
            self.location,
            status,
            self.note,
            self.wording,
            evidence=self.evidence(status),
        )

    def evidence(self, status: ox.NamedNode | None) -> nanopub.Evidence | None:
        """Level (from the status), direction and ECO kind; None without a known status."""
        name = (status.value if status else "").removeprefix(vocab.EXM)
        if name not in nanopub.LEVELS:
            return None  # the shapes then say what is missing
        direction = self.direction or "NotReported"
        if direction not in nanopub.DIRECTIONS:
            raise BadRequest(
                f"direction must be one of {', '.join(nanopub.DIRECTIONS)}, not {direction!r}"
            )
        level = nanopub.LEVELS[name]
        proposed = level == "ProposedAsRationale"
        return nanopub.Evidence(
            level=ox.NamedNode(vocab.EXM + level),
            direction=ox.NamedNode(vocab.EXM + direction),
            kind=nanopub.ECO_AUTHOR_STATEMENT if proposed else nanopub.ECO_CLINICAL_STUDY,
            direction_note=self.direction_note,
        )


NO_FIELDS = Fields()  # the default where no fields are given (frozen, so safe to share)


def body_format(content_type: str | None) -> ox.RdfFormat:
    """The RDF syntax a request body declares; raises UnsupportedMediaType (415).

    >>> body_format("text/turtle; charset=utf-8").name
    'Turtle'
    """
    offer = formats.by_name(formats.media_type_of(content_type), SUBMISSION_FORMATS)
    fmt = ox.RdfFormat.from_media_type(offer.media_type) if offer else None
    if fmt is None:
        accepted = ", ".join(f.media_type for f in SUBMISSION_FORMATS)
        raise UnsupportedMediaType(
            f"cannot read a {formats.media_type_of(content_type) or 'body without a type'}; "
            f"send one of {accepted} (RDF/XML is not accepted)"
        )
    return fmt


def read_quads(data: bytes, fmt: ox.RdfFormat, name: str = "submission") -> list[ox.Quad]:
    """The quads of a submitted document; raises ParseError (400) with line and column, and
    says why a remote JSON-LD context was not fetched."""
    try:
        return parse(data, fmt, name)
    except ParseError as exc:
        if fmt == ox.RdfFormat.JSON_LD and "remote context" in exc.message:
            raise ParseError(
                f"{name}: JSON-LD remote contexts are never fetched; put the "
                "@context inline (an object, not a URL)"
            ) from exc
        raise
