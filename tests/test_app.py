"""The app factory owns what it opens and closes it; two apps in one process share nothing."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

from conftest import ROOT
from exmech.app import close_app, create_app
from exmech.settings import Settings
from exmech.store.journal import Journal

ASK = "SELECT ?o WHERE { GRAPH ?g { <https://example.org/s> <https://example.org/p> ?o } }"


def state_with(tmp_path: Path, built_state: Path, name: str, value: str | None) -> Settings:
    """A copy of the built store; ``value`` journaled on top (applied when it is opened)."""
    state = tmp_path / name
    shutil.copytree(built_state, state)
    if value is not None:
        line = (
            f'<https://example.org/s> <https://example.org/p> "{value}" <https://example.org/g> .\n'
        )
        Journal(state / "journal.log").append(line.encode())
    return Settings(state_dir=state, data_root=ROOT, log_requests=False, query_workers=1)


def answer(app: object) -> list[str]:
    response = app.test_client().get(  # type: ignore[attr-defined]
        "/sparql", query_string={"query": ASK}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True).split()[1:]


def test_two_apps_in_one_process_share_nothing_and_close_apart(
    tmp_path: Path, built_state: Path
) -> None:
    first = create_app(state_with(tmp_path, built_state, "first", "first"))
    second = create_app(state_with(tmp_path, built_state, "second", None))
    try:
        assert answer(first) == ["first"] and answer(second) == []
        assert answer(first) == ["first"]  # a cached answer is the first app's own
        one, two = first.extensions, second.extensions
        for key in ("exmech", "exmech.curation", "exmech.linked_data"):
            assert one[key] is not two[key]
        assert one["exmech"].store is not two["exmech"].store
        assert one["exmech"].cache is not two["exmech"].cache
        assert one["exmech.curation"].validator is not two["exmech.curation"].validator
        assert one["exmech.linked_data"].dumps is not two["exmech.linked_data"].dumps
        assert one["exmech.linked_data"].ontology is not two["exmech.linked_data"].ontology
        workers = {p.pid for p in multiprocessing.active_children()}
        close_app(first)  # its query workers stop; the second app's keep answering
        left = {p.pid for p in multiprocessing.active_children()}
        assert left and left < workers
        assert answer(second) == []
        assert second.test_client().get("/").status_code == 200
    finally:
        close_app(first)  # a second close does nothing more
        close_app(second)
