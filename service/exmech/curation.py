"""Curation: curators submit claims, SHACL decides, accepted nanopublications are never lost.

A submission is RDF (TriG, Turtle, N-Quads, N-Triples or JSON-LD, by Content-Type; RDF/XML
gets 415) holding either complete nanopublications or bare assertion triples in the default
graph plus request fields (:class:`Fields`, as query parameters or, with multipart/form-data,
form fields beside a file part ``data``). Each bare triple becomes one claim nanopublication
whose publication info the service writes (the authenticated curator, described as a
prov:Person with the token's name; the time; CC BY 4.0; ``exm:validatedAgainst`` the shapes'
versionIRI). Complete nanopublications keep their publication info, but must be attributed
to the authenticated curator and retract only in the curator's name (else 403: rejected,
never rewritten) and must state the current shapes version.

Every nanopublication is named by its content (``nanopub.slug_for``: assertion + study, or
assertion + retracting curator); the IRIs a complete one used for itself and its four graphs
are replaced. Resubmitting a claim therefore finds the stored one: the answer is 200 with
``"existing": true`` and nothing is written; 201 means at least one nanopublication was added.
Validation reads context from the store for just the IRIs the submission mentions, so its
cost follows the submission. Accepting journals (fsync) and applies in one transaction.

Routes (JSON answers; write routes need ``Authorization: Bearer <token>``, see tokens.py):

- ``GET /curation``: formats, fields, routes, whether writes are enabled.
- ``POST /curation/validate``: dry run, token optional (without one, bare triples are
  attributed to ``id/curator/anonymous``); 200 ``{"conforms": true, ...}`` or 422.
- ``POST /curation/submissions``: 201 (``Location``: first IRI) or 200 when all existed;
  body ``{"ok", "existing", "nanopubs": [{"iri", "slug", "kind", "existing",
  "submitted_as"}], "warnings", "generation"}``.
- ``POST /curation/claims/{slug}/supersede``: the body is the corrected claim; its pubinfo
  gets ``npx:supersedes`` the old one; fields left out are copied from the old claim.
- ``POST /curation/claims/{slug}/retract``: an ``exm:Retraction`` (``<curator> npx:retracts
  <claim>``); optional ``reason`` (query, form or JSON) becomes its pubinfo's rdfs:comment.

Errors: 400 (syntax, with ``detail: {line, column}``; missing study), 401 with
``WWW-Authenticate: Bearer``, 403 (writes disabled: no tokens; someone else's name), 404,
406, 413 (``EXMECH_MAX_UPLOAD_BYTES``), 415, 422 with the report in ``detail.results``
(focus, path, value, message, severity, shape), or as an ``sh:ValidationReport`` in Turtle
with ``Accept: text/turtle``.

Plain functions and the :class:`Curation` desk come first (no Flask); the ``/curation``
blueprint is below the HTTP marker.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib
from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from rdflib.namespace import OWL, XSD

from exmech import formats, nanopub, tokens, vocab
from exmech.errors import (
    BadRequest,
    ExmechError,
    Forbidden,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    error_body,
)
from exmech.nanopub import PARTS, RETRACTS, SUPERSEDES, Named
from exmech.settings import Settings
from exmech.store import Query, Store
from exmech.store.journal import Journal
from exmech.validation import (
    SUBMISSION_CHECK,
    Finding,
    ParseError,
    Report,
    parse,
    shapes_graph,
    store_context,
    to_rdflib,
    validate,
)

ATTRIBUTED = vocab.PROV + "wasAttributedTo"
VALIDATED = vocab.EXM + "validatedAgainst"
SUBMISSION_FORMATS = (
    formats.TRIG, formats.TURTLE, formats.NQUADS, formats.NTRIPLES, formats.JSONLD
)
REPORT_OFFERS = (formats.JSON, formats.TURTLE)
CLAIM_SLUG = re.compile(r"^[0-9a-f]{20}$")
_STATUS = re.compile(r"^[A-Z][A-Za-z]*$")


@dataclass(frozen=True)
class Curator:
    """Who a request acts for: an IRI (ORCID welcome) and a display name."""

    iri: str
    name: str


@dataclass(frozen=True)
class Fields:
    """Request fields that make claims of bare assertion triples (query or form fields).

    ``study`` (IRI or slug such as ``sherman-2013``), ``location`` (where in the study),
    ``status`` (an ``exm:MediatorStatus`` local name such as ``MediationTested``, or its IRI),
    ``wording`` (the source's words) and the optional ``note``.
    """

    study: str | None = None
    location: str | None = None
    status: str | None = None
    note: str | None = None
    wording: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Fields:
        """The fields present in a mapping; blank values count as absent.

        >>> Fields.of({"study": " wun-2021 ", "note": ""})
        Fields(study='wun-2021', location=None, status=None, note=None, wording=None)
        """
        known = ("study", "location", "status", "note", "wording")
        return cls(**{k: (values.get(k) or "").strip() or None for k in known})

    def over(self, defaults: Fields) -> Fields:
        """These fields, the gaps filled from ``defaults`` (the note only with its status)."""
        note = self.note if self.status else (self.note or defaults.note)
        return Fields(
            self.study or defaults.study,
            self.location or defaults.location,
            self.status or defaults.status,
            note,
            self.wording or defaults.wording,
        )

    def provenance(self, base: str) -> nanopub.Provenance:
        """The provenance these fields give; raises BadRequest for a missing or odd study.

        >>> Fields("wun-2021", status="OutcomeOnly").provenance(vocab.BASE).status
        rdflib.term.URIRef('https://w3id.org/exmech/ontology#OutcomeOnly')
        """
        if not self.study:
            raise BadRequest(
                "bare assertion triples need the field study (a study IRI or slug such as "
                "wun-2021), and location, status and wording; or send complete nanopublications"
            )
        if vocab.SLUG.match(self.study):
            study = vocab.iri("study", self.study, base)
        elif re.match(r"^https?://\S+$", self.study):
            study = self.study
        else:
            raise BadRequest(f"study must be a study IRI or slug, not {self.study!r}")
        status = None
        if self.status:
            if re.match(r"^https?://\S+$", self.status):
                status = rdflib.URIRef(self.status)
            elif _STATUS.match(self.status):
                status = rdflib.URIRef(vocab.EXM + self.status)
            else:
                raise BadRequest(
                    f"status must be an exm:MediatorStatus name such as NotMeasured, "
                    f"not {self.status!r}"
                )
        return nanopub.Provenance(
            rdflib.URIRef(study), self.location, status, self.note, self.wording
        )


@dataclass
class Checked:
    """A submission after naming and validation: the quads to store and the verdict."""

    quads: list[ox.Quad]
    nanopubs: list[Named]
    report: Report

    def quads_of(self, chosen: Iterable[Named], base: str) -> list[ox.Quad]:
        graphs = {g for n in chosen for g in n.graphs(base)}
        return [q for q in self.quads if nanopub.value(q.graph_name) in graphs]


@dataclass
class Outcome:
    """What a submission did: its nanopublications, which already existed, the generation."""

    checked: Checked
    existing: set[str]
    generation: str | None

    @property
    def added(self) -> bool:
        return any(n.iri not in self.existing for n in self.checked.nanopubs)

    def to_json(self) -> dict[str, Any]:
        nanopubs = self.checked.nanopubs
        return {
            "ok": True,
            "existing": bool(nanopubs) and not self.added,
            "nanopubs": [
                {
                    "iri": n.iri,
                    "slug": n.slug,
                    "kind": n.kind,
                    "existing": n.iri in self.existing,
                    "submitted_as": n.submitted_as,
                }
                for n in nanopubs
            ],
            "warnings": [asdict(f) for f in self.checked.report.findings],
            "generation": self.generation,
        }


class ValidationFailed(Unprocessable):
    """422: the submission does not conform; carries the report."""

    def __init__(self, report: Report) -> None:
        violations = sum(f.severity == "Violation" for f in report.findings)
        super().__init__(
            f"the submission was rejected: {violations} violation(s); see detail.results",
            detail=report.to_json(),
        )
        self.report = report


def finding(focus: str, message: str) -> Finding:
    """A violation found by exmech's own submission checks (not a SHACL shape)."""
    return Finding(focus, None, None, message, "Violation", SUBMISSION_CHECK)


def now_literal() -> rdflib.Literal:
    """The current time as an xsd:dateTime in UTC, to the second."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return rdflib.Literal(stamp, datatype=XSD.dateTime, normalize=False)


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


def wrap(quads: Sequence[ox.Quad], fields: Fields, info: nanopub.PubInfo, base: str
         ) -> list[ox.Quad]:
    """One claim nanopublication per bare assertion triple, with the fields' provenance."""
    prov = fields.provenance(base)
    ds = rdflib.Dataset()
    for s, p, o in to_rdflib(quads):
        if isinstance(s, rdflib.URIRef) and isinstance(p, rdflib.URIRef):
            nanopub.add_claim(ds, (s, p, o), prov, info, base)  # type: ignore[arg-type]
    return parse(ds.serialize(format="nquads").encode(), ox.RdfFormat.N_QUADS)


def retraction(target: str, info: nanopub.PubInfo, base: str) -> list[ox.Quad]:
    """The quads of a retraction of ``target`` by ``info.curator``."""
    ds = rdflib.Dataset()
    nanopub.add_retraction(ds, rdflib.URIRef(target), info, base)
    return parse(ds.serialize(format="nquads").encode(), ox.RdfFormat.N_QUADS)


def publication_problems(quads: Sequence[ox.Quad], nanopubs: Sequence[Named],
                         curator: Curator | None, shapes_version: str) -> list[Finding]:
    """Attribution and shapes version: raises Forbidden when a nanopublication speaks for
    someone other than the curator; returns findings for a stale shapes version."""
    ours = {n.iri for n in nanopubs}
    problems: list[Finding] = []
    for q in quads:
        subject, obj = nanopub.value(q.subject), nanopub.value(q.object)
        if curator is not None:
            claimed = None
            if q.predicate.value == ATTRIBUTED and subject in ours and obj != curator.iri:
                claimed = f"<{subject}> is attributed to <{obj}>"
            elif q.predicate.value == RETRACTS and subject != curator.iri:
                claimed = f"<{subject}> retracts <{obj}>"
            if claimed:
                raise Forbidden(
                    f"{claimed}, but your token publishes as <{curator.iri}>: a curator can "
                    "publish and retract only in their own name"
                )
        if q.predicate.value == VALIDATED and subject in ours and obj != shapes_version:
            problems.append(finding(subject, (
                f"exm:validatedAgainst is <{obj}>, but this service validates against "
                f"<{shapes_version}>: state that version."
            )))
    return problems


def _rows(store: Store, text: str, **iris: str) -> list[dict[str, str]]:
    subs = tuple((k, ("iri", v)) for k, v in iris.items())
    answer = store.query(
        Query(text, "SELECT", "application/sparql-results+json", substitutions=subs)
    )
    data = json.loads(answer.body)
    return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]


