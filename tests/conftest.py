"""Shared fixtures: settings on a temporary state dir, a built store, a live server.

Tests never read the developer's EXMECH_* variables: an autouse fixture clears them.
`live_server` starts `python -m exmech serve` on a free loopback port, polls until it
answers, and stops it by its pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from exmech.build import build
from exmech.settings import Settings
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


def require_binary(name: str, why: str) -> str:
    """Path of a system binary; skip when missing, but fail in CI (EXMECH_REQUIRE_ALL=1)."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed ({why}); .ci/run installs it"
    if os.environ.get("EXMECH_REQUIRE_ALL") == "1":
        pytest.fail(message + " but EXMECH_REQUIRE_ALL=1 demands every test runs")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EXMECH_") and key != "EXMECH_REQUIRE_ALL":
            monkeypatch.delenv(key)


def fixture_header(path: Path) -> dict[str, str]:
    """The ``key: value`` lines a submission fixture opens with (``# `` comments, or the
    ``@comment`` list of a JSON-LD file): what the file expects and why."""
    if path.suffix == ".jsonld":
        lines = json.loads(path.read_text())["@comment"]
    else:
        lines = [line[2:] for line in path.read_text().splitlines() if line.startswith("# ")]
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def built_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dir built once from the shipped ontology/ and data/ (copy it to write)."""
    state = tmp_path_factory.mktemp("state")
    build(Settings(state_dir=state, data_root=ROOT))
    return state


@contextmanager
def open_app(state: Path, workers: bool = False, **changes: Any) -> Iterator[Flask]:
    """The app over ``state`` (the repository's data, no request log, ``changes`` to its
    Settings) on an embedded store, in-process unless ``workers``; app and store closed after."""
    from exmech.app import close_app, create_app
    from exmech.store.embedded import EmbeddedStore

    config = Settings(**{"state_dir": state, "data_root": ROOT, "log_requests": False, **changes})
    store = EmbeddedStore(config, workers=workers)
    try:
        app = create_app(config, store=store)
        try:
            yield app
        finally:
            close_app(app)
    finally:
        store.close()


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    """What a test module changes in its ``app``'s Settings: override it in the module."""
    return {}


@pytest.fixture(scope="module")
def app_state(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Path:
    """The state dir a module's ``app`` opens: a private copy of the built store, unless the
    module overrides it."""
    state = tmp_path_factory.mktemp("app") / "state"
    shutil.copytree(built_state, state)
    return state


@pytest.fixture(scope="module")
def app_workers() -> bool:
    """Whether a module's ``app`` runs its queries in worker processes (override to say so)."""
    return False


@pytest.fixture(scope="module")
def app(app_state: Path, app_settings: dict[str, Any], app_workers: bool) -> Iterator[Flask]:
    """The app over ``app_state``, in-process (no query workers unless ``app_workers``), one
    per module; closed at the module's end."""
    with open_app(app_state, app_workers, **app_settings) as opened:
        yield opened


@pytest.fixture
def make_app(tmp_path: Path, built_state: Path) -> Iterator[Callable[..., Flask]]:
    """Apps a test makes for itself: ``make_app(state=None, workers=False, **changes)`` opens
    ``state`` (by default a fresh private copy of the built store) like ``app``; each is
    closed at the test's end (close one earlier with ``exmech.app.close_app`` and its store)."""
    with ExitStack() as stack:

        def make(state: Path | None = None, workers: bool = False, **changes: Any) -> Flask:
            if state is None:
                state = Path(tempfile.mkdtemp(dir=tmp_path, prefix="app")) / "state"
                shutil.copytree(built_state, state)
            return stack.enter_context(open_app(state, workers, **changes))

        yield make


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    """Runs exmech's click commands in-process (``runner.invoke(main, [...])``)."""
    return CliRunner()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Tight limits, a private state dir, the repository's data."""
    return Settings(
        state_dir=tmp_path / "state",
        data_root=ROOT,
        query_timeout=2.0,
        max_rows=100,
        query_workers=2,
        cache_entries=64,
        curation_rate_limit="off",
    )


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    state_dir: Path
    log: Path

    @property
    def sparql(self) -> str:
        return f"{self.url}/sparql"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    state_dir: Path, log: Path, command: list[str] | None = None, **env: str
) -> LiveServer:
    """``python -m exmech serve`` (or ``command``) on a free port, once it answers."""
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")},
        "EXMECH_STATE_DIR": str(state_dir),
        "EXMECH_DATA_ROOT": str(ROOT),
        "EXMECH_PORT": str(port),
        # Tests send many curation requests from one address; the rate limit has its own.
        "EXMECH_CURATION_RATE_LIMIT": "off",
        **env,
    }
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        command or [sys.executable, "-m", "exmech", "serve"],
        env=environment,
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=state_dir.parent,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(f"{url}/sparql", timeout=1.0)
            return LiveServer(url, process, state_dir, log)
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_server(LiveServer(url, process, state_dir, log))
    raise RuntimeError(f"server did not answer within 60 s:\n{log.read_text(errors='replace')}")


