"""Releases of the ontology, its shapes and its JSON-LD context, and where each one lives.

The current release is the files at the top of ``ontology/`` (loaded into the store, and the
context ``context.py`` writes); every earlier release is frozen, file for file, under
``ontology/{version}/`` and served as it is. So every versioned IRI a release published keeps
resolving: ``{base}/ontology/{v}``, ``{base}/shapes/{v}`` and
``{base}/ontology/{v}/context.jsonld``.
"""

from __future__ import annotations

from pathlib import Path

from exmech.errors import NotFound
from exmech.linked_data.context import ONTOLOGY_VERSION

CURRENT = ONTOLOGY_VERSION
RELEASES = ("0.1.0", CURRENT)  # oldest first; tests/test_releases.py follows every one
FILES = {"ontology": "exmech.ttl", "shapes": "shapes.ttl", "context": "context.jsonld"}


def release(version: str) -> str:
    """``version`` when it is a release; NotFound naming the releases otherwise.

    >>> release("0.1.0")
    '0.1.0'
    >>> release("../0.1.0")
    Traceback (most recent call last):
    ...
    exmech.errors.NotFound: no release '../0.1.0'; the releases are 0.1.0, 0.2.0 (current)
    """
    if version not in RELEASES:
        raise NotFound(
            f"no release {version[:40]!r}; the releases are "
            + ", ".join(f"{v} (current)" if v == CURRENT else v for v in RELEASES)
        )
    return version


def frozen(root: Path, version: str, artefact: str) -> bytes:
    """The file of an earlier release (``artefact``: ontology, shapes or context), as kept.

    Raises NotFound for the current release (served from the store, not from a copy), an
    unknown release, or a frozen file missing from this installation.
    """
    if release(version) == CURRENT:
        raise NotFound(f"release {version} is the current one, not a frozen copy")
    path = root / "ontology" / version / FILES[artefact]
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NotFound(f"the {artefact} of release {version} is not installed here") from exc
