"""One validator: every submission in tests/data/submissions through every entry point.

The four doors a curator can knock on: ``exmech validate FILE`` (a fresh build of the data),
``exmech validate --store FILE`` (the built store), ``exmech submit --dry-run FILE`` (the CLI
talking to a server) and ``POST /curation/validate`` (a real server on 127.0.0.1). Each file
gets the same status and the same JSON body from all four, every valid file conforms, and
every invalid file is refused with a message containing its ``# expect:`` line and a
``# rule:`` line naming the rule it breaks. The data they all see is the shipped data plus
tests/data/history.trig (a superseded chain and two retractions, for the lifecycle rules).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from click.testing import CliRunner
from conftest import ROOT, LiveServer, fixture_header, start_server, stop_server
from exmech import rdf, tokens, vocab
from exmech.build import build
from exmech.cli import main
from exmech.settings import Settings

SUBMISSIONS = ROOT / "tests" / "data" / "submissions"
FILES = sorted(p for p in SUBMISSIONS.rglob("*") if p.is_file())
ADA_TOKEN, ADA = tokens.new_entry("https://example.org/curator/ada", "Ada Example")
CY_TOKEN, CY = tokens.new_entry("https://example.org/curator/cy", "Cy Example")
KEYS = f"{ADA.line()};{CY.line()}"
Verdict = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """A corpus file and its header: what it must be refused for, under which fields."""

    path: Path
    expect: str
    rule: str
    fields: tuple[tuple[str, str], ...]
    token: str

    @property
    def valid(self) -> bool:
        return self.path.parent.name == "valid"

    @classmethod
    def read(cls, path: Path) -> Case:
        head = fixture_header(path)
        return cls(
            path,
            head.get("expect", ""),
            head.get("rule", ""),
            tuple(parse_qsl(head.get("fields", ""))),
            CY_TOKEN if head.get("curator") == "cy" else ADA_TOKEN,
        )

    def media_type(self) -> str:
        fmt = rdf.format_of(self.path)
        assert fmt is not None, self.path
        return fmt.media_type

    def options(self) -> list[str]:
        return [arg for name, value in self.fields for arg in (f"--{name}", value)]


CASES = [Case.read(p) for p in FILES]


@dataclass
class World:
    root: Path
    state: Path  # a copy of the server's built state, for `validate --store`
    server: LiveServer
    env: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("validator")
    root = base / "root"
    for folder in ("ontology", "data"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "tests" / "data" / "history.trig", root / "data" / "history.trig")
    state = base / "state"
    build(Settings(state_dir=state, data_root=root))
    shutil.copytree(state, base / "cli-state")
    server = start_server(
        state, base / "server.log", EXMECH_DATA_ROOT=str(root), EXMECH_TOKENS=KEYS
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")},
        "EXMECH_TOKENS": KEYS,
        "EXMECH_DATA_ROOT": str(root),
        "EXMECH_STATE_DIR": str(base / "cli-state"),
    }
    try:
        yield World(root, base / "cli-state", server, env)
    finally:
        stop_server(server)


def run_cli(env: dict[str, str], *args: str, in_process: bool = False) -> tuple[int, str, str]:
    """``python -m exmech ARGS`` in a process of its own, as a curator runs it: exit code,
    stdout, stderr. ``in_process``: the same click command through CliRunner here (the same
    code and settings from the same EXMECH_* variables, without an interpreter start-up)."""
    if in_process:
        exmech = {k: v for k, v in env.items() if k.startswith("EXMECH_")}
        result = CliRunner().invoke(main, list(args), env=exmech, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr
    done = subprocess.run(
        [sys.executable, "-m", "exmech", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def groups() -> list[list[Case]]:
    """The corpus by what `exmech validate` takes once per run: fields and curator; the
    biggest group first."""
    by: dict[tuple[Any, ...], list[Case]] = defaultdict(list)
    for case in CASES:
        by[(case.fields, case.token)].append(case)
    return sorted(by.values(), key=len, reverse=True)


def cli_validate(
    world: World, cases: list[Case], store: bool, in_process: bool = False
) -> dict[Path, tuple[int, Verdict]]:
    """`exmech validate [--store] --format json` over one group of files."""
    args = ["validate", "--format", "json", *cases[0].options(), *(["--store"] if store else [])]
    env = {**world.env, "EXMECH_TOKEN": cases[0].token}
    code, stdout, stderr = run_cli(env, *args, *(str(c.path) for c in cases), in_process=in_process)
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert len(lines) == len(cases), stdout + stderr
    out: dict[Path, tuple[int, Verdict]] = {}
    for case, line in zip(cases, lines, strict=True):
        assert line["file"] == str(case.path)
        out[case.path] = (code, (line["status"], line["body"]))
    return out


def cli_submit(world: World, case: Case, in_process: bool = False) -> tuple[int, Verdict]:
    code, stdout, _ = run_cli(
        {**world.env, "EXMECH_TOKEN": case.token},
        "submit",
        "--dry-run",
        "--format",
        "json",
        "--url",
        world.server.url,
        *case.options(),
        str(case.path),
        in_process=in_process,
    )
    line = json.loads(stdout)
    return code, (line["status"], line["body"])


def http(client: httpx.Client, world: World, case: Case) -> Verdict:
    response = client.post(
        f"{world.server.url}/curation/validate",
        params=dict(case.fields),
        content=case.path.read_bytes(),
        headers={
            "Content-Type": case.media_type(),
            "Accept": "application/json",
            "Authorization": f"Bearer {case.token}",
        },
        timeout=60,
    )
    return response.status_code, response.json()


def messages(body: dict[str, Any]) -> list[str]:
    detail = body.get("detail")
    results = detail.get("results", []) if isinstance(detail, dict) else []
    return [body.get("error", ""), *(r["message"] for r in results)]


def test_the_corpus_is_big_and_every_invalid_file_names_its_rule() -> None:
    invalid = [c for c in CASES if not c.valid]
    assert len(invalid) >= 50 and len(CASES) - len(invalid) >= 10
    for case in invalid:
        assert case.expect and case.rule, f"{case.path.name}: needs '# expect:' and '# rule:'"


# `exmech submit` in processes of its own for one file of each exit code (0 accepted, 1
# refused by the shapes, 2 any other error); the other files go through the same command in
# this process. `exmech validate` runs its biggest group in processes of its own.
SUBMITTED_APART = {
    SUBMISSIONS / "valid" / "complete-placeholder-iris.trig": 0,
    SUBMISSIONS / "invalid" / "complete-blank-mechanism.trig": 1,
    SUBMISSIONS / "invalid" / "syntax-error.ttl": 2,
}


def test_every_entry_point_gives_the_same_verdict_and_messages(world: World) -> None:
    biggest, *rest = groups()
    apart = [c for c in CASES if c.path in SUBMITTED_APART]
    with ThreadPoolExecutor(max_workers=3) as pool:
        plain = pool.submit(cli_validate, world, biggest, False)
        stored = pool.submit(cli_validate, world, biggest, True)
        alone = pool.submit(lambda: {c.path: cli_submit(world, c) for c in apart})
        by_file = {k: v for g in rest for k, v in cli_validate(world, g, False, True).items()}
        submitted = {c.path: cli_submit(world, c, True) for c in CASES if c not in apart}
        with httpx.Client() as client:  # one connection for the corpus
            over_http = {c.path: http(client, world, c) for c in CASES}
        by_file |= plain.result()
        by_store = stored.result()  # before this process opens the same state
        submitted |= alone.result()
    by_store |= {k: v for g in rest for k, v in cli_validate(world, g, True, True).items()}
    assert {p: submitted[p][0] for p in SUBMITTED_APART} == SUBMITTED_APART
    exit_of = {200: 0, 422: 1}
    for case in CASES:
        name = case.path.relative_to(SUBMISSIONS)
        verdict = over_http[case.path]
        status, body = verdict
        assert by_file[case.path][1] == verdict, (name, "exmech validate", by_file[case.path])
        assert by_store[case.path][1] == verdict, (name, "exmech validate --store")
        assert submitted[case.path][1] == verdict, (name, "exmech submit --dry-run")
        assert submitted[case.path][0] == exit_of.get(status, 2), name
        if case.valid:
            assert status == 200 and body["conforms"] is True, (name, body)
        else:
            assert status != 200, (name, body)
            assert any(case.expect in m for m in messages(body)), (name, messages(body))
    # a group's exit code is its worst file's
    for found in (by_file, by_store):
        for group in (biggest, *rest):
            worst = max(exit_of.get(over_http[c.path][0], 2) for c in group)
            assert {found[c.path][0] for c in group} == {worst}, group[0].path.name


def test_a_submission_cannot_relabel_a_shared_mechanism(world: World) -> None:
    """Submitted for real (not a dry run): refused, and the label everywhere is unchanged."""
    case = Case.read(SUBMISSIONS / "invalid" / "complete-relabels-mechanism.trig")
    url = world.server.url
    response = httpx.post(
        f"{url}/curation/submissions",
        content=case.path.read_bytes(),
        headers={"Content-Type": case.media_type(), "Authorization": f"Bearer {ADA_TOKEN}"},
        timeout=60,
    )
    assert response.status_code == 422
    assert any("data/sources/" in m for m in messages(response.json()))
    page = httpx.get(
        f"{url}/id/mechanism/motor-control", headers={"Accept": "application/n-triples"}
    )
    label = f"<{vocab.ID}mechanism/motor-control> <{vocab.SKOS}prefLabel>"
    assert [line for line in page.text.splitlines() if line.startswith(label)] == [
        f'{label} "Motor control"@en .'
    ]
    assert "Relabelled" not in httpx.get(f"{url}/api/evidence-map", timeout=30).text
    found = httpx.get(f"{url}/search", params={"q": "Relabelled"}).text
    assert "mechanism/motor-control" not in found and '"itemListElement": []' in found
    control = httpx.get(f"{url}/search", params={"q": "Motor control"}).text
    assert "mechanism/motor-control" in control
    assert "Motor control" in httpx.get(f"{url}/api/evidence-map", timeout=30).text
