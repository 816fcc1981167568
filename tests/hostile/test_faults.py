"""Storage faults: a full disk or a read-only journal refuses writes clearly, reads go on.

A write that cannot be journaled must answer 503 with a message naming the cause (never an
unexplained 500), leave the journal and the store as they were, and leave every read working;
once the fault clears, the next submission is accepted without a restart.

The tests run as root, where chmod does not stop writes, so the faults are real mounts: a
tiny tmpfs filled to the last page holds journal.log (full disk, ENOSPC), or journal.log is
bind-mounted read-only (EROFS). Where mounting is not permitted those two skip, and the
in-process test below still covers the same path with an OSError injected into the journal.
kill -9 during submissions and during a build is covered by tests/test_durability.py.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import LiveServer, open_app, start_server, stop_server
from exmech import tokens
from exmech.store.journal import Journal
from flask import Flask

pytestmark = pytest.mark.live
TOKEN, ENTRY = tokens.new_entry("https://example.org/curator/faults", "Fault Tester")
KNOWN = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
CLAIM = (
    "<https://w3id.org/exmech/id/exercise/yoga> "
    "<https://w3id.org/exmech/ontology#proposedMechanism> "
    "<https://w3id.org/exmech/id/mechanism/{mechanism}> ."
)
FIELDS = {
    "study": "wun-2021",
    "location": "abstract",
    "status": "NotMeasured",
    "wording": "fault test claim",
}


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


def _umount(target: Path) -> None:
    result = subprocess.run(["umount", str(target)], capture_output=True, timeout=30)
    if result.returncode != 0:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30)


@contextmanager
def mounted(*args: str, target: Path) -> Iterator[None]:
    """``mount args... target`` for the block; skip when this machine does not allow it."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    try:
        _mount(*args, str(target))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot mount here ({exc.stderr.decode(errors='replace').strip()})")
    try:
        yield
    finally:
        _umount(target)


def _submit(server: LiveServer, mechanism: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/curation/submissions",
        params=FIELDS,
        content=CLAIM.format(mechanism=mechanism).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/turtle"},
        timeout=60,
    )


def _reads_work(server: LiveServer) -> tuple[int, str, str]:
    """Every kind of read answers; (triples, generation, dataset hash) of the known query."""
    for path in ("/id/mechanism/motor-control", "/api/evidence-map", "/"):
        response = httpx.get(server.url + path, timeout=30)
        assert response.status_code == 200, (path, response.text[:300])
    response = httpx.get(
        server.sparql,
        params={"query": KNOWN},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    count = int(response.json()["results"]["bindings"][0]["n"]["value"])
    return count, response.headers["exmech-generation"], response.headers["exmech-dataset"]


def _refused_then_recovered(server: LiveServer, journal: Path, expected: str, clear: Any) -> None:
    before = _reads_work(server)
    size = journal.stat().st_size
    refused = _submit(server, "motor-control")
    assert refused.status_code == 503, refused.text
    assert "cannot be written" in refused.json()["error"], refused.text
    assert expected in refused.json()["error"], refused.text
    assert _reads_work(server) == before  # nothing applied, reads unharmed
    assert journal.stat().st_size == size  # nothing journaled
    clear()
    accepted = _submit(server, "motor-control")
    assert accepted.status_code == 201, accepted.text
    after = _reads_work(server)
    assert after[0] > before[0] and after[1] != before[1]
    assert server.process.poll() is None


@pytest.fixture
def state(tmp_path: Path, built_state: Path) -> Path:
    target = tmp_path / "state"
    shutil.copytree(built_state, target)
    (target / "journal.log").touch()
    return target


def test_a_full_disk_refuses_writes_with_503_and_reads_go_on(tmp_path: Path, state: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=64k", "tmpfs", target=disk):
        (state / "journal.log").unlink()
        (disk / "journal.log").touch()
        (state / "journal.log").symlink_to(disk / "journal.log")
        filler = disk / "filler"
        with open(filler, "wb", buffering=0) as handle:  # fill the disk to the last page
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        server = start_server(state, tmp_path / "server.log", EXMECH_TOKENS=ENTRY.line())
        try:
            _refused_then_recovered(
                server, state / "journal.log", "No space left on device", clear=filler.unlink
            )
        finally:
            stop_server(server)


def test_a_read_only_journal_refuses_writes_with_503_and_reads_go_on(
    tmp_path: Path, state: Path
) -> None:
    journal = state / "journal.log"
    with mounted("--bind", str(journal), target=journal):
        try:
            _mount("-o", "remount,ro,bind", str(journal))
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot remount read-only here ({exc.stderr.decode(errors='replace')})")
        server = start_server(state, tmp_path / "server.log", EXMECH_TOKENS=ENTRY.line())
        try:
            _refused_then_recovered(
                server,
                journal,
                "Read-only file system",
                clear=lambda: _mount("-o", "remount,rw,bind", str(journal)),
            )
        finally:
            stop_server(server)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_failing_journal_in_process_is_a_clear_503(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without mounts: the journal's append raises ENOSPC; the app answers 503, reads work."""
    app = make_app(tokens=ENTRY.line(), cache_entries=0)
    store, client = app.extensions["exmech"].store, app.test_client()

    def full(self: Journal, payload: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    monkeypatch.setattr(Journal, "append", full)
    generation = store.generation
    refused = client.post(
        "/curation/submissions",
        query_string=FIELDS,
        data=CLAIM.format(mechanism="motor-control"),
        content_type="text/turtle",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert refused.status_code == 503, refused.get_data(as_text=True)
    assert "cannot be written" in refused.get_json()["error"]
    assert "No space left on device" in refused.get_json()["error"]
    assert store.generation == generation
    assert client.get("/id/mechanism/motor-control").status_code == 200
    assert client.get("/api/evidence-map").status_code == 200
    read = client.get(
        "/sparql",
        query_string={"query": KNOWN},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert read.status_code == 200
    monkeypatch.undo()
    accepted = client.post(
        "/curation/submissions",
        query_string=FIELDS,
        data=CLAIM.format(mechanism="motor-control"),
        content_type="text/turtle",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert accepted.status_code == 201, accepted.get_data(as_text=True)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_submission_refused_for_a_failed_fsync_stays_refused_after_a_restart(
    tmp_path: Path, built_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    with open_app(state, tokens=ENTRY.line(), cache_entries=0) as app:
        generation = app.extensions["exmech"].store.generation

        def failing_fsync(fd: int) -> None:
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr("exmech.store.journal.os.fsync", failing_fsync)
        refused = app.test_client().post(
            "/curation/submissions",
            query_string=FIELDS,
            data=CLAIM.format(mechanism="motor-control"),
            content_type="text/turtle",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        monkeypatch.undo()
        assert refused.status_code == 503, refused.get_data(as_text=True)
    with open_app(state, tokens=ENTRY.line(), cache_entries=0) as reopened:
        generation_now = reopened.extensions["exmech"].store.generation
        assert generation_now == generation, "the refused submission came back"
