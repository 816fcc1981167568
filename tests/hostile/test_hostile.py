"""Every input in cases.yaml gets its clear 4xx from one live server, which stays unharmed.

One server for the module (2 s timeout, 100 rows, 20000 query bytes, 60000 upload bytes,
one curator token). A loopback listener on a free port stands in for every internal address
the cases aim at (``{port}``): it must never be contacted. Requests go out through
http.client so paths, dot segments and header bytes reach the server exactly as written.
The last test checks the server still answers, the store and the journal are unchanged, and
writes the summary to tests/artifacts/hostile-summary.json.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from conftest import ARTIFACTS, Listener, LiveServer, start_server, stop_server
from exmech import tokens
from exmech.provenance import QUESTIONS
from exmech.vocab import KINDS
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CASES_FILE = Path(__file__).with_name("cases.yaml")
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
TOKEN, ENTRY = tokens.new_entry("https://example.org/curator/hostile", "Hostile Tester")
KNOWN = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
pytestmark = pytest.mark.live


def expand(value: Any, port: int) -> str:
    """A case's string field with its placeholders filled ([text, times] lists joined)."""
    if isinstance(value, list):
        value = "".join(str(text) * int(times) for text, times in value)
    text = str(value)
    return (
        text.replace("{port}", str(port))
        .replace("{token}", TOKEN)
        .replace("{digest}", ENTRY.digest)
    )


def send(url: str, case: dict[str, Any], port: int) -> tuple[int, bytes, dict[str, str]]:
    """Send one case exactly as written; (status, body, lower-cased headers)."""
    host, _, port_text = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port_text), timeout=30)
    path = expand(case["path"], port)
    # http.client refuses raw control characters and non-ASCII; a case never needs them raw.
    path = quote(path, safe="/?&=%:;,+@!$'()*[]{}<>\"#|\\^`~")
    if "body_base64" in case:
        body: bytes | None = base64.b64decode(case["body_base64"])
    elif "body" in case:
        body = expand(case["body"], port).encode("utf-8")
    else:
        body = None
    try:
        conn.putrequest(case.get("method", "GET"), path, skip_accept_encoding=True)
        for name, value in (case.get("headers") or {}).items():
            conn.putheader(name, expand(value, port).encode("utf-8"))
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}
    except (ConnectionResetError, BrokenPipeError):
        # The server may answer (e.g. 413, 431) and close before reading the whole body.
        try:
            response = conn.getresponse()
            return response.status, response.read(), {}
        except (OSError, http.client.HTTPException):
            raise
    finally:
        conn.close()


def known_answer(server: LiveServer) -> tuple[int, str, str]:
    """(triples, generation, dataset hash) from a known query."""
    status, body, headers = send(
        server.url,
        {
            "path": "/sparql?query=" + quote(KNOWN, safe=""),
            "headers": {"Accept": "application/sparql-results+json"},
        },
        0,
    )
    assert status == 200, body
    count = int(json.loads(body)["results"]["bindings"][0]["n"]["value"])
    return count, headers["exmech-generation"], headers["exmech-dataset"]


@dataclass
class Arena:
    server: LiveServer
    listener: Listener
    before: tuple[int, str, str]
    journal_size: int
    statuses: dict[str, int] = field(default_factory=dict)

    def journal(self) -> int:
        path = self.server.state_dir / "journal.log"
        return path.stat().st_size if path.exists() else 0


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[Arena]:
    base = tmp_path_factory.mktemp("hostile")
    state = base / "state"
    shutil.copytree(built_state, state)
    listener = Listener()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as probe:
        probe.sendall(b"GET /probe HTTP/1.0\r\n\r\n")
        probe.recv(100)  # the listener answers: it would notice an outbound connection
    assert listener.settled() == 1, "the listener did not record a connection"
    listener.requests.clear()
    server = start_server(
        state,
        base / "server.log",
        EXMECH_QUERY_TIMEOUT="2",
        EXMECH_MAX_ROWS="100",
        EXMECH_MAX_QUERY_BYTES="20000",
        EXMECH_MAX_UPLOAD_BYTES="60000",
        EXMECH_TOKENS=ENTRY.line(),
    )
    try:
        journal = state / "journal.log"
        size = journal.stat().st_size if journal.exists() else 0
        yield Arena(server, listener, known_answer(server), size)
    finally:
        stop_server(server)
        listener.close()