_EXISTS = f"SELECT ?node ?a WHERE {{ ?node <{vocab.NP}hasAssertion> ?a }} LIMIT 1"
_KIND = f"""SELECT ?node ?type WHERE {{
  ?node a ?type . VALUES ?type {{ <{vocab.EXM}Claim> <{vocab.EXM}Retraction> }} }}"""
_PROVENANCE = f"""
PREFIX exm: <{vocab.EXM}>
PREFIX prov: <{vocab.PROV}>
SELECT ?node ?study ?location ?status ?note ?wording WHERE {{
  ?node <{vocab.NP}hasAssertion> ?a ; <{vocab.NP}hasProvenance> ?p .
  GRAPH ?p {{
    OPTIONAL {{ ?a prov:wasDerivedFrom ?study }}
    OPTIONAL {{ ?a exm:locationInStudy ?location }}
    OPTIONAL {{ ?a exm:mediatorStatus ?status }}
    OPTIONAL {{ ?a exm:mediatorStatusNote ?note }}
    OPTIONAL {{ ?a exm:sourceWording ?wording }}
  }}
}} LIMIT 1"""


class Curation:
    """Validation and acceptance of submissions against one store (one desk per app).

    Checking runs concurrently; acceptance holds a lock from the "does it exist?" check to
    ``Store.add``, so concurrent identical submissions add one nanopublication, not two.
    """

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.base = settings.base_iri
        self.keyring = tokens.Keyring(settings.tokens, settings.tokens_file)
        self.context = store_context(store, settings.root)
        version = shapes_graph(settings.root).value(rdflib.URIRef(vocab.SHAPES), OWL.versionIRI)
        self.shapes_version = str(version or nanopub.SHAPES_VERSION)
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None, required: bool) -> Curator | None:
        """The curator a ``Bearer`` token stands for.

        Raises Forbidden when writes are disabled (no tokens configured) and Unauthorized
        for a missing (when required) or unknown token. Messages never contain the token.
        """
        entries = self.keyring.entries()
        if required and not entries:
            raise Forbidden(
                "curation writes are disabled: no curator tokens are configured (set "
                "EXMECH_TOKENS_FILE or EXMECH_TOKENS; `exmech token add` creates a token)"
            )
        scheme, _, token = (authorization or "").partition(" ")
        if not authorization:
            if required:
                raise Unauthorized("send the curator token as 'Authorization: Bearer <token>'")
            return None
        entry = tokens.find(entries, token.strip()) if scheme.lower() == "bearer" else None
        if entry is None:
            raise Unauthorized("the bearer token is not valid", detail={"invalid_token": True})
        return Curator(entry.curator, entry.name or entry.curator)

    def pubinfo(self, curator: Curator | None, supersedes: Sequence[str] = (),
                comment: str | None = None) -> nanopub.PubInfo:
        who = curator or Curator(vocab.iri("curator", "anonymous", self.base), "anonymous")
        return nanopub.PubInfo(
            rdflib.URIRef(who.iri), now_literal(), tuple(rdflib.URIRef(s) for s in supersedes),
            curator_name=who.name, comment=comment,
            shapes=rdflib.URIRef(self.shapes_version),
        )

    def check(self, quads: Sequence[ox.Quad], curator: Curator | None,
              fields: Fields = Fields(), supersedes: Sequence[str] = ()) -> Checked:
        """Name and validate a submission (nothing is written). Raises BadRequest, Forbidden."""
        if not quads:
            raise BadRequest("the submission holds no triples")
        problems = [finding(*p) for p in nanopub.blank_node_problems(quads)]
        if not problems and not any(q.predicate.value in PARTS for q in quads):
            if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
                graph = nanopub.value(quads[0].graph_name) or "urn:exmech:default-graph"
                problems = [finding(graph, (
                    "Named graphs without a nanopublication head: send bare assertion triples "
                    "in the default graph, or complete nanopublications (head graph with "
                    "np:hasAssertion, np:hasProvenance, np:hasPublicationInfo)."
                ))]
            else:
                quads = wrap(quads, fields, self.pubinfo(curator, supersedes), self.base)
        elif supersedes:
            quads = [*quads, *self._supersede_quads(quads, supersedes)]
        if problems:
            return Checked(list(quads), [], Report.of(problems))
        named, nanopubs, naming = nanopub.name(quads, self.base)
        problems = [finding(*p) for p in naming]
        problems += publication_problems(named, nanopubs, curator, self.shapes_version)
        if problems:
            return Checked(named, nanopubs, Report.of(problems))
        defines = {g for n in nanopubs for g in (n.iri, *n.graphs(self.base))}
        report = validate(named, self.settings.root, self.context, defines=defines)
        return Checked(named, nanopubs, report)

    @staticmethod
    def _supersede_quads(quads: Sequence[ox.Quad], supersedes: Sequence[str]) -> list[ox.Quad]:
        """``N npx:supersedes old`` in the pubinfo of each complete nanopublication."""
        extra = []
        for q in quads:
            if q.predicate.value == vocab.NP + "hasPublicationInfo":
                assert isinstance(q.object, ox.NamedNode)
                for old in supersedes:
                    extra.append(ox.Quad(q.subject, ox.NamedNode(SUPERSEDES),
                                         ox.NamedNode(old), q.object))
        return extra

    def existing(self, nanopubs: Iterable[Named]) -> set[str]:
        return {n.iri for n in nanopubs if _rows(self.store, _EXISTS, node=n.iri)}

    def accept(self, checked: Checked) -> Outcome:
        """Store the nanopublications that do not exist yet, in one atomic, durable write.

        Raises ValidationFailed (422) when the report has violations.
        """
        if not checked.report.conforms:
            raise ValidationFailed(checked.report)
        with self._lock:
            existing = self.existing(checked.nanopubs)
            new = [n for n in checked.nanopubs if n.iri not in existing]
            generation = None
            if new:
                payload = ox.serialize(checked.quads_of(new, self.base),
                                       format=ox.RdfFormat.N_QUADS)
                generation = self.store.add(payload or b"")
        return Outcome(checked, existing, generation)

    def claim(self, slug: str) -> str:
        """The IRI of a stored claim or retraction; raises NotFound."""
        node = vocab.iri("claim", slug, self.base) if CLAIM_SLUG.match(slug) else ""
        if not node or not _rows(self.store, _KIND, node=node):
            raise NotFound(f"no claim {slug!r}: use the 20-hex-digit slug of a stored claim")
        return node

    def defaults(self, node: str) -> Fields:
        """The provenance fields of a stored claim, for a correction that leaves them out."""
        rows = _rows(self.store, _PROVENANCE, node=node)
        return Fields.of(rows[0]) if rows else Fields()


