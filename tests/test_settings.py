"""Paths in settings, which data a command uses, and values that cannot work.

Settings hold absolute paths from the moment they load, so the default relative state
directory (`.exmech`) means the folder the command was started in, everywhere (downloads
included). The data root is the setting, else the checkout found from the working folder,
else the copy bundled with the installed package; `exmech build` and `serve` print it. An
installed (non-editable) exmech is tested for real: built as a wheel, installed into a
folder, run with its bundled copy, inside an edited checkout, and the importer with paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from conftest import ROOT, start_server, stop_server
from exmech.errors import BadRequest
from exmech.settings import Settings, find_checkout

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EXMECH_CACHE_ENTRIES", "-1"),
        ("EXMECH_CACHE_MB", "-1"),
        ("EXMECH_FAST_WORKERS", "-1"),
        ("EXMECH_FAST_SECONDS", "0"),
    ],
)
def test_a_value_that_cannot_work_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(BadRequest, match=variable):
        Settings.load({variable: value})


def test_paths_are_absolute_from_the_working_folder_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = Settings.load({"EXMECH_TOKENS_FILE": "keys/tokens", "EXMECH_DATA_ROOT": "../d"})
    assert loaded.state_dir == tmp_path / ".exmech"
    assert loaded.tokens_file == tmp_path / "keys" / "tokens"
    assert loaded.data_root == tmp_path.parent / "d"
    monkeypatch.chdir(tmp_path.parent)  # a later change of folder changes nothing
    assert loaded.state_dir == tmp_path / ".exmech"
    assert loaded.replace(state_dir=Path("s")).state_dir == tmp_path.parent / "s"


def checkout_copy(target: Path) -> Path:
    """A copy of the repository's data: ontology/ and data/ (what makes a checkout)."""
    for name in ("ontology", "data"):
        shutil.copytree(ROOT / name, target / name)
    return target


def test_the_data_root_is_the_setting_then_the_checkout_found_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = checkout_copy(tmp_path / "checkout")
    inside = checkout / "data" / "sources"
    monkeypatch.chdir(inside)
    assert find_checkout(inside) == checkout
    assert Settings.load({}).root_origin == (
        checkout,
        "the checkout found from the working folder",
    )
    assert Settings.load({"EXMECH_DATA_ROOT": str(ROOT)}).root == ROOT
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    root, origin = Settings.load({}).root_origin
    assert find_checkout(Path.cwd()) is None
    assert origin != "the checkout found from the working folder"
    assert (root / "ontology" / "exmech.ttl").is_file()


@pytest.mark.live
def test_downloads_work_with_the_default_relative_state_directory(
    tmp_path: Path, built_state: Path
) -> None:
    shutil.copytree(built_state, tmp_path / ".exmech")
    # EXMECH_STATE_DIR empty means the default, `.exmech` in the server's working folder.
    server = start_server(tmp_path / ".exmech", tmp_path / "server.log", EXMECH_STATE_DIR="")
    try:
        counts = {}
        for suffix, fmt in (
            ("trig", ox.RdfFormat.TRIG),
            ("nq", ox.RdfFormat.N_QUADS),
            ("jsonld", ox.RdfFormat.JSON_LD),
        ):
            response = httpx.get(f"{server.url}/download/exmech.{suffix}", timeout=60)
            assert response.status_code == 200, response.text
            counts[suffix] = len(set(ox.parse(response.content, format=fmt)))
    finally:
        stop_server(server)
    assert f"state directory: {tmp_path / '.exmech'}" in server.output()
    assert counts["trig"] == counts["nq"] == counts["jsonld"] > 1000
    assert list((tmp_path / ".exmech" / "downloads").iterdir())


# --- an installed, non-editable exmech -----------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """exmech built as a wheel from a copy of the sources and installed into a folder."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("service", "ontology", "data"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    target = base / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
        + ["--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (target / "exmech" / "bundled" / "ontology" / "exmech.ttl").is_file()
    return target


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXMECH_")}
    env["PYTHONPATH"] = str(site)  # ahead of the editable install of this checkout
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )
    return done


def test_the_installed_package_is_the_one_under_test(installed: Path, tmp_path: Path) -> None:
    done = run_installed(installed, tmp_path, "-c", "import exmech; print(exmech.__file__)")
    assert done.stdout.strip() == str(installed / "exmech" / "__init__.py"), done.stderr


def test_installed_importer_runs_with_explicit_paths_and_refuses_without(
    installed: Path, tmp_path: Path
) -> None:
    bare = run_installed(installed, tmp_path, "-m", "exmech.importer")
    assert bare.returncode == 2 and "give --sources DIR and --out DIR" in bare.stderr
    done = run_installed(
        installed,
        tmp_path,
        "-m",
        "exmech.importer",
        "--sources",
        str(ROOT / "data" / "sources"),
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 0, done.stderr
    for name in ("exercise-types.ttl", "mechanisms.ttl", "studies.ttl", "claims.trig"):
        assert (tmp_path / "out" / name).read_bytes() == (ROOT / "data" / name).read_bytes()


def test_installed_build_says_which_data_and_uses_an_edited_checkout(
    installed: Path, tmp_path: Path
) -> None:
    (tmp_path / "plain").mkdir()
    bundled = run_installed(installed, tmp_path / "plain", "-m", "exmech", "build")
    assert bundled.returncode == 0, bundled.stderr
    root = installed / "exmech" / "bundled"
    assert f"data root: {root} (the copy bundled with the installed package)" in bundled.stderr
    assert f"state directory: {tmp_path / 'plain' / '.exmech'}" in bundled.stderr

    checkout = checkout_copy(tmp_path / "checkout")
    (checkout / "data" / "edited.ttl").write_text(
        "<https://example.org/edited> <https://example.org/p> 1 .\n"
    )
    inside = checkout / "data"
    built = run_installed(installed, inside, "-m", "exmech", "build")
    assert built.returncode == 0, built.stderr
    assert f"data root: {checkout} (the checkout found from the working folder)" in built.stderr
    assert f"state directory: {inside / '.exmech'}" in built.stderr
    ask = "ASK { <https://example.org/edited> ?p ?o }"
    for folder, expected in ((inside, "true"), (tmp_path / "plain", "false")):
        answer = run_installed(installed, folder, "-m", "exmech", "query", ask)
        assert answer.stdout.strip() == expected, answer.stderr
