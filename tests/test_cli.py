"""The exmech command: exit codes and output, through click's runner and a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from exmech.cli import main

XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"


@pytest.fixture
def run(built_state: Path, tmp_path: Path, runner: CliRunner):
    def invoke(*args: str, state: Path | None = None):
        return runner.invoke(
            main,
            ["--state-dir", str(state or built_state), "--data-root", str(ROOT), *args],
            catch_exceptions=False,
        )

    return invoke


def test_build_reports_what_it_loaded(run, tmp_path: Path) -> None:
    result = run("build", state=tmp_path / "fresh")
    assert result.exit_code == 0, result.output
    assert "built" in result.output and "from 10 files" in result.output
    assert (tmp_path / "fresh" / "CURRENT").exists()
    again = run("build", state=tmp_path / "fresh")
    quads = lambda out: int(out.split("built ", 1)[1].split()[0])  # noqa: E731
    assert quads(again.output) == quads(result.output), "build is idempotent"


def test_query_prints_a_table_by_default(run) -> None:
    result = run("query", "completeness")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["review", "reported", "curated", "missing"]
    assert lines[2].split()[1:] == ["33", "15", "18"]


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("json", lambda out: json.loads(out)["results"]["bindings"][0]["curated"]["value"] == "15"),
        ("csv", lambda out: out.splitlines()[1].endswith(",33,15,18")),
        (
            "tsv",
            lambda out: out.splitlines()[1].split("\t")[1:] == ["33", "15", "18"] or "\t" in out,
        ),
        (
            "xml",
            lambda out: (
                '<literal datatype="http://www.w3.org/2001/XMLSchema#integer">18</literal>' in out
            ),
        ),
    ],
)
def test_query_formats(run, fmt: str, check) -> None:
    result = run("query", "completeness", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert check(result.output), result.output


def test_query_from_file_and_construct(run, tmp_path: Path) -> None:
    rq = tmp_path / "themes.rq"
    rq.write_text(
        "PREFIX exm: <https://w3id.org/exmech/ontology#>\n"
        "CONSTRUCT { ?t a exm:Theme } WHERE { ?t a exm:Theme ; exm:inReview true }"
    )
    result = run("query", str(rq))
    assert result.exit_code == 0, result.output
    assert result.output.count("exm:Theme") == 5


def test_query_rejects_updates_and_reports_syntax_errors(run) -> None:
    update = run("query", "INSERT DATA { <a:b> <a:c> <a:d> }")
    assert update.exit_code == 1 and "only SELECT" in update.output
    broken = run("query", "SELECT * WHERE { ?s ?p }")
    assert broken.exit_code == 1 and "error at 1:" in broken.output


def test_stats_counts_classes_themes_and_completeness(run) -> None:
    result = run("stats")
    assert result.exit_code == 0, result.output
    # 279 claims in force and the 8 withdrawn ones of release 0.1.0
    assert "Claim" in result.output and str(279 + 8) in result.output
    # reports, further reports, studies, trials, reviews, claims in force
    assert "78       4               74       60      13       279" in result.output
    assert "Psychosocial" in result.output
    assert "33" in result.output and "18" in result.output


def test_settings_lists_every_variable(run) -> None:
    from exmech.settings import FIELDS

    result = run("settings")
    for field in FIELDS:
        assert field.env in result.output


def test_validate_accepts_every_shipped_data_file(run) -> None:
    files = sorted(str(p) for p in (ROOT / "data").glob("*.t*"))
    result = run("validate", "--data", *files)
    assert result.exit_code == 0, result.output
    assert "conforms" in result.output


def test_validate_gives_line_and_column_for_broken_turtle(run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    broken.write_text('@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:d ex:e "open .\n')
    result = run("validate", str(broken))
    assert result.exit_code == 2
    assert "broken.ttl" in result.output and "line 3 column" in result.output


def test_validate_rejects_unknown_file_types(run, tmp_path: Path) -> None:
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"PK")
    result = run("validate", str(odd))
    assert result.exit_code == 2 and "unknown file type" in result.output


def test_installed_command_runs_as_a_module(built_state: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "exmech",
            "--state-dir",
            str(built_state),
            "query",
            "review-figures",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines()[1].split(",")[1:] == ["186", "110", "36", "74", "33"]
