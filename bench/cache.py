"""What the one answer cache holds for /sparql and /api answers, and what a replay lookup costs.

    .venv/bin/python bench/cache.py

In-process (the app over the shipped data, no server, no query workers): sends one /sparql
query in three spellings (POST body, GET, POST form) and a few /api questions through the
app's WSGI stack, and prints after each the cache's entries and weight, so one sees that a
/sparql answer's bytes are weighed once however many spellings replay it. Then times
``ResponseCache.lookup`` for a hit (the work the server's loop thread does per replay before
sending), as CPU time per lookup, which does not depend on other load on the machine.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from exmech.app import close_app, create_app
from exmech.build import build
from exmech.settings import Settings
from exmech.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parent.parent
QUERY = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 3000"
JSON = "application/sparql-results+json"
API = ("/api/evidence-map", "/api/claims/by-evidence", "/api/questions/null-findings")


def environ(
    method: str, path: str, qs: str = "", body: bytes = b"", kind: str = "", accept: str = JSON
) -> Any:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": qs,
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "HTTP_ACCEPT": accept,
        "wsgi.input": io.BytesIO(body),
    }
    if method == "POST":
        env |= {"CONTENT_TYPE": kind, "CONTENT_LENGTH": str(len(body))}
    return env


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        settings = Settings(state_dir=folder / "state", data_root=ROOT, log_requests=False)
        build(settings)
        store = EmbeddedStore(settings, workers=False)
        app = create_app(settings, store=store)
        cache, stack = app.extensions["exmech"].cache, app.wsgi_app
        print(f"budget: {cache.entries} entries, {cache.max_bytes:,} bytes")
        spellings = {
            "/sparql POST body": environ(
                "POST", "/sparql", body=QUERY.encode(), kind="application/sparql-query"
            ),
            "/sparql GET": environ("GET", "/sparql", "query=" + quote(QUERY)),
            "/sparql POST form": environ(
                "POST",
                "/sparql",
                body=b"query=" + quote(QUERY).encode(),
                kind="application/x-www-form-urlencoded",
            ),
        }
        requests = {
            **spellings,
            **{path: environ("GET", path, accept="application/json") for path in API},
        }
        for name, env in requests.items():
            headers: dict[str, str] = {}
            body = b"".join(stack(env, lambda _status, sent, *_, h=headers: h.update(sent)))
            print(
                f"{name:34} {len(body):>9,} bytes sent, {headers.get('Exmech-Cache'):4}: "
                f"cache {len(cache)} entries, {cache.weight:,} bytes"
            )
        lookups = 100_000
        hit = spellings["/sparql GET"]
        started = time.process_time()
        for _ in range(lookups):
            stack.lookup({**hit, "wsgi.input": io.BytesIO()})
        per = (time.process_time() - started) / lookups * 1e6
        print(f"ResponseCache.lookup, a GET hit: {per:.2f} us CPU each ({lookups:,} lookups)")
        close_app(app)
        store.close()
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
