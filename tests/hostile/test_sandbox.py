"""Query workers cannot reach the network, whatever the query says (issue 12, point 1).

The lexer (querytext/policy) refuses SERVICE, LOAD and remote graphs early with a 403; these
tests take it away and show the second defence holds by itself: each query worker installs a
seccomp filter before its first query, so no spelling of SERVICE, LOAD, FROM or a graph
parameter can open a connection. A loopback listener (the canary) counts connections: it must
see none. Also: exmech refuses to start where the filter cannot be installed, unless
EXMECH_QUERY_SANDBOX=optional; the filter holds for an unprivileged user as for root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Listener, LiveServer, start_server, stop_server
from exmech import sandbox
from exmech.errors import ExmechError, Forbidden
from exmech.settings import Settings
from exmech.store import Query
from exmech.store.embedded import EmbeddedStore

LAUNCH = str(Path(__file__).with_name("launch.py"))
pytestmark = pytest.mark.live


def reaching_queries(port: int) -> dict[str, tuple[str, dict[str, str]]]:
    """Every way we know to make an engine call out: name -> (query, extra parameters)."""
    url = f"http://127.0.0.1:{port}/sparql"
    spo = "{ ?s ?p ?o }"
    return {
        "SERVICE": (f"SELECT * {{ SERVICE <{url}> {spo} }}", {}),
        "SERVICE localhost": (f"SELECT * {{ SERVICE <http://localhost:{port}/> {spo} }}", {}),
        "SERVICE IPv6": (f"SELECT * {{ SERVICE <http://[::1]:{port}/> {spo} }}", {}),
        "SERVICE in ASK": (f"ASK {{ SERVICE <{url}> {spo} }}", {}),
        "SERVICE in CONSTRUCT": (f"CONSTRUCT {spo} WHERE {{ SERVICE <{url}> {spo} }}", {}),
        "SERVICE in DESCRIBE": (f"DESCRIBE ?s WHERE {{ SERVICE <{url}> {spo} }}", {}),
        "SERVICE in a subquery": (
            f"SELECT * {{ {{ SELECT * {{ SERVICE <{url}> {spo} }} LIMIT 1 }} }}",
            {},
        ),
        "SERVICE in OPTIONAL": (
            f"SELECT * {{ ?a ?b ?c OPTIONAL {{ SERVICE <{url}> {spo} }} }}",
            {},
        ),
        "SERVICE by prefixed name": (
            f"PREFIX r: <http://127.0.0.1:{port}/> SELECT * {{ SERVICE r:sparql {spo} }}",
            {},
        ),
        "SERVICE after a PN_LOCAL_ESC": (
            f"PREFIX ex: <http://e/> SELECT * {{ BIND(ex:a\\#b AS ?x)\nSERVICE <{url}> {spo} }}",
            {},
        ),
        "SERVICE with \\u in the IRI": (
            f"SELECT * {{ SERVICE <http\\u003A//127.0.0.1:{port}/sparql> {spo} }}",
            {},
        ),
        "SERVICE by a relative IRI": (
            f"BASE <http://127.0.0.1:{port}/> SELECT * {{ SERVICE <sparql> {spo} }}",
            {},
        ),
        "SERVICE by a bound variable": (
            f"SELECT * {{ VALUES ?e {{ <{url}> }} SERVICE ?e {spo} }}",
            {},
        ),
        "FROM": (f"SELECT * FROM <{url}> {{ ?s ?p ?o }}", {}),
        "FROM NAMED": (f"SELECT * FROM NAMED <{url}> {{ GRAPH ?g {spo} }}", {}),
        "DESCRIBE a remote IRI": (f"DESCRIBE <{url}>", {}),
        "LOAD as a query": (f"LOAD <{url}>", {}),
        "default-graph-uri": ("SELECT * { ?s ?p ?o }", {"default-graph-uri": url}),
        "named-graph-uri": ("SELECT * { GRAPH ?g { ?s ?p ?o } }", {"named-graph-uri": url}),
    }


@pytest.fixture(scope="module")
def canary() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def lexer_off(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    """A server whose query policy lets every SERVICE, LOAD and graph name through."""
    base = tmp_path_factory.mktemp("lexer-off")
    shutil.copytree(built_state, base / "state")
    server = start_server(
        base / "state",
        base / "server.log",
        [sys.executable, LAUNCH, "lexer-off", "serve"],
        EXMECH_QUERY_TIMEOUT="5",
        EXMECH_MAX_ROWS="100",
    )
    yield server
    stop_server(server)


def test_with_the_lexer_off_no_query_reaches_the_network(
    lexer_off: LiveServer, canary: Listener
) -> None:
    answers = {}
    for name, (query, extra) in reaching_queries(canary.port).items():
        reply = httpx.post(
            lexer_off.sparql,
            data={"query": query, **extra},
            headers={"Accept": "application/sparql-results+json, text/turtle"},
            timeout=30,
        )
        answers[name] = (reply.status_code, reply.text[:300])
    assert canary.settled() == 0, (canary.requests, answers)
    assert all(status < 500 for status, _ in answers.values()), {
        k: v for k, v in answers.items() if v[0] >= 500
    }
    for name, (status, text) in answers.items():
        if name.startswith("SERVICE") and "variable" not in name:
            # SERVICE reaches the engine and its call is refused: a 403 that says why.
            assert status == 403, (name, status, text)
            assert "cannot open sockets" in text, (name, text)
    # The server still answers, and the workers that refused are still serving.
    ok = httpx.get(lexer_off.sparql, params={"query": "ASK { ?s ?p ?o }"}, timeout=30)
    assert ok.status_code == 200 and "true" in ok.text


def test_every_hostile_case_aimed_at_the_canary_with_the_lexer_off(
    lexer_off: LiveServer, canary: Listener
) -> None:
    """The 300 hostile cases (cases.yaml) include every spelling found so far that aims a
    query, update, graph parameter or upload at an address; those aimed at the canary's port
    are sent to the server whose lexer is off. Their statuses may differ from the lexer's
    (a refused SERVICE is a 403 either way), but none may connect and none may be a 5xx."""
    from test_hostile import CASES, send

    aimed = [case for case in CASES if "{port}" in str(case.get("path")) + str(case.get("body"))]
    assert len(aimed) >= 40
    statuses = {}
    for case in aimed:
        status, body, _headers = send(lexer_off.url, case, canary.port)
        statuses[case["name"]] = (status, body[:200])
    assert canary.settled() == 0, (canary.requests, statuses)
    assert all(status < 500 for status, _ in statuses.values()), {
        name: answer for name, answer in statuses.items() if answer[0] >= 500
    }


def test_service_silent_with_the_lexer_off_answers_without_calling(
    lexer_off: LiveServer, canary: Listener
) -> None:
    query = f"SELECT * {{ SERVICE SILENT <{canary.url}/sparql> {{ ?s ?p ?o }} }}"
    reply = httpx.post(lexer_off.sparql, data={"query": query}, timeout=30)
    assert reply.status_code == 200, reply.text  # SILENT: a failed call is no solution
    assert canary.settled() == 0


def test_the_lexer_still_answers_first_when_it_is_on(
    live_server: LiveServer, canary: Listener
) -> None:
    query = f"SELECT * {{ SERVICE <{canary.url}/sparql> {{ ?s ?p ?o }} }}"
    reply = httpx.post(live_server.sparql, data={"query": query}, timeout=30)
    assert reply.status_code == 403
    assert "EXMECH_SERVICE_ALLOWLIST" in reply.text  # the lexer's message, not the filter's
    assert canary.settled() == 0


def test_the_store_itself_refuses_a_service_call(built_state: Path, tmp_path: Path) -> None:
    """Below HTTP: EmbeddedStore.query runs any text it is given; the worker still refuses."""
    listener = Listener()
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    store = EmbeddedStore(Settings(state_dir=state, data_root=ROOT, query_workers=1))
    try:
        refused = 0
        for query, _extra in reaching_queries(listener.port).values():
            try:
                store.query(Query(query, "SELECT", "application/sparql-results+json"))
            except Forbidden as exc:
                assert "cannot open sockets" in exc.message
                refused += 1
            except ExmechError as exc:
                assert exc.status < 500, exc.message
        assert refused >= 10
        assert listener.settled() == 0
    finally:
        store.close()
        listener.close()


def test_refuses_to_start_where_workers_cannot_be_confined(
    tmp_path: Path, built_state: Path
) -> None:
    """As in a container whose seccomp profile denies seccomp(): a loud refusal, naming the
    setting that would allow it."""
    shutil.copytree(built_state, tmp_path / "state")
    with pytest.raises(RuntimeError) as refused:
        server = start_server(
            tmp_path / "state",
            tmp_path / "server.log",
            [sys.executable, LAUNCH, "no-seccomp", "serve"],
        )
        stop_server(server)
    message = str(refused.value)
    assert "server exited early" in message
    assert "cannot be barred from the network" in message
    assert "EXMECH_QUERY_SANDBOX=optional" in message


def test_starts_unconfined_only_when_told_and_says_so(
    tmp_path: Path, built_state: Path, canary: Listener
) -> None:
    shutil.copytree(built_state, tmp_path / "state")
    server = start_server(
        tmp_path / "state",
        tmp_path / "server.log",
        [sys.executable, LAUNCH, "no-seccomp", "serve"],
        EXMECH_QUERY_SANDBOX="optional",
    )
    try:
        query = f"SELECT * {{ SERVICE <{canary.url}/sparql> {{ ?s ?p ?o }} }}"
        reply = httpx.post(server.sparql, data={"query": query}, timeout=30)
        assert reply.status_code == 403  # the lexer is the guard left
        assert canary.settled() == 0
    finally:
        stop_server(server)
    assert "NETWORK NOT DENIED" in server.output()


PROBE = """
import socket
from exmech import sandbox
print(sandbox.deny_network())
for family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
    try:
        socket.socket(family)
    except PermissionError:
        continue
    raise SystemExit(f"{family} opened")
