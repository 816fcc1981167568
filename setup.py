"""Copy ontology/ and data/ into the wheel so an installed exmech carries its graph."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
BUNDLED = ("ontology", "data")


class BuildWithGraph(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "exmech" / "bundled"
        for name in BUNDLED:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target / name, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithGraph})
