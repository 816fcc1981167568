"""The README's curation path on a fresh state directory, as a person runs it (issue 13, point 1).

In an empty folder: `exmech token add`, then `EXMECH_TOKENS_FILE=tokens.txt exmech serve`
(the store is built on first use, inside the serving process), then the README's POST of a
new claim: it must be answered 201 within seconds (a RocksDB opened before a fork used to
hang that first write forever). Then kill -9 of the server's whole process group, a restart,
and the claim is there with its four graphs. Also: `exmech serve` on a busy port says so in
one line naming --port and exits 3.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import rdflib
from conftest import free_port

pytestmark = pytest.mark.live
EXMECH = str(Path(sys.executable).parent / "exmech")
CLAIM = (
    "@prefix exm: <https://w3id.org/exmech/ontology#> .\n"
    "<https://w3id.org/exmech/id/exercise/pilates> exm:examinedMechanism "
    "<https://w3id.org/exmech/id/mechanism/motor-control> .\n"
)
FIELDS = "study=cruz-diaz-2018&location=abstract&status=OutcomeOnly&wording=motor%20control"
PARTS = ("head", "assertion", "provenance", "pubinfo")


def environment(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")}
    return {**clean, **extra}


def serve(folder: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`exmech serve` in ``folder`` (default state dir .exmech), in its own process group."""
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            [EXMECH, "serve", "--port", str(port)],
            cwd=folder,
            env=environment(EXMECH_TOKENS_FILE="tokens.txt"),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exmech serve exited:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/sparql", timeout=1.0)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    kill_group(process)
    raise RuntimeError(f"exmech serve did not answer:\n{log.read_text(errors='replace')}")


def group(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """kill -9 of the server's whole process group; wait until none of it is left."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while group(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group(process.pid), "processes of the killed server are left"


def test_readme_curation_on_a_fresh_state_dir_survives_kill_9(tmp_path: Path) -> None:
    added = subprocess.run(
        [
            EXMECH,
            "token",
            "add",
            "--curator",
            "https://example.org/curator/ada",
            "--name",
            "Ada Example",
            "--file",
            "tokens.txt",
        ],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    token = added.stdout.splitlines()[0].strip()
    assert not (tmp_path / ".exmech").exists()  # nothing built yet: serve builds on first use
    (tmp_path / "claim.ttl").write_text(CLAIM)
    port, log = free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"

    server = serve(tmp_path, port, log)
    try:
        response = httpx.post(
            f"{url}/curation/submissions?{FIELDS}",
            content=(tmp_path / "claim.ttl").read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/turtle"},
            timeout=30,  # a bound on the test: the first write used to hang forever
        )
        assert response.status_code == 201, response.text
        slug = response.json()["nanopubs"][0]["slug"]
        assert response.headers["Location"].endswith(f"/id/claim/{slug}")
        assert len(group(server.pid)) >= 2  # the server and its query workers
    finally:
        kill_group(server)

    server = serve(tmp_path, port, log)
    try:
        answer = httpx.get(f"{url}/id/claim/{slug}", params={"format": "trig"}, timeout=30)
        assert answer.status_code == 200, answer.text
        dataset = rdflib.Dataset()
        dataset.parse(data=answer.text, format="trig")
        graphs = {str(g.identifier) for g in dataset.graphs() if len(g)}
        for part in PARTS:
            assert any(g.endswith(f"/id/graph/{slug}-{part}") for g in graphs), (part, graphs)
        assert "motor-control" in answer.text
    finally:
        kill_group(server)


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [EXMECH, "--state-dir", str(tmp_path / "state"), "serve", "--port", str(port)],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.search(rf"\b{port}\b.*in use.*--port", lines[0]), lines[0]
    assert not (tmp_path / "state").exists()  # refused before building anything
