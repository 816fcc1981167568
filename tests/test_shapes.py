"""SHACL shapes: every fixture under tests/data/shapes is judged as its header says.

Invalid fixtures start with ``# expect: <substring of an sh:message>``; a second line
``# severity: warning`` marks advice that must be reported without breaking conformance.
Each fixture is validated together with the reference vocabulary (ontology/ + data/), as
``exmech validate FILE`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from exmech.validation import validate_files
from rdflib import RDF, Graph
from rdflib.namespace import SH

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "data" / "shapes"
SHAPES_FILE = ROOT / "ontology" / "shapes.ttl"
DATA_FILES = sorted([*(ROOT / "data").glob("*.ttl"), *(ROOT / "data").glob("*.trig")])


@dataclass(frozen=True)
class Result:
    message: str
    severity: str  # "Violation", "Warning" or "Info"


@dataclass(frozen=True)
class Report:
    conforms: bool
    results: tuple[Result, ...]
    text: str


def validate(path: Path | None) -> Report:
    """Validate one file (or, with None, all shipped data) as ``exmech validate`` does."""
    paths = [path] if path is not None else DATA_FILES
    report = validate_files(paths, ROOT)
    results = tuple(Result(f.message, f.severity) for f in report.findings)
    return Report(report.conforms, results, report.to_text())


def _header(path: Path) -> tuple[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    first = lines[0] if lines else ""
    assert first.startswith("# expect:"), f"{path.name}: first line must be '# expect: ...'"
    expected = first.removeprefix("# expect:").strip()
    severity = "Violation"
    if len(lines) > 1 and lines[1].startswith("# severity:"):
        severity = lines[1].removeprefix("# severity:").strip().capitalize()
    return expected, severity


VALID = sorted(FIXTURES.glob("valid/*.tri*")) + sorted(FIXTURES.glob("valid/*.ttl"))
INVALID = sorted([*FIXTURES.glob("invalid/*.ttl"), *FIXTURES.glob("invalid/*.trig")])


def test_shipped_data_conforms() -> None:
    report = validate(None)
    assert report.conforms, report.text


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixture(path: Path) -> None:
    report = validate(path)
    assert report.conforms, report.text
    assert not [r for r in report.results if r.severity == "Warning"], report.text


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixture(path: Path) -> None:
    expected, severity = _header(path)
    report = validate(path)
    found = [r for r in report.results if expected in r.message]
    assert found, f"expected a message containing {expected!r}; got:\n{report.text}"
    assert any(r.severity == severity for r in found), report.text
    assert report.conforms == (severity != "Violation"), report.text


def test_every_node_shape_has_an_invalid_fixture() -> None:
    """Each node shape's messages (its own or its property shapes') are exercised by a fixture."""
    shapes = Graph().parse(SHAPES_FILE, format="turtle")
    expected = {_header(p)[0] for p in INVALID}
    uncovered = []
    for node_shape in sorted(shapes.subjects(RDF.type, SH.NodeShape)):
        messages = [str(m) for m in shapes.objects(node_shape, SH.message)]
        for prop in shapes.objects(node_shape, SH.property):
            messages += [str(m) for m in shapes.objects(prop, SH.message)]
        if not any(e in m for e in expected for m in messages):
            uncovered.append(str(node_shape))
    assert not uncovered, "node shapes without an invalid fixture:\n" + "\n".join(uncovered)