def test_the_corpus_is_big_and_well_formed() -> None:
    names = [c["name"] for c in CASES]
    assert len(CASES) >= 150
    assert len(set(names)) == len(names), "case names must be unique"
    for case in CASES:
        assert 400 <= case["status"] < 500, case["name"]
        assert {"name", "path", "status", "message"} <= set(case), case["name"]
        assert case["message"], f"{case['name']}: say which message proves the refusal"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hostile_input_gets_a_clear_4xx(arena: Arena, case: dict[str, Any]) -> None:
    status, body, _headers = send(arena.server.url, case, arena.listener.port)
    arena.statuses[case["name"]] = status
    text = body.decode("utf-8", errors="replace")
    assert status < 500, f"{case['name']}: {status} {text[:500]}"
    assert status == case["status"], f"{case['name']}: {status} {text[:500]}"
    assert case["message"] in text, f"{case['name']}: {text[:500]}"
    assert TOKEN not in text, "a response echoed the curator token"


def test_the_server_is_unharmed(arena: Arena) -> None:
    """Still answering, same store, same journal, nothing reached the listener, token unlogged."""
    time.sleep(0.3)  # let a late outbound connection (if any) reach the listener
    after = known_answer(arena.server)
    fivexx = sorted(name for name, status in arena.statuses.items() if status >= 500)
    summary = {
        "cases": len(CASES),
        "tried": len(arena.statuses),
        "5xx": len(fivexx),
        "5xx_cases": fivexx,
        "outbound_connections": arena.listener.settled(),
        "store_unchanged": after == arena.before,
        "journal_unchanged": arena.journal() == arena.journal_size,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "hostile-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\nhostile: {summary['tried']} cases tried, {summary['5xx']} 5xx seen, "
        f"{summary['outbound_connections']} outbound connections, "
        f"store unchanged: {summary['store_unchanged']}, "
        f"journal unchanged: {summary['journal_unchanged']}"
    )
    assert arena.server.process.poll() is None, arena.server.output()[-2000:]
    assert not fivexx
    assert arena.listener.settled() == 0
    assert after == arena.before
    assert arena.journal() == arena.journal_size
    assert TOKEN not in arena.server.output(), "the server log holds the curator token"


# Property-based: random path parameters and submission bodies, in-process ----------------

PARAMETER_ROUTES = [q.path for q in QUESTIONS if "{" in q.path]
RDF_TYPES = [
    "text/turtle",
    "application/trig",
    "application/n-quads",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
    "text/plain",
    "multipart/form-data; boundary=b",
]
RDF_PIECES = [
    "<https://w3id.org/exmech/id/exercise/yoga>",
    "<https://w3id.org/exmech/ontology#proposedMechanism>",
    "<https://w3id.org/exmech/id/mechanism/motor-control>",
    "<urn:x>",
    "_:b",
    "@prefix x: <urn:x> .",
    "x:y",
    '"lit"',
    '"lit"@en',
    '"1"^^<http://www.w3.org/2001/XMLSchema#integer>',
    ".",
    ";",
    ",",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "GRAPH",
    "a",
    "\n",
    "\\u0000",
    '{"@context":',
    '"@id":',
    ":",
    '"',
    "<file:///etc/passwd>",
    "<http://127.0.0.1:1/>",
    "\xff",
    " ",
]
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def app_settings() -> dict[str, object]:
    """The shared ``app`` (a private copy of the built store), one token, small limits."""
    return {
        "query_timeout": 2.0,
        "max_rows": 100,
        "max_upload_bytes": 60_000,
        "cache_entries": 64,
        "tokens": ENTRY.line(),
    }


@pytest.fixture(scope="module")
def fuzz_client(app: Flask) -> FlaskClient:
    """One client for every generated case (hypothesis reuses it across examples)."""
    return app.test_client()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@FUZZ
@given(
    route=st.sampled_from(PARAMETER_ROUTES + [f"/id/{k}/{{x}}" for k in KINDS]),
    value=st.text(max_size=60),
    accept=st.sampled_from([None, "application/json", "text/turtle", "*/*", "x/y"]),
)
def test_random_path_parameters_never_5xx(
    fuzz_client: Any, route: str, value: str, accept: str | None
) -> None:
    path = route.split("{")[0] + quote(value, safe="") + route.split("}")[-1]
    path = path if route.startswith("/id/") else "/api" + path
    headers = {"Accept": accept} if accept else {}
    response = fuzz_client.get(path, headers=headers)
    assert response.status_code < 500, (path, response.get_data(as_text=True)[:300])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.lists(st.sampled_from(RDF_PIECES), max_size=30).map(" ".join).map(str.encode),
    ),
    content_type=st.sampled_from(RDF_TYPES),
    route=st.sampled_from(["/curation/validate", "/curation/submissions"]),
    fields=st.sampled_from(
        [
            "",
            "?study=wun-2021&location=x&wording=y&status=NotMeasured",
            "?study=%3E%7D",
            "?status=%22",
        ]
    ),
)
def test_random_submission_bodies_never_5xx(
    fuzz_client: Any, body: bytes, content_type: str, route: str, fields: str
) -> None:
    response = fuzz_client.post(
        route + fields,
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code < 500, (body, response.get_data(as_text=True)[:300])
