"""A full disk never makes a read answer 500 (issue 12, point 8).

The dumps (/download/..., which /.well-known/void lists) are written on first use: while they
cannot be written they answer 503 saying so, and every other read goes on; once there is
space again they are written and served, without a restart. /ontology's documentation is
cached on disk; a disk that cannot take it costs only that copy (the page is served).

As in test_faults.py, the real fault is a small tmpfs (room for the dumps once emptied) filled
to the last page, under the state directory's downloads/ and cache/ folders (skipped where
mounting is not allowed); the second test needs no mount: a file stands where those folders
go, so creating them fails.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import LiveServer, start_server, stop_server
from flask import Flask
from test_faults import mounted

pytestmark = pytest.mark.live
DUMPS = ("/download/", "/download/exmech.nq", "/.well-known/void")


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def reads_work(url: str) -> None:
    for path in ("/id/mechanism/motor-control", "/api/evidence-map", "/", "/sitemap.xml"):
        response = httpx.get(url + path, timeout=30)
        assert response.status_code == 200, (path, response.text[:300])
    ask = httpx.get(f"{url}/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=30)
    assert ask.status_code == 200 and ask.json()["boolean"] is True
    ontology = httpx.get(f"{url}/ontology", headers={"Accept": "text/html"}, timeout=120)
    assert ontology.status_code == 200 and "Mechanism" in ontology.text


def dumps_unavailable(url: str) -> None:
    for path in DUMPS:
        response = httpx.get(url + path, timeout=60)
        assert response.status_code == 503, (path, response.status_code, response.text[:300])
        assert "dumps are unavailable" in response.text, (path, response.text[:300])


def test_with_the_disk_full_dumps_are_503_and_reads_go_on(
    tmp_path: Path, built_state: Path
) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=16m", "tmpfs", target=disk):
        for name in ("downloads", "cache"):
            shutil.rmtree(state / name, ignore_errors=True)
            (disk / name).mkdir()
            (state / name).symlink_to(disk / name)
        filler = fill(disk)
        server: LiveServer = start_server(state, tmp_path / "server.log")
        try:
            dumps_unavailable(server.url)
            reads_work(server.url)
            filler.unlink()
            for path in DUMPS:  # space again: written and served, no restart
                response = httpx.get(server.url + path, timeout=60)
                assert response.status_code == 200, (path, response.text[:300])
            assert server.process.poll() is None
        finally:
            stop_server(server)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_without_a_mount_unwritable_folders_are_503_for_dumps_only(
    tmp_path: Path, built_state: Path, make_app: Callable[..., Flask]
) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    for name in ("downloads", "cache"):
        shutil.rmtree(state / name, ignore_errors=True)
        (state / name).write_text("a file where a folder should be")
    client = make_app(state, cache_entries=0).test_client()
    for path in DUMPS:
        response = client.get(path)
        assert response.status_code == 503, (path, response.status_code)
        assert "dumps are unavailable" in response.get_data(as_text=True)
    for path in ("/id/mechanism/motor-control", "/api/evidence-map", "/"):
        assert client.get(path).status_code == 200, path
    ontology = client.get("/ontology", headers={"Accept": "text/html"})
    assert ontology.status_code == 200 and "Mechanism" in ontology.get_data(as_text=True)
