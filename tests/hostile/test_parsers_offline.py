"""The parsers and the SHACL validator never fetch anything (issue 12, point 1).

What exists: submissions and `exmech validate` files are parsed by pyoxigraph, which has no
document loader (a remote JSON-LD context is an error, never a request) and does not resolve
XML external entities; pyshacl runs with ``do_owl_imports=False`` on shapes exmech supplies,
so an ``owl:imports`` or ``sh:shapesGraph`` in the data is just a triple. rdflib parses only
exmech's own ontology. These tests feed every such hook, pointing at a loopback canary,
through the command a curator runs (``exmech validate``) and through the HTTP dry run, and
count the canary's connections: none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Listener, LiveServer, start_server, stop_server

pytestmark = pytest.mark.live


def hostile_files(url: str) -> dict[str, str]:
    claim = (
        "<https://w3id.org/exmech/id/exercise/pilates> "
        "<https://w3id.org/exmech/ontology#proposedMechanism> "
        "<https://w3id.org/exmech/id/mechanism/kinesiophobia> ."
    )
    return {
        "imports.ttl": (
            f"<{url}/onto> a <http://www.w3.org/2002/07/owl#Ontology> ;\n"
            f"  <http://www.w3.org/2002/07/owl#imports> <{url}/imported> ;\n"
            f"  <http://www.w3.org/ns/shacl#shapesGraph> <{url}/shapes> .\n{claim}\n"
        ),
        "remote-context.jsonld": f'{{"@context": "{url}/context.jsonld", "@id": "x"}}',
        "import-context.jsonld": f'{{"@context": {{"@import": "{url}/c.jsonld"}}, "@id": "x"}}',
        "context-list.jsonld": f'{{"@context": [{{"a": "http://e/"}}, "{url}/c"], "@id": "x"}}',
        "entity.rdf": (
            f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY e SYSTEM "{url}/entity">]>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="http://e/s"><rdf:value>&e;</rdf:value>'
            "</rdf:Description></rdf:RDF>"
        ),
        "base.ttl": f"@base <{url}/> .\n<a> <b> <c> .\n",
    }


def test_exmech_validate_fetches_nothing(tmp_path: Path) -> None:
    canary = Listener()
    try:
        results = {}
        for name, text in hostile_files(canary.url).items():
            path = tmp_path / name
            path.write_text(text, encoding="utf-8")
            out = subprocess.run(
                [sys.executable, "-m", "exmech", "--data-root", str(ROOT), "validate", str(path)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )
            results[name] = (out.returncode, (out.stdout + out.stderr)[-300:])
        assert canary.settled() == 0, (canary.requests, results)
        # Each got a verdict (0 conforms, 1 does not, 2 does not parse), never a crash.
        assert all(code in (0, 1, 2) for code, _ in results.values()), results
        assert results["remote-context.jsonld"][0] == 2
    finally:
        canary.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("parsers")
    shutil.copytree(built_state, base / "state")
    live = start_server(base / "state", base / "server.log")
    yield live
    stop_server(live)


def test_the_dry_run_fetches_nothing(server: LiveServer) -> None:
    canary = Listener()
    types = {".ttl": "text/turtle", ".jsonld": "application/ld+json", ".rdf": "application/rdf+xml"}
    try:
        statuses = {}
        for name, text in hostile_files(canary.url).items():
            reply = httpx.post(
                f"{server.url}/curation/validate",
                content=text.encode(),
                headers={"Content-Type": types[Path(name).suffix]},
                timeout=60,
            )
            statuses[name] = (reply.status_code, reply.text[:200])
        assert canary.settled() == 0, (canary.requests, statuses)
        assert all(status < 500 for status, _ in statuses.values()), statuses
    finally:
        canary.close()


def test_the_validation_process_cannot_open_a_socket() -> None:
    """By construction, not by the parsers' good behaviour: the child process that runs
    pyshacl (exmech.bounded) has the query workers' seccomp filter."""
    import socket

    from exmech import bounded

    canary = Listener()
    pool = bounded.Pool()
    try:
        with pytest.raises(RuntimeError, match="PermissionError"):
            pool.call(socket.create_connection, (("127.0.0.1", canary.port),), 60, "probe", "-")
        assert canary.settled() == 0
    finally:
        canary.close()