def export_trig(journal: Journal, since: datetime | None = None) -> bytes:
    """Submissions accepted at or after ``since`` (all when None) as one TriG document."""
    quads: set[ox.Quad] = set()
    for record in journal.entries():
        if since is None or (record.accepted is not None and record.accepted >= since):
            quads.update(ox.parse(record.payload, format=ox.RdfFormat.N_QUADS))
    ordered = sorted(quads, key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate),
                                           str(q.object)))
    return ox.serialize(ordered, format=ox.RdfFormat.TRIG, prefixes=vocab.PREFIXES) or b""


# HTTP

bp = Blueprint("curation", __name__, url_prefix="/curation")


@bp.record_once
def _open_desk(state: BlueprintSetupState) -> None:
    services = state.app.extensions["exmech"]
    state.app.extensions["exmech.curation"] = Curation(services.settings, services.store)


def _desk() -> Curation:
    desk: Curation = current_app.extensions["exmech.curation"]
    return desk


def _report_format(strict: bool = True) -> formats.Format:
    """JSON or Turtle for a report, by Accept; 406 when neither is acceptable (if strict)."""
    chosen = formats.negotiate(request.headers.get("Accept"), None, REPORT_OFFERS)
    if chosen is None and strict:
        raise NotAcceptable("reports are available as application/json or text/turtle")
    return chosen or formats.JSON


