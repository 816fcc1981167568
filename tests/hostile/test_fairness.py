"""Fair scheduling of queries (store/pool.py), against live servers.

Clients come from distinct loopback addresses (127.0.0.x), as distinct hosts would, so
the per-client cap sees them apart. The runaway is a cartesian product that runs until its
timeout. No timing is asserted beyond "answered at all within the test's bound".
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import LiveServer, start_server, stop_server

pytestmark = pytest.mark.live
RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def client(address: str, timeout: float = 30) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout)


def get(address: str, url: str, query: str, timeout: float = 30) -> httpx.Response:
    with client(address, timeout) as http:
        return http.get(url, params={"query": query + f"\n# {uuid.uuid4()}\n"})


def serve(tmp: Path, built_state: Path, **env: str) -> LiveServer:
    state = tmp / "state"
    shutil.copytree(built_state, state)
    return start_server(state, tmp / "server.log", **env)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    """One worker, no fast lane, one slow query may wait, one slow query per client."""
    server = serve(
        tmp_path_factory.mktemp("small"),
        built_state,
        EXMECH_QUERY_TIMEOUT="4",
        EXMECH_QUERY_WORKERS="1",
        EXMECH_FAST_WORKERS="0",
        EXMECH_QUERY_QUEUE="1",
        EXMECH_CLIENT_SLOW_QUERIES="1",
    )
    try:
        yield server
    finally:
        stop_server(server)


def in_background(address: str, url: str, query: str) -> tuple[threading.Thread, dict[str, object]]:
    result: dict[str, object] = {}

    def call() -> None:
        try:
            result["response"] = get(address, url, query)
        except httpx.HTTPError as exc:
            result["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    return thread, result


def test_a_full_queue_is_a_clear_503_with_retry_after(small: LiveServer) -> None:
    learnt = get("127.0.0.2", small.sparql, RUNAWAY)  # runs to its timeout: now known slow
    assert learnt.status_code == 503 and "timeout" in learnt.text
    assert get("127.0.0.2", small.sparql, "ASK {}").status_code == 200  # worker replaced
    running, _ = in_background("127.0.0.2", small.sparql, RUNAWAY)
    time.sleep(1)
    waiting, _ = in_background("127.0.0.3", small.sparql, RUNAWAY)
    time.sleep(1)
    refused = get("127.0.0.4", small.sparql, RUNAWAY)
    assert refused.status_code == 503, refused.text
    assert "waiting for a query worker" in refused.text and "EXMECH_QUERY_QUEUE" in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    cheap = get("127.0.0.4", small.sparql, "ASK { ?s ?p ?o }")  # waits in the longer line
    assert cheap.status_code in (200, 503) and "EXMECH_QUERY_QUEUE" not in cheap.text
    running.join(timeout=30)
    waiting.join(timeout=30)
    after = get("127.0.0.4", small.sparql, "ASK { ?s ?p ?o }")
    assert after.status_code == 200 and after.json()["boolean"] is True


def test_one_client_cannot_hold_more_than_its_share_of_slow_queries(small: LiveServer) -> None:
    """(After the test above, the runaway is known to be slow.)"""
    assert get("127.0.0.5", small.sparql, "ASK {}").status_code == 200  # worker replaced
    holding, _ = in_background("127.0.0.5", small.sparql, RUNAWAY)
    time.sleep(1)
    over = get("127.0.0.5", small.sparql, RUNAWAY)
    assert over.status_code == 429, over.text
    assert "EXMECH_CLIENT_SLOW_QUERIES" in over.text
    assert int(over.headers["Retry-After"]) >= 1
    other = get("127.0.0.6", small.sparql, RUNAWAY)  # another address: queued, not capped
    assert other.status_code != 429, other.text
    holding.join(timeout=30)


@pytest.fixture(scope="module")
def lanes(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    """Default lanes (2 slow workers, 1 fast), a 4 s timeout."""
    server = serve(tmp_path_factory.mktemp("lanes"), built_state, EXMECH_QUERY_TIMEOUT="4")
    try:
        yield server
    finally:
        stop_server(server)


def test_a_trivial_ask_is_answered_while_heavy_queries_run(lanes: LiveServer) -> None:
    """Six clients keep runaways going; an ASK from a seventh is still answered, each time,
    within a bound shorter than the runaways' timeout (first come, first served made it
    wait for one of them to be killed)."""
    stop = threading.Event()
    statuses: list[int] = []

    def heavy(address: str) -> None:
        with client(address) as http:
            while not stop.is_set():
                answer = http.get(lanes.sparql, params={"query": RUNAWAY})
                statuses.append(answer.status_code)
                if answer.status_code in (429, 503) and "Retry-After" in answer.headers:
                    time.sleep(0.2)

    threads = [threading.Thread(target=heavy, args=(f"127.0.0.{10 + i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    try:
        waited = time.monotonic() + 30
        while 503 not in statuses and time.monotonic() < waited:
            time.sleep(0.1)  # until the runaway is known to be slow (it ran to its timeout)
        time.sleep(1.5)  # and the fast worker it held at first has been replaced
        for _ in range(5):
            answer = get("127.0.0.30", lanes.sparql, "ASK { ?s ?p ?o }", timeout=3.0)
            assert answer.status_code == 200, answer.text
            assert answer.json()["boolean"] is True
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert statuses.count(503) >= 2  # the runaways really ran to their timeout meanwhile
