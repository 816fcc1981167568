"""The Flask application factory: one store, one cache, blueprints, one error handler."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request

from exmech.errors import ExmechError, error_body
from exmech.settings import Settings
from exmech.store import Store, open_store
from exmech.store.cache import AnswerCache

log = logging.getLogger("exmech.requests")


@dataclass
class Services:
    """Long-lived objects of one app, on ``app.extensions["exmech"]``."""

    settings: Settings
    store: Store
    cache: AnswerCache


def create_app(settings: Settings | None = None, store: Store | None = None) -> Flask:
    """A ready app; opens (and if needed builds) the store the settings name."""
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_upload_bytes, settings.max_query_bytes)
    opened = store or open_store(settings)
    app.extensions["exmech"] = Services(settings, opened, AnswerCache(opened, settings.cache_entries))

    from exmech.sparql import bp as sparql_bp

    app.register_blueprint(sparql_bp)
    app.register_error_handler(ExmechError, render_error)
    app.register_error_handler(413, too_large)

    @app.get("/")
    def home() -> Response:
        return Response(
            "exmech: why does exercise help chronic low back pain?\n"
            "SPARQL endpoint: /sparql\n",
            content_type="text/plain; charset=utf-8",
        )

    if settings.log_requests:
        app.before_request(_start_timer)
        app.after_request(_log_request)
    return app


def render_error(error: ExmechError) -> Response:
    """JSON for /api and /curation, plain text elsewhere (SPARQL clients show it as is)."""
    if request.path.startswith(("/api", "/curation")):
        import json

        return Response(
            json.dumps(error_body(error)), status=error.status, content_type="application/json"
        )
    response = Response(error.message + "\n", status=error.status, content_type="text/plain; charset=utf-8")
    if request.path.startswith("/sparql"):
        from exmech.sparql import _headers

        _headers(response)
    return response


def too_large(_error: Exception) -> Response:
    from exmech.errors import PayloadTooLarge

    settings: Settings = current_app.extensions["exmech"].settings
    return render_error(
        PayloadTooLarge(f"request body too large; the limit is {settings.max_upload_bytes} bytes")
    )


def _start_timer() -> None:
    g.exmech_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    elapsed = (time.perf_counter() - g.get("exmech_started", time.perf_counter())) * 1000
    # The path only: query strings and bodies may hold queries or tokens.
    log.info("%s %s %d %.1fms", request.method, request.path, response.status_code, elapsed)
    return response
