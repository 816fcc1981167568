"""SECURITY.md: every guarantee names the tests that prove it, and those tests exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Guarantees, each with the tests that prove it"
NAMED = re.compile(r"`(tests/[^`:\s]+)(?:::([A-Za-z_][A-Za-z0-9_]*))?`")


def guarantees() -> list[tuple[str, str]]:
    """(heading, body) of each ``###`` guarantee in SECURITY.md's guarantees section."""
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert SECTION in text, f"SECURITY.md lost its section {SECTION!r}"
    section = text.split(SECTION, 1)[1]
    section = re.split(r"^## ", section, maxsplit=1, flags=re.M)[0]
    parts = re.split(r"^### (.+)$", section, flags=re.M)[1:]
    return list(zip(parts[::2], parts[1::2], strict=True))


def test_there_are_guarantees() -> None:
    assert len(guarantees()) >= 10


@pytest.mark.parametrize("heading, body", guarantees(), ids=[h for h, _ in guarantees()])
def test_each_guarantee_names_tests_that_exist(heading: str, body: str) -> None:
    lines = [line for line in body.splitlines() if line.startswith("Tested by:")]
    assert len(lines) == 1, f"{heading!r} needs exactly one 'Tested by:' line"
    named = NAMED.findall(lines[0])
    assert named, f"{heading!r}: 'Tested by:' names no `tests/...` path"
    for path, function in named:
        file = ROOT / path
        assert file.is_file(), f"{heading!r} names {path}, which does not exist"
        if function:
            source = file.read_text(encoding="utf-8")
            assert re.search(rf"^(?:async )?def {function}\(", source, re.M), (
                f"{heading!r} names {path}::{function}, which is not a test in that file"
            )
