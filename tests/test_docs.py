"""The README cannot drift from the program: commands, settings and CI stay in step."""

from __future__ import annotations

import re

from click.testing import CliRunner
from conftest import ROOT
from exmech.cli import main
from exmech.settings import FIELDS

README = (ROOT / "README.md").read_text(encoding="utf-8")


def fenced_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_readme_opens_with_exactly_two_setup_commands() -> None:
    first_screen = README.split("---", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", first_screen)
    assert len(commands) == 2
    assert commands[0].endswith("exmech serve")
    assert commands[1].endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert fenced_commands()[1] in ci.splitlines()


def test_readme_lists_every_setting() -> None:
    missing = [f.env for f in FIELDS if f"`{f.env}`" not in README]
    assert not missing, f"README lacks settings: {missing}"


def test_readme_lists_every_command() -> None:
    missing = [name for name in main.commands if f"`exmech {name}" not in README]
    assert not missing, f"README lacks commands: {missing}"


def test_readme_query_output_is_real(built_state, runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["--state-dir", str(built_state), "--data-root", str(ROOT), "query", "completeness"]
    )
    assert result.output.strip() in README


def test_readme_names_every_question() -> None:
    from exmech import queries

    missing = [
        name
        for name in queries.names()
        if not name.startswith("page-") and f"`{name}.rq`" not in README
    ]
    assert not missing, f"README's question table lacks {missing}"