def _curator(desk: Curation, required: bool = True) -> Curator | None:
    return desk.authenticate(request.headers.get("Authorization"), required)


def _read_body(settings: Settings) -> tuple[bytes, ox.RdfFormat, dict[str, str]]:
    """The RDF of a request (the body, or the ``data`` part of a form) and its fields."""
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body too large; the limit is {limit} bytes")
    values = dict(request.args.items())
    if formats.media_type_of(request.content_type) == "multipart/form-data":
        values.update(request.form.items())
        upload = request.files.get("data")
        if upload is None:
            raise BadRequest("a multipart submission needs its RDF in a file part named 'data'")
        declared = upload.mimetype
        if formats.by_name(declared, SUBMISSION_FORMATS) is None and upload.filename:
            declared = Path(upload.filename).suffix.lstrip(".")  # "claim.trig" -> "trig"
        data, fmt = upload.stream.read(limit + 1), body_format(declared)
    else:
        fmt = body_format(request.content_type)
        data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body too large; the limit is {limit} bytes")
    return data, fmt, values


def _check_body(desk: Curation, curator: Curator | None, supersedes: Sequence[str] = (),
                defaults: Fields = Fields()) -> Checked:
    data, fmt, values = _read_body(desk.settings)
    try:
        quads = parse(data, fmt, "submission")
    except ParseError as exc:
        if fmt == ox.RdfFormat.JSON_LD and "remote context" in exc.message:
            raise ParseError("submission: JSON-LD remote contexts are never fetched; put the "
                             "@context inline (an object, not a URL)") from exc
        raise
    return desk.check(quads, curator, Fields.of(values).over(defaults), supersedes)