def stop_server(server: LiveServer) -> None:
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)


@contextmanager
def serving(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    """A real exmech server on 127.0.0.1 over a private copy of the built store (2 s timeout,
    100 rows, no curator tokens: nothing can write to it), stopped after."""
    base = tmp_path_factory.mktemp("live")
    state = base / "state"
    shutil.copytree(built_state, state)
    server = start_server(
        state,
        base / "server.log",
        EXMECH_QUERY_TIMEOUT="2",
        EXMECH_MAX_ROWS="100",
        EXMECH_MAX_QUERY_BYTES="20000",
    )
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory, built_state: Path
) -> Iterator[LiveServer]:
    with serving(tmp_path_factory, built_state) as server:
        yield server


@pytest.fixture(scope="module")
def live_server(shared_server: LiveServer) -> LiveServer:
    """A real exmech server (``serving``), started once and shared by the modules that only
    read from it. A module that counts cache misses, kills query workers or reads the log
    overrides this fixture with a server of its own (``with serving(...)``)."""
    assert shared_server.process.poll() is None, shared_server.output()[-2000:]
    return shared_server


@pytest.fixture(scope="session")
def reader(built_state: Path) -> Iterator[object]:
    """The built shipped store, queried in-process (no worker processes)."""
    from exmech.store.embedded import EmbeddedStore

    store = EmbeddedStore(Settings(state_dir=built_state, data_root=ROOT), workers=False)
    yield store
    store.close()


def select(store: object, text: str, **binds: str) -> list[dict[str, str]]:
    """Rows of a SELECT as {variable: value}; IRIs are bound with ``name=<iri>``."""
    import pyoxigraph as ox
    from exmech.querytext import analyse
    from exmech.store import Query

    subs = tuple(
        (name, ox.NamedNode(value[1:-1]) if value.startswith("<") else ox.Literal(value))
        for name, value in binds.items()
    )
    query = Query(text, analyse(text).form or "SELECT", substitutions=subs)
    results = store.execute(query)  # type: ignore[attr-defined]
    return [{k: v.value for k, v in row.items()} for row in results.dicts()]


# Store backends (tests/test_store.py) ---------------------------------------------------


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One Virtuoso 7 on 127.0.0.1 for the session (tests/virtuoso.py), stopped by pid."""
    require_binary("virtuoso-t", "the remote-store tests run against Virtuoso")
    require_binary("isql-vt", "the Virtuoso test server is set up through isql")
    sys.path.insert(0, str(Path(__file__).parent))
    import virtuoso

    server = virtuoso.start(tmp_path_factory.mktemp("virtuoso"))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """A store backend under test: its name and the settings that open it."""

    name: str
    settings: Settings
    server: object = None  # the tests/virtuoso.py server, for the remote backend

    def open(self, workers: bool = False, **changes: object) -> object:
        """A fresh Store on this backend (embedded: in-process unless ``workers``)."""
        settings = self.settings.replace(**changes)
        if self.name == "embedded":
            from exmech.store.embedded import EmbeddedStore

            return EmbeddedStore(settings, workers=workers)
        from exmech.store.remote import RemoteStore

        return RemoteStore(settings)


@pytest.fixture(scope="session", params=["embedded", "virtuoso"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, built_state: Path
) -> Backend:
    """Each store backend with the shipped data built into it (2 s timeout, 100 rows).

    ``virtuoso`` skips when virtuoso-t is missing, and fails when EXMECH_REQUIRE_ALL=1.
    """
    limits = {"query_timeout": 2.0, "max_rows": 100, "query_workers": 1, "cache_entries": 64}
    if request.param == "embedded":
        state = tmp_path_factory.mktemp("embedded") / "state"
        shutil.copytree(built_state, state)
        return Backend("embedded", Settings(state_dir=state, data_root=ROOT, **limits))
    server = request.getfixturevalue("virtuoso_server")
    settings = Settings.load(
        server.env,  # type: ignore[attr-defined]
        state_dir=tmp_path_factory.mktemp("remote") / "state",
        data_root=ROOT,
        **limits,
    )
    build(settings)
    return Backend("virtuoso", settings, server)


class Listener:
    """A loopback socket that records every connection (outbound-request tests use it).

    It reads each request's head and answers 200 with ``body`` (SPARQL JSON for SERVICE
    calls that an allow-list lets through).
    """

    def __init__(self, body: bytes = b"") -> None:
        self.body = body
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                head = b""
                try:
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        head += chunk
                    self.requests.append(head)
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                        + f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n".encode()
                        + self.body
                    )
                except OSError:
                    self.requests.append(head or b"(connection)")

    def settled(self) -> int:
        """Connections so far, after giving any pending one time to be accepted."""
        time.sleep(0.25)
        return len(self.requests)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
