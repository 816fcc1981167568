"""The ``/curation`` blueprint: routes read the request, call the desk, answer in JSON.

Routes (write routes need ``Authorization: Bearer <token>``, see tokens.py):

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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState

from exmech import formats
from exmech.curation.desk import Checked, Curation, ValidationFailed
from exmech.curation.submission import (
    FIELD_NAMES,
    NO_FIELDS,
    SUBMISSION_FORMATS,
    Curator,
    Fields,
    body_format,
)
from exmech.curation.wrapping import retraction
from exmech.errors import (
    BadRequest,
    NotAcceptable,
    PayloadTooLarge,
)
from exmech.settings import Settings

REPORT_OFFERS = (formats.JSON, formats.TURTLE)

bp = Blueprint("curation", __name__, url_prefix="/curation")


@bp.record_once
def _open_desk(state: BlueprintSetupState) -> None:
    """One desk per app, opened with it (so its token keyring and shapes load once) and
    closed with it."""
    services = state.app.extensions["exmech"]
    desk = Curation(services.settings, services.store)
    state.app.extensions["exmech.curation"] = desk
    services.on_close.append(desk.close)


def _desk() -> Curation:
    desk: Curation = current_app.extensions["exmech.curation"]
    return desk


def report_format(strict: bool = True) -> formats.Format:
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


def _check_body(
    desk: Curation,
    curator: Curator | None,
    supersedes: Sequence[str] = (),
    defaults: Fields = NO_FIELDS,
) -> Checked:
    """Read, parse and check a request's submission; a remote JSON-LD context gets a 400
    that says why it was not fetched."""
    data, fmt, values = _read_body(desk.settings)
    return desk.check_document(data, fmt, values, curator, supersedes, defaults)


def _accepted(desk: Curation, checked: Checked) -> Response:
    """Accept ``checked``: 201 when something was added, 200 when all of it existed."""
    outcome = desk.accept(checked)
    response = Response(
        json.dumps(outcome.to_json()),
        status=201 if outcome.added else 200,
        content_type="application/json",
    )
    if checked.nanopubs:
        response.headers["Location"] = checked.nanopubs[0].iri
    return response


def _on_claim(slug: str) -> tuple[Curation, Curator | None, str]:
    """The desk, curator and stored claim of a write on ``slug``, checked in the order
    406, 401/403, 404."""
    report_format()
    desk = _desk()
    curator = _curator(desk)
    return desk, curator, desk.claim(slug)


@bp.get("")
def index() -> Response:
    """What this endpoint accepts: formats, fields, routes, whether writes are enabled."""
    desk = _desk()
    body = {
        "formats": [f.media_type for f in SUBMISSION_FORMATS],
        "fields": list(FIELD_NAMES),
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
    fmt = report_format()
    desk = _desk()
    checked = _check_body(desk, _curator(desk, required=False))
    if not checked.report.conforms:
        raise ValidationFailed(checked.report)
    if fmt == formats.TURTLE:
        return Response(checked.report.to_turtle(), content_type=fmt.content_type)
    return Response(json.dumps(desk.dry_run_body(checked)), content_type="application/json")


@bp.post("/submissions")
def submit() -> Response:
    """Validate and accept: 201 with the new IRIs, 200 when all existed, 422 with a report."""
    report_format()
    desk = _desk()
    return _accepted(desk, _check_body(desk, _curator(desk)))


@bp.post("/claims/<slug>/supersede")
def supersede(slug: str) -> Response:
    """A corrected claim that supersedes ``slug``; fields left out are copied from it."""
    desk, curator, node = _on_claim(slug)
    checked = _check_body(desk, curator, supersedes=[node], defaults=desk.defaults(node))
    return _accepted(desk, checked)


@bp.post("/claims/<slug>/retract")
def retract(slug: str) -> Response:
    """Withdraw ``slug`` with an exm:Retraction; ``reason`` (query, form or JSON) is optional."""
    desk, curator, node = _on_claim(slug)
    payload = request.get_json(silent=True) if request.is_json else None
    reason = payload.get("reason") if isinstance(payload, dict) else None
    reason = str(reason or request.values.get("reason") or "") or None
    quads = retraction(node, desk.pubinfo(curator, comment=reason), desk.base)
    return _accepted(desk, desk.check(quads, curator))
