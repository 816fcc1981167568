"""Every HTML response carries the page policy; pages hold no executable inline script;
the vendored query editor is byte for byte what tools/yasgui/build produced.

Through a live server (gunicorn on 127.0.0.1), with httpx, as a browser would ask.
"""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest
from conftest import ROOT, LiveServer

pytestmark = pytest.mark.live

HTML_PATHS = [
    "/",
    "/query",
    "/evidence-map",
    "/search?q=yoga",
    "/download/",
    "/ontology",
    "/sparql",
    "/id/mechanism/motor-control",
    "/id/claim/edbee72d3a071e03ea2a",
    "/id/study/aasa-2015",
    "/id/mechanism/no-such-thing",  # a 404 page
    "/no/such/page",  # a 404 outside /id/
]
DATA_SCRIPTS = ("application/ld+json", "application/json")
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
STATIC = ROOT / "service" / "exmech" / "static"


@pytest.mark.parametrize("path", HTML_PATHS)
def test_every_html_page_carries_the_policy(live_server: LiveServer, path: str) -> None:
    response = httpx.get(live_server.url + path, headers={"Accept": "text/html"})
    assert response.headers["content-type"].startswith("text/html"), response.headers
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no hashes, no eval
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    # Every <script> either loads a file from this host or is a data block no browser runs.
    for attributes in SCRIPT.findall(response.text):
        src = re.search(r'\bsrc="([^"]*)"', attributes)
        kind = re.search(r'\btype="([^"]*)"', attributes)
        if src:
            assert src.group(1).startswith("/static/"), attributes
        else:
            assert kind and kind.group(1) in DATA_SCRIPTS, f"inline script on {path}: {attributes}"
    assert not re.search(r"\son[a-z]+\s*=", response.text, re.IGNORECASE), "inline handler"


@pytest.mark.parametrize("path", ["/sparql?query=ASK%7B%7D", "/static/exmech.css", "/api"])
def test_other_responses_say_nosniff(live_server: LiveServer, path: str) -> None:
    response = httpx.get(live_server.url + path)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"


def test_vendored_editor_matches_its_manifest() -> None:
    """A hand edit of the committed YASGUI files fails here; tools/yasgui/build remakes them."""
    manifest = (STATIC / "yasgui" / "MANIFEST.sha256").read_text().splitlines()
    assert len(manifest) == 3
    for line in manifest:
        digest, name = line.split()
        assert hashlib.sha256((STATIC / "yasgui" / name).read_bytes()).hexdigest() == digest, name
    lock = (ROOT / "tools" / "yasgui" / "package-lock.json").read_text()
    assert '"node_modules/@zazuko/yasgui": {\n      "version": "4.6.2"' in lock
    licences = (STATIC / "yasgui" / "THIRD-PARTY-LICENSES.txt").read_text()
    assert "@zazuko/yasgui@4.6.2  licence: MIT" in licences
    assert "The MIT License (MIT)" in licences
