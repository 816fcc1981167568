"""Nothing accepted is ever lost: torn journals, crashes between journal and store, kill -9.

A submission is acknowledged (201) only after its journal record is fsynced and the store
committed it in one transaction. Whatever moment a crash hits, each submission is wholly in
or wholly out, a restart serves every journaled one, and ``exmech build`` rebuilds them all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from itertools import product
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from conftest import ROOT, open_app, select, start_server, stop_server
from exmech.build import build, open_built
from exmech.errors import NotBuilt
from exmech.settings import Settings
from exmech.store import open_store
from exmech.store.embedded import EmbeddedStore, read_meta
from exmech.store.journal import MAGIC, Journal
from test_curation import ADA_TOKEN, COUNT_CREATED, FIELDS, INCOMPLETE, KEYS, auth, bare, sparql

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
EXERCISES = ("aerobic", "yoga", "pilates", "walking", "resistance", "aquatic", "stretching")
MECHANISMS = (
    "sleep",
    "mindfulness",
    "relaxation",
    "catastrophizing",
    "body-awareness",
    "proprioception",
    "systemic-inflammation",
    "social-engagement",
    "muscle-size",
)


def quad(n: int) -> bytes:
    """One N-Quads line, numbered."""
    ex = "https://example.org/"
    return f'<{ex}s> <{ex}p> "{n}" <{ex}g> .\n'.encode()


def test_a_torn_tail_is_ignored_and_cut_before_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    Journal(path).append(quad(1))
    whole = path.read_bytes()
    for cut in (1, len(quad(2)) // 2, len(quad(2)) + 30):  # inside payload, header, and one more
        path.write_bytes(whole)
        Journal(path).append(quad(2))
        path.write_bytes(path.read_bytes()[:-cut])
        assert list(Journal(path).records()) == [quad(1)]
        journal = Journal(path)
        journal.append(quad(3))
        assert list(journal.records()) == [quad(1), quad(3)]
    assert path.read_bytes().startswith(MAGIC)


def test_a_failed_store_write_takes_the_record_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.log")
    journal.append(quad(1))
    mark = journal.append(quad(2))
    journal.truncate(mark)
    journal.append(quad(3))
    assert list(Journal(tmp_path / "journal.log").records()) == [quad(1), quad(3)]


def claim_iris(payloads: list[bytes]) -> set[str]:
    """Nanopublications named in journal records (subjects of np:hasAssertion)."""
    return {
        q.subject.value
        for payload in payloads
        for q in ox.parse(payload, format=ox.RdfFormat.N_QUADS)
        if q.predicate.value.endswith("hasAssertion")
    }


@pytest.fixture
def state(tmp_path: Path, built_state: Path) -> Path:
    shutil.copytree(built_state, tmp_path / "state")
    return tmp_path / "state"


def test_opening_applies_records_journaled_but_not_committed(state: Path) -> None:
    """A crash between the journal's fsync and the store's commit: the next open applies it."""
    settings = Settings(state_dir=state, data_root=ROOT)
    payload = quad(7)
    Journal(state / "journal.log").append(payload)
    store = EmbeddedStore(settings, workers=False)
    assert select(store, 'SELECT ?s { ?s ?p "7" }') == [{"s": "https://example.org/s"}]
    meta = read_meta(state)
    assert meta is not None and meta["journal_records"] == 1
    assert (state / "CURRENT").read_text().strip() == store.generation
    store.close()


def test_opening_rebuilds_a_store_whose_build_was_cut_short(state: Path) -> None:
    """A build killed after removing the old store and before moving in the new one."""
    Journal(state / "journal.log").append(quad(8))
    shutil.rmtree(state / "store")
    store = open_built(Settings(state_dir=state, data_root=ROOT), workers=False)
    assert select(store, 'SELECT ?s { ?s ?p "8" }')
    assert select(store, "SELECT ?s { ?s a <https://w3id.org/exmech/ontology#Theme> } LIMIT 1")
    store.close()


def test_opening_never_builds_only_the_opener_that_decides_to(state: Path) -> None:
    """The store refuses to open what is not there and leaves the state as it was; the
    build is open_built's decision (serve and the CLI), not a side effect of opening."""
    shutil.rmtree(state / "store")
    before = sorted(p.name for p in state.iterdir())
    with pytest.raises(NotBuilt, match=r"no built store in .*run `exmech build`"):
        open_store(Settings(state_dir=state, data_root=ROOT), workers=False)
    assert sorted(p.name for p in state.iterdir()) == before