print("uid", __import__("os").getuid())
"""


def test_the_filter_needs_no_privilege() -> None:
    """CI runs as root; the filter must hold for an unprivileged user too (``nobody``)."""
    command = [sys.executable, "-c", PROBE]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop to nobody"
        command = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "service")}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "seccomp: socket, connect and io_uring denied" in out.stdout
    assert "uid 0" not in out.stdout


X32_PROBE = """
import ctypes, errno, socket
from exmech import sandbox
libc = ctypes.CDLL(None, use_errno=True)
x32_socket = sandbox.X32_SYSCALL_BIT | 41
before = libc.syscall(x32_socket, socket.AF_INET, socket.SOCK_STREAM, 0), ctypes.get_errno()
sandbox.deny_network()
after = libc.syscall(x32_socket, socket.AF_INET, socket.SOCK_STREAM, 0), ctypes.get_errno()
print(errno.errorcode.get(before[1]), errno.errorcode.get(after[1]), after[0])
"""


def test_the_x32_door_is_shut() -> None:
    """On x86-64, x32 calls carry the native audit arch: ``socket`` by its x32 number must be
    refused too (without the filter the kernel answers ENOSYS, or opens it when x32 is on)."""
    if os.uname().machine != "x86_64":
        assert os.uname().machine in sandbox.ABIS  # aarch64 has no second ABI to test
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT / "service")}
    out = subprocess.run(
        [sys.executable, "-c", X32_PROBE], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    before, after, result = out.stdout.split()
    assert before != "EPERM"
    assert (after, result) == ("EPERM", "-1")


def test_exmech_query_keeps_the_endpoints_rule(tmp_path: Path, canary: Listener) -> None:
    """The command line runs queries in-process (no worker), so the lexer's rule is its guard:
    a SERVICE outside the allow-list is refused there too, naming the setting."""
    query = f"SELECT * {{ SERVICE <{canary.url}/sparql> {{ ?s ?p ?o }} }}"
    out = subprocess.run(
        [sys.executable, "-m", "exmech", "--data-root", str(ROOT), "query", query],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode != 0
    assert "EXMECH_SERVICE_ALLOWLIST" in out.stderr
    assert canary.settled() == 0
