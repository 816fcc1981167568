"""One writer per state directory, checked with real processes.

`exmech serve` holds the state directory's lock for its whole life. A second server, an
`exmech build` or an `exmech journal repair` on the same directory refuses at once, naming
the server's pid; readers (`exmech query`, `exmech journal verify`) go on. The lock is the
kernel's, so a server killed with kill -9 leaves nothing behind to clean up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import start_server, stop_server
from test_durability import kill_9
from test_journal import exmech, serve_once

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def state(tmp_path: Path, built_state: Path) -> Path:
    shutil.copytree(built_state, tmp_path / "state")
    return tmp_path / "state"


def test_a_second_writer_refuses_naming_the_server_and_readers_go_on(
    state: Path, tmp_path: Path
) -> None:
    server = start_server(state, tmp_path / "server.log")
    holder = f"pid {server.process.pid} (exmech serve, since "
    try:
        generation = (state / "CURRENT").read_text()
        code, output = serve_once(state, tmp_path)
        assert code == 1 and holder in output, output
        built = exmech(state, "build")
        assert built.returncode == 1 and holder in built.stderr, built.stderr
        repaired = exmech(state, "journal", "repair")
        assert repaired.returncode == 1 and holder in repaired.stderr, repaired.stderr
        assert (state / "CURRENT").read_text() == generation  # the build changed nothing
        assert exmech(state, "journal", "verify").returncode == 0
        counted = exmech(state, "query", "ASK { ?s ?p ?o }")
        assert counted.returncode == 0 and "true" in counted.stdout, counted.stderr
    finally:
        stop_server(server)
    assert server.process.returncode == 0  # the refusals did not disturb it
    assert exmech(state, "build").returncode == 0  # a stopped server frees the directory


def test_kill_9_leaves_no_lock_behind(state: Path, tmp_path: Path) -> None:
    server = start_server(state, tmp_path / "server.log")
    assert kill_9(server.process.pid) == []
    server.process.wait(timeout=10)
    built = exmech(state, "build")
    assert built.returncode == 0, built.stderr
    restarted = start_server(state, tmp_path / "restart.log")
    stop_server(restarted)