def _accepted(desk: Curation, checked: Checked) -> Response:
    outcome = desk.accept(checked)
    response = Response(
        json.dumps(outcome.to_json()),
        status=201 if outcome.added else 200,
        content_type="application/json",
    )
    if checked.nanopubs:
        response.headers["Location"] = checked.nanopubs[0].iri
    return response


@bp.errorhandler(ExmechError)
def _error(error: ExmechError) -> Response:
    """The one error shape (JSON), a 422 report as Turtle on request, a Bearer challenge."""
    if isinstance(error, ValidationFailed) and _report_format(strict=False) == formats.TURTLE:
        response = Response(error.report.to_turtle(), status=422,
                            content_type=formats.TURTLE.content_type)
    else:
        response = Response(json.dumps(error_body(error)), status=error.status,
                            content_type="application/json")
    if isinstance(error, Unauthorized):
        extra = ', error="invalid_token"' if error.detail else ""
        response.headers["WWW-Authenticate"] = f'Bearer realm="exmech curation"{extra}'
    response.vary.add("Accept")
    return response


@bp.get("")
def index() -> Response:
    """What this endpoint accepts: formats, fields, routes, whether writes are enabled."""
    desk = _desk()
    body = {
        "formats": [f.media_type for f in SUBMISSION_FORMATS],
        "fields": ["study", "location", "status", "note", "wording"],
        "routes": {
            "POST /curation/validate": "dry run: the report only",
            "POST /curation/submissions": "validate and accept",
            "POST /curation/claims/{slug}/supersede": "a corrected claim replaces slug",
            "POST /curation/claims/{slug}/retract": "withdraw slug (field: reason)",
        },
        "writes_enabled": bool(desk.keyring.entries()),
        "shapes": desk.shapes_version,
        "max_upload_bytes": desk.settings.max_upload_bytes,
    }
    return Response(json.dumps(body), content_type="application/json")


