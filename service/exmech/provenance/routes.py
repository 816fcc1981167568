"""The ``/api`` blueprint: one route per question, the index and the OpenAPI document.

Thin by design: a view reads its path value, calls ``ask`` and writes JSON; every route is
generated from the table of questions, so the API and its OpenAPI document cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from exmech import formats, queries
from exmech.errors import NotAcceptable, NotFound
from exmech.provenance.answers import ask
from exmech.provenance.openapi_document import openapi
from exmech.provenance.questions import QUESTIONS, Question

bp = Blueprint("provenance", __name__, url_prefix="/api")


class TextConverter(PathConverter):
    """Like ``path`` (slashes allowed) but also newlines, so every /api URL reaches a view."""

    regex = r"[^/][\s\S]*?"


@bp.record_once
def _add_converter(state: BlueprintSetupState) -> None:
    """Register ``text`` on the app, once, so a DOI's slashes stay in one path value."""
    state.app.url_map.converters.setdefault("text", TextConverter)


def _json(body: dict[str, Any]) -> Response:
    """The one way /api answers: JSON only (406 otherwise), open to any origin, Vary: Accept."""
    if formats.negotiate(request.headers.get("Accept"), None, (formats.JSON,)) is None:
        raise NotAcceptable(f"the API answers in {formats.JSON.media_type} only")
    response = Response(
        json.dumps(body, ensure_ascii=False), content_type=formats.JSON.content_type
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept")
    return response


def _view(question: Question) -> Callable[..., Response]:
    """The view for one question, with headers saying which data and generation answered."""

    def view(**values: str) -> Response:
        services = current_app.extensions["exmech"]
        settings = services.settings
        value = values.get(question.parameter.name) if question.parameter else None
        result = ask(
            services.cache, question, value, max_rows=settings.max_rows, base=settings.base_iri
        )
        link = url_for("sparql.endpoint") + "?" + urlencode({"query": result.linked_query})
        response = _json(result.to_json(link))
        response.headers["Exmech-Generation"] = result.generation
        response.headers["Exmech-Dataset"] = result.dataset
        response.headers["Exmech-Cache"] = "hit" if result.cached else "miss"
        return response

    view.__name__ = question.name.replace("-", "_")
    return view


for _question in QUESTIONS:
    bp.add_url_rule(_question.rule, endpoint=_question.name, view_func=_view(_question))


@bp.get("")
def index() -> Response:
    """Which questions the API answers, and where: a starting point that needs no docs."""
    return _json(
        {
            "openapi": url_for("provenance.openapi_document"),
            "questions": [
                {"name": q.name, "path": f"/api{q.path}", "question": queries.load(q.query).answers}
                for q in QUESTIONS
            ],
        }
    )


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI document, stamped with the installed exmech version."""
    try:
        current = version("exmech")
    except PackageNotFoundError:
        current = "0.0.0"
    return _json(openapi(current))


@bp.route("/<text:rest>")
def unknown(rest: str) -> Response:
    """Any other /api path: a JSON 404 pointing at the document, not an HTML page."""
    raise NotFound(f"no API resource /api/{rest[:200]}; see /api/openapi.json")
