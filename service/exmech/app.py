"""The Flask application factory: one store, one cache, blueprints, one error handler."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, g, request

from exmech import failures, throttle
from exmech.build import open_built
from exmech.headers import secure
from exmech.settings import Settings
from exmech.sparql import ResponseCache
from exmech.store import Store
from exmech.store.cache import AnswerCache

log = logging.getLogger("exmech.requests")


@dataclass
class Services:
    """Long-lived objects of one app, on ``app.extensions["exmech"]``; ``close_app`` closes
    them. Nothing is shared with another app in the same process."""

    settings: Settings
    store: Store
    cache: AnswerCache
    owns_store: bool = True  # opened by create_app (a store passed in is the caller's)
    on_close: list[Callable[[], None]] = field(default_factory=list)  # blueprints' resources

    def close(self) -> None:
        """Close what the app opened: the blueprints' resources, then its store (and the
        store's query workers). Closing twice does nothing more."""
        while self.on_close:
            self.on_close.pop()()
        if self.owns_store:
            self.owns_store = False
            self.store.close()


def create_app(settings: Settings | None = None, store: Store | None = None) -> Flask:
    """A ready app that owns what it opens: the store the settings name (built first when
    there is nothing to open), its query workers, its caches. ``close_app`` closes them.

    A ``store`` passed in is used as is and stays the caller's to close.
    """
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_upload_bytes, settings.max_query_bytes)
    opened = store or open_built(settings)
    # The app's one answer cache: /api, pages, curation and /sparql, replays included.
    cache = AnswerCache(opened, settings.cache_entries, settings.cache_mb * 1024 * 1024)
    app.extensions["exmech"] = Services(settings, opened, cache, owns_store=store is None)

    from exmech.sparql import bp as sparql_bp

    app.register_blueprint(sparql_bp)
    app.register_blueprint(__import__("exmech.linked_data", fromlist=["bp"]).bp)
    app.register_blueprint(__import__("exmech.curation", fromlist=["bp"]).bp)
    app.register_blueprint(__import__("exmech.provenance", fromlist=["bp"]).bp)
    throttle.install(app, settings)
    failures.install(app)

    app.after_request(_secure)
    if settings.log_requests:
        app.before_request(_start_timer)
        app.after_request(_log_request)
    app.wsgi_app = ResponseCache(  # type: ignore[method-assign]
        app.wsgi_app, cache, _log_line if settings.log_requests else None
    )
    return app


def close_app(app: Flask) -> None:
    """Close what ``create_app`` opened (server shutdown, the end of a test)."""
    services: Services = app.extensions["exmech"]
    services.close()


def _secure(response: Response) -> Response:
    secure(response.headers, response.mimetype)  # type: ignore[arg-type]
    return response


def _start_timer() -> None:
    g.exmech_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    _log_line(request.method, request.path, response.status_code, g.get("exmech_started"))
    return response


def _log_line(method: str, path: str, status: int, started: float | None) -> None:
    # The path only: query strings and bodies may hold queries or tokens.
    if not log.isEnabledFor(logging.INFO):
        return
    elapsed = (time.perf_counter() - (started or time.perf_counter())) * 1000
    # log.info's record, without its walk up the stack to find the caller (a quarter of
    # the line's cost on a cache hit): the caller is this function.
    code = _log_line.__code__
    record = log.makeRecord(
        log.name,
        logging.INFO,
        code.co_filename,
        code.co_firstlineno,
        "%s %s %d %.1fms",
        (method, path, status, elapsed),
        None,
        code.co_name,
    )
    log.handle(record)
