"""`exmech query --list / --bind`, the nearest-name error, `--version`, and exit codes that
match the help (`submit`: 1 only when the shapes reject), all through the installed command
in a subprocess, as a person types them."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import ROOT, LiveServer, free_port, select
from exmech import queries, vocab

EXMECH = str(Path(sys.executable).with_name("exmech"))
INVALID = ROOT / "tests" / "data" / "submissions" / "invalid"
FIELDS = ["--study", "wun-2021", "--location", "abstract", "--status", "NotMeasured"]


@pytest.fixture
def exmech(built_state: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [EXMECH, "--state-dir", str(built_state), "--data-root", str(ROOT), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_version_is_the_installed_packages(exmech) -> None:
    out = exmech("--version")
    assert out.returncode == 0 and out.stdout == f"exmech {version('exmech')}\n"


def test_list_names_every_shipped_question_with_what_it_takes(exmech) -> None:
    out = exmech("query", "--list")
    assert out.returncode == 0, out.stderr
    listed = re.findall(r"^(\S+)(.*)\n    (.+)$", out.stdout, re.M)
    assert [name for name, _, _ in listed] == queries.names()
    for name, _, answers in listed:
        assert answers == queries.load(name).answers
    takes = {name: t.strip() for name, t, _ in listed}
    assert takes["mechanism-claims"] == "--bind slug=pain-self-efficacy"
    assert takes["doi-claims"] == "--bind doi=10.2522/ptj.20110290"
    assert takes["theme-frequencies"] == ""


@pytest.mark.parametrize(
    ("typed", "nearest"),
    [
        ("theme-frequency", "theme-frequencies, theme-frequencies-recomputed"),
        ("mechanism-claim", "mechanism-claims, mechanism-verdict, mechanisms-by-theme"),
        ("completness.rq", "completeness"),
    ],
)
def test_a_typo_names_the_nearest_questions(exmech, typed: str, nearest: str) -> None:
    out = exmech("query", typed)
    assert out.returncode == 2
    assert f"no such question or file: '{typed}'; nearest: {nearest} " in out.stderr
    assert "only SELECT" not in out.stderr


def test_a_missing_file_with_no_near_name_says_so(exmech) -> None:
    out = exmech("query", "zzz/qqq.rq")
    assert out.returncode == 2 and "no such question or file: 'zzz/qqq.rq' (" in out.stderr


@pytest.mark.parametrize("name", ["slug", "mechanism", "?mechanism"])
def test_bind_gives_a_question_its_value_as_the_api_does(exmech, reader, name: str) -> None:
    out = exmech("query", "mechanism-claims", "--bind", f"{name}=motor-control", "--format", "csv")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    mechanism = vocab.iri("mechanism", "motor-control")
    expected = select(reader, queries.load("mechanism-claims").text, mechanism=f"<{mechanism}>")
    assert len(lines) - 1 == len(expected) > 0
    assert {line.split(",")[1] for line in lines[1:]} == {r["claim"] for r in expected}


def test_bind_a_doi_in_any_case(exmech) -> None:
    out = exmech("query", "doi-claims", "--bind", "doi=10.2522/PTJ.20110290", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) > 1


def test_bind_into_query_text(exmech) -> None:
    text = f"PREFIX skos: <{vocab.SKOS}> SELECT ?l WHERE {{ ?m skos:prefLabel ?l }}"
    iri = vocab.iri("mechanism", "motor-control")
    out = exmech("query", text, "--bind", f"m=<{iri}>", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["l", "Motor control"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["mechanism-claims", "--bind", "slug=Motor"], 1, "malformed slug 'Motor'"),
        (["mechanism-claims", "--bind", "slug=no-such"], 1, "no mechanism 'no-such' in the graph"),
        (["doi-claims", "--bind", "doi=11.1/x"], 1, "malformed DOI '11.1/x'"),
        (["mechanism-claims"], 2, "mechanism-claims needs --bind slug=..."),
        (["mechanism-claims", "--bind", "motor-control"], 2, "expected name=value"),
        (["theme-frequencies", "--bind", "x=1"], 2, "theme-frequencies does not bind 'x'"),
        (["SELECT * WHERE { ?s ?p }"], 1, "error at 1:"),
    ],
)
def test_bad_binds_and_queries_exit_as_the_help_says(
    exmech, args: list[str], code: int, message: str
) -> None:
    out = exmech("query", *args)
    assert (out.returncode, message in out.stderr) == (code, True), out.stderr
    assert "Traceback" not in out.stderr


def test_query_help_states_those_exit_codes(exmech) -> None:
    text = " ".join(exmech("query", "--help").stdout.split())
    assert "Exit 0 with an answer; 1 when the query or a bound value is refused" in text
    assert "2 for usage errors (no such question or file" in text


# submit: 0 accepted, 1 the shapes reject, 2 anything else -------------------------------


@pytest.fixture
def not_exmech() -> Iterator[str]:
    """A web server on loopback that is not exmech: it answers every POST with an HTML 404."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_submit_to_a_dead_url_is_not_a_shapes_rejection(exmech) -> None:
    file = INVALID / "bare-unknown-mechanism.ttl"
    url = f"http://127.0.0.1:{free_port()}"
    out = exmech("submit", str(file), "--url", url, "--dry-run", *FIELDS)
    assert out.returncode == 2, out.stderr
    assert f"cannot reach {url}" in out.stderr


def test_submit_to_something_else_is_not_a_shapes_rejection(exmech, not_exmech: str) -> None:
    out = exmech("submit", str(INVALID / "bare-unknown-mechanism.ttl"), "--url", not_exmech)
    assert out.returncode == 2, out.stderr
    assert "not with exmech's JSON: is it an exmech server?" in out.stderr
    assert "Traceback" not in out.stderr


def test_submit_of_an_unknown_file_type_is_a_usage_error(exmech, tmp_path: Path) -> None:
    odd = tmp_path / "claim.txt"
    odd.write_text("x")
    out = exmech("submit", str(odd), "--url", "http://127.0.0.1:9")
    assert out.returncode == 2 and "unknown file type '.txt'" in out.stderr


def test_submit_that_the_shapes_reject_exits_1(exmech, live_server: LiveServer) -> None:
    file = INVALID / "bare-unknown-mechanism.ttl"
    out = exmech(
        "submit", str(file), "--url", live_server.url, "--dry-run", *FIELDS, "--wording", "w"
    )
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "must be an existing exm:Mechanism" in out.stdout
