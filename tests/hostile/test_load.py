"""bench/load.py in small: 8 clients for 8 s of mixed reads and submissions, on a live server.

Asserts no 5xx, no transport error and no lost submission (every 201 is readable after the
run). Latency is printed and written to tests/artifacts/load-summary.json, never asserted.
The long form is ``python bench/load.py`` (32 clients, 60 s).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import ARTIFACTS, ROOT, start_server, stop_server
from exmech import tokens

pytestmark = pytest.mark.live


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("exmech_bench_load", ROOT / "bench" / "load.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_mixed_load_has_no_5xx_and_loses_no_submission(tmp_path: Path, built_state: Path) -> None:
    load = _bench()
    token, entry = tokens.new_entry("https://example.org/curator/load", "Load Tester")
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    server = start_server(
        state,
        tmp_path / "server.log",
        EXMECH_TOKENS=entry.line(),
        EXMECH_QUERY_TIMEOUT="10",
        EXMECH_LOG_REQUESTS="false",
    )
    try:
        report = load.run(server.url, token, clients=8, seconds=8.0, seed=1)  # type: ignore[attr-defined]
        alive = server.process.poll() is None
    finally:
        stop_server(server)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load-summary.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    print("\n" + report.summary())
    assert alive, server.output()[-2000:]
    assert report.server_errors == 0, report.samples
    assert report.transport_errors == 0, report.samples
    assert report.submitted > 0, report.statuses
    assert report.lost == []
