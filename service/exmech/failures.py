"""The one exception handler of the app and the registry of error renderers it picks from.

Every failure a client sees goes through ``handle``: exmech's own errors, werkzeug's (404,
405, 413...) and the rate limiter's 429 become one ``ExmechError`` with its status and a
message naming what was wrong, then one renderer writes it in the format the request
negotiated: JSON (``error_body``) for ``/api`` and ``/curation`` (a 422 report as Turtle on
request), plain text for ``/sparql`` (SPARQL clients show it as is) and for clients that do
not ask for HTML, a page with ways back for a browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Flask, Response, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from exmech import formats
from exmech.curation.desk import ValidationFailed
from exmech.curation.routes import report_format
from exmech.errors import ExmechError, TooManyRequests, Unauthorized, error_body
from exmech.linked_data.routes import RESOURCE_OFFERS, error_page
from exmech.sparql import add_protocol_headers

Renderer = Callable[[ExmechError], Response]


def _as_json(error: ExmechError) -> Response:
    return Response(
        json.dumps(error_body(error)), status=error.status, content_type="application/json"
    )


def _as_text(error: ExmechError) -> Response:
    return Response(
        error.message + "\n", status=error.status, content_type="text/plain; charset=utf-8"
    )


def _as_report(error: ExmechError) -> Response:
    assert isinstance(error, ValidationFailed)
    return Response(
        error.report.to_turtle(), status=error.status, content_type=formats.TURTLE.content_type
    )


RENDERERS: dict[str, Renderer] = {
    "json": _as_json,
    "text": _as_text,
    "html": error_page,
    "turtle": _as_report,
}


def install(app: Flask) -> None:
    """Make ``handle`` the app's only error handler."""
    app.register_error_handler(ExmechError, handle)
    app.register_error_handler(HTTPException, handle)


def handle(error: ExmechError | HTTPException) -> Response | HTTPException:
    """Any failure, as an ExmechError rendered in the negotiated format."""
    if isinstance(error, HTTPException):
        if error.code is None or error.code < 400:
            return error  # a redirect raised as an exception passes through
        failure = _from_http(error)
    else:
        failure = error
    response = RENDERERS[choose(failure)](failure)
    response.vary.add("Accept")
    if failure.retry_after is not None:
        response.headers["Retry-After"] = str(failure.retry_after)
    if isinstance(failure, Unauthorized):
        extra = ', error="invalid_token"' if failure.detail else ""
        response.headers["WWW-Authenticate"] = f'Bearer realm="exmech curation"{extra}'
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if request.path.startswith("/sparql"):
        # Routing errors (405) never reach the blueprint's own after_request.
        add_protocol_headers(response)
    return response


def choose(error: ExmechError) -> str:
    """The renderer for this request: by area (the path), then by what the client accepts."""
    if request.path.startswith(("/api", "/curation")):
        if isinstance(error, ValidationFailed) and report_format(strict=False) == formats.TURTLE:
            return "turtle"
        return "json"
    if not request.path.startswith("/sparql") and _wants_page():
        return "html"
    return "text"


def _wants_page() -> bool:
    """A browser's request: on a linked-data route (where a page is the default) HTML is
    what the Accept header prefers; anywhere else the header names HTML at all."""
    if request.blueprint == "linked_data":
        accept = request.headers.get("Accept")
        return formats.negotiate(accept, None, RESOURCE_OFFERS) is formats.HTML
    return "text/html" in request.accept_mimetypes.values()


def _from_http(error: HTTPException) -> ExmechError:
    """Werkzeug's and Flask-Limiter's exceptions as exmech's, with a message that says why."""
    if isinstance(error, RateLimitExceeded):
        return TooManyRequests(
            f"too many curation requests from {get_remote_address()}: at most "
            f"{error.limit.limit} (EXMECH_CURATION_RATE_LIMIT); retry after the "
            "Retry-After header's seconds"
        )
    message = error.description or error.name
    if isinstance(error, RequestEntityTooLarge):
        limit = request.max_content_length
        message = f"request body too large; this endpoint reads at most {limit} bytes"
    return ExmechError(message, status=error.code)