# --- kill -9 --------------------------------------------------------------------------------


def children() -> dict[int, list[int]]:
    """Parent pid -> child pids of every live (non-zombie) process."""
    tree: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            tree[int(fields[1])].append(int(stat.parent.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, found, todo = children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_9(server_pid: int) -> list[int]:
    """SIGKILL the gunicorn worker (the writer) and the master; return the orphans left."""
    family = descendants(server_pid)
    for pid in [*children().get(server_pid, []), server_pid]:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in family):
        time.sleep(0.1)
    orphans = [p for p in family if alive(p)]
    for pid in orphans:  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    return orphans


def test_kill_9_mid_stream_loses_no_acknowledged_submission(tmp_path: Path, state: Path) -> None:
    server = start_server(
        state, tmp_path / "server.log", EXMECH_TOKENS=KEYS, EXMECH_QUERY_WORKERS="2"
    )
    pairs = iter(product(EXERCISES, MECHANISMS))
    acknowledged: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def stream() -> None:
        while not stop.is_set():
            with lock:
                pair = next(pairs, None)
            if pair is None:
                return
            try:
                response = httpx.post(
                    f"{server.url}/curation/submissions?{FIELDS}",
                    data=bare(*pair),
                    headers={**auth(ADA_TOKEN), "Content-Type": "text/turtle"},
                    timeout=30,
                )
            except httpx.HTTPError:
                return
            if response.status_code in (200, 201):
                with lock:
                    acknowledged.extend(n["iri"] for n in response.json()["nanopubs"])

    threads = [threading.Thread(target=stream) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(descendants(server.process.pid)) >= 3  # worker + its query processes
    orphans = kill_9(server.process.pid)
    server.process.wait(timeout=5)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert orphans == [], "query workers outlived the server"
    assert len(acknowledged) >= 12

    journaled = claim_iris(list(Journal(state / "journal.log").records()))
    assert set(acknowledged) <= journaled
    for restart in ("restart", "rebuild"):
        if restart == "rebuild":
            build(Settings(state_dir=state, data_root=ROOT))
        server = start_server(state, tmp_path / f"{restart}.log", EXMECH_TOKENS=KEYS)
        try:
            created = {r["np"]: int(r["n"]) for r in sparql(server.url, COUNT_CREATED)}
            assert all(created.get(iri) == 1 for iri in journaled), restart
            assert sparql(server.url, INCOMPLETE) == [], restart
        finally:
            stop_server(server)


def test_kill_9_during_build_then_the_next_build_is_complete(tmp_path: Path, state: Path) -> None:
    journal = Journal(state / "journal.log")
    for exercise, mechanism in list(product(EXERCISES, MECHANISMS))[:3]:
        with open_app(state, tokens=KEYS) as app:
            accepted = app.test_client().post(
                f"/curation/submissions?{FIELDS}",
                data=bare(exercise, mechanism),
                content_type="text/turtle",
                headers=auth(ADA_TOKEN),
            )
        assert accepted.status_code == 201
    records = len(list(journal.records()))
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(state / "journal.log", reference / "journal.log")
    expected = build(Settings(state_dir=reference, data_root=ROOT)).quads
    command = [
        sys.executable,
        "-m",
        "exmech",
        "--state-dir",
        str(state),
        "--data-root",
        str(ROOT),
        "build",
    ]
    for delay in (0.2, 0.6, 1.0, 1.4):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        opened = open_built(Settings(state_dir=state, data_root=ROOT), workers=False)
        count = select(opened, "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }")
        assert int(count[0]["n"]) == expected, f"after a kill at {delay} s"
        opened.close()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    meta = json.loads((state / "meta.json").read_text())
    assert meta["quads"] == expected and meta["journal_records"] == records
