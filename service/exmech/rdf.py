"""RDF documents in and out, by format or by file extension, and the dataset hash chain.

The one place exmech turns bytes into pyoxigraph quads and back, so every reader agrees on
which extension means which syntax, every writer drops the default graph the same way for
formats without datasets, and the build, the embedded store and the remote store compute
the same dataset hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import PurePath

import pyoxigraph as ox

from exmech import vocab

# File extensions exmech reads. pyoxigraph's parsers fetch no JSON-LD context and no
# external entity, so reading any of these is safe on untrusted input.
BY_EXTENSION: dict[str, ox.RdfFormat] = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nq": ox.RdfFormat.N_QUADS,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
}


def format_of(path: str | PurePath) -> ox.RdfFormat | None:
    """The syntax a file's extension names (case-insensitive), None for an unknown one.

    >>> format_of("data/claims.TriG").name, format_of("notes.txt")
    ('TriG', None)
    """
    return BY_EXTENSION.get(PurePath(path).suffix.lower())


def parse(data: bytes, fmt: ox.RdfFormat) -> list[ox.Quad]:
    """Every quad of one document; raises SyntaxError (with line and column when known).

    >>> parse(b"<http://e/s> <http://e/p> 1 .", ox.RdfFormat.TURTLE)[0].object.value
    '1'
    """
    return list(ox.parse(data, format=fmt))


def serialize(
    quads: Iterable[ox.Quad],
    fmt: ox.RdfFormat,
    prefixes: Mapping[str, str] | None = None,
    *,
    only_used: bool = True,
) -> bytes:
    """Quads written in ``fmt``: every graph for dataset formats (TriG, N-Quads, JSON-LD),
    the triples alone for the others. Of the ``prefixes`` (default: exmech's), only those
    some IRI uses are declared, unless ``only_used`` is False.

    >>> label = ox.NamedNode(vocab.RDFS + "label")
    >>> q = ox.Quad(ox.NamedNode(vocab.EXM + "a"), label, ox.Literal("a"))
    >>> turtle = serialize([q], ox.RdfFormat.TURTLE).decode()
    >>> sorted(line.split()[1] for line in turtle.splitlines()[:2])
    ['exm:', 'rdfs:']
    """
    quads = list(quads)
    known = vocab.PREFIXES if prefixes is None else prefixes
    used = used_prefixes(quads, known) if only_used else dict(known)
    if fmt.supports_datasets:
        return ox.serialize(quads, format=fmt, prefixes=used) or b""
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    return ox.serialize(triples, format=fmt, prefixes=used) or b""


def used_prefixes(quads: Iterable[ox.Quad], known: Mapping[str, str]) -> dict[str, str]:
    """The prefixes whose namespace some IRI of the quads starts with."""
    iris: set[str] = set()
    for quad in quads:
        for term in (quad.subject, quad.predicate, quad.object, quad.graph_name):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal):
                iris.add(term.datatype.value)
    return {
        prefix: ns
        for prefix, ns in known.items()
        if any(i.startswith(ns) and len(i) > len(ns) for i in iris)
    }


class FilesHash:
    """The dataset hash of the files a build loads, fed one file at a time in load order
    (so no file stays in memory for it).

    >>> a, b = FilesHash(), FilesHash()
    >>> a.add("data/a.ttl", b""); b.add("data/b.ttl", b"")
    >>> a.hexdigest() == b.hexdigest()
    False
    """

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def add(self, name: str, data: bytes) -> None:
        """One more file, named ``folder/name``."""
        self._digest.update(f"{name}\n".encode())
        self._digest.update(hashlib.sha256(data).hexdigest().encode())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def chain(dataset_hash: str, payload: bytes) -> str:
    """The dataset hash after one more journal record (an accepted submission's N-Quads);
    every backend chains it this way, so the same files and journal give the same hash.

    >>> chain("0" * 64, b"") == chain("0" * 64, b" ")
    False
    """
    return hashlib.sha256((dataset_hash + hashlib.sha256(payload).hexdigest()).encode()).hexdigest()