@bp.post("/validate")
def dry_run() -> Response:
    """Name and validate a submission; 200 with the report when it conforms, else 422."""
    fmt = _report_format()
    desk = _desk()
    checked = _check_body(desk, _curator(desk, required=False))
    if not checked.report.conforms:
        raise ValidationFailed(checked.report)
    if fmt == formats.TURTLE:
        return Response(checked.report.to_turtle(), content_type=fmt.content_type)
    body = Outcome(checked, desk.existing(checked.nanopubs), None).to_json()
    body["conforms"] = True
    return Response(json.dumps(body), content_type="application/json")


@bp.post("/submissions")
def submit() -> Response:
    """Validate and accept: 201 with the new IRIs, 200 when all existed, 422 with a report."""
    _report_format()
    desk = _desk()
    return _accepted(desk, _check_body(desk, _curator(desk)))


@bp.post("/claims/<slug>/supersede")
def supersede(slug: str) -> Response:
    """A corrected claim that supersedes ``slug``; fields left out are copied from it."""
    _report_format()
    desk = _desk()
    curator = _curator(desk)
    node = desk.claim(slug)
    checked = _check_body(desk, curator, supersedes=[node], defaults=desk.defaults(node))
    return _accepted(desk, checked)


@bp.post("/claims/<slug>/retract")
def retract(slug: str) -> Response:
    """Withdraw ``slug`` with an exm:Retraction; ``reason`` (query, form or JSON) is optional."""
    _report_format()
    desk = _desk()
    curator = _curator(desk)
    node = desk.claim(slug)
    payload = request.get_json(silent=True) if request.is_json else None
    reason = payload.get("reason") if isinstance(payload, dict) else None
    reason = str(reason or request.values.get("reason") or "") or None
    quads = retraction(node, desk.pubinfo(curator, comment=reason), desk.base)
    return _accepted(desk, desk.check(quads, curator))
