"""The floor of this stack: Flask + pyoxigraph answering in the request thread.

No negotiation, limits, timeouts, cache or worker processes: SELECT/ASK as SPARQL JSON,
CONSTRUCT/DESCRIBE as N-Triples. It opens the same read-only snapshot exmech serves and runs
under exmech's gunicorn settings (one worker, gthread, the same thread count).

    .venv/bin/python bench/bare_handler.py --store STATE/snapshots/NAME --port 8001
"""

from __future__ import annotations

import argparse
from typing import Any

import pyoxigraph as ox
from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]


def create_app(store_path: str) -> Flask:
    """A Flask app with one route, ``/sparql`` (GET ?query=, POST form or sparql-query body)."""
    store = ox.Store.read_only(store_path)
    app = Flask(__name__)

    @app.route("/sparql", methods=["GET", "POST"])
    def sparql() -> Response:
        if request.mimetype == "application/sparql-query":
            text = request.get_data(as_text=True)
        else:
            text = request.values["query"]
        result = store.query(text, use_default_graph_as_union=True)
        if isinstance(result, ox.QueryTriples):
            body = result.serialize(format=ox.RdfFormat.N_TRIPLES)
            return Response(body, content_type="application/n-triples")
        body = result.serialize(format=ox.QueryResultsFormat.JSON)
        return Response(body, content_type="application/sparql-results+json")

    return app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn with the options exmech.server uses."""

    def __init__(self, app: Flask, bind: str, threads: int) -> None:
        self.app, self.bind, self.threads = app, bind, threads
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": self.bind,
            "workers": 1,
            "worker_class": "gthread",
            "threads": self.threads,
            "timeout": 40,
            "graceful_timeout": 5,
            "accesslog": None,
            "loglevel": "warning",
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.app


def main() -> None:
    parser = argparse.ArgumentParser(description="Bare Flask + pyoxigraph SPARQL handler.")
    parser.add_argument("--store", required=True, help="pyoxigraph store folder (read-only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    _Gunicorn(create_app(args.store), f"{args.host}:{args.port}", args.threads).run()


if __name__ == "__main__":
    main()
