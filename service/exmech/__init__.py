"""exmech: why does exercise help chronic low back pain? A knowledge graph with evidence."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("exmech")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["Settings", "__version__", "create_app"]


def __getattr__(name: str) -> object:
    # Lazy, so that `import exmech.vocab` does not pull Flask in.
    if name == "create_app":
        from exmech.app import create_app

        return create_app
    if name == "Settings":
        from exmech.settings import Settings

        return Settings
    raise AttributeError(name)
