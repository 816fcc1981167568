"""The dataset as a whole: downloadable dumps, its VoID description and a sitemap.

Dumps are written once per store generation into ``<state_dir>/downloads/<generation>/``
(TriG, N-Quads, JSON-LD), with their size and SHA-256 in a manifest; VoID's numbers are
counted by ``page-void-*.rq`` queries, so they describe exactly what /sparql answers over.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyoxigraph as ox

from exmech import formats, vocab
from exmech.errors import StoreUnavailable
from exmech.linked_data.rdf import Node, Statement, select, serialize
from exmech.store.cache import AnswerCache

DUMPS = (
    ("exmech.trig", formats.TRIG),
    ("exmech.nq", formats.NQUADS),
    ("exmech.jsonld", formats.JSONLD),
)
VOID = "http://rdfs.org/ns/void#"
DCAT = "http://www.w3.org/ns/dcat#"
SPDX = "http://spdx.org/rdf/terms#"
SD = "http://www.w3.org/ns/sparql-service-description#"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
VOCABULARIES = (
    vocab.EXM,
    vocab.PROV,
    vocab.SKOS,
    vocab.DCTERMS,
    vocab.NP,
    vocab.NPX,
    vocab.BIBO,
    vocab.FABIO,
    vocab.FOAF,
    vocab.SH,
)
SITEMAP_KINDS = ("theme", "mechanism", "exercise", "study", "claim", "curator")


@dataclass(frozen=True)
class Dump:
    """One file of the whole dataset."""

    name: str
    format: str  # the formats.Format name
    media_type: str
    size: int
    sha256: str
    quads: int


def dump_folder(state_dir: Path, generation: str) -> Path:
    return state_dir / "downloads" / generation


class Dumps:
    """One app's dump files under ``state_dir``, written by one thread at a time."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._lock = threading.Lock()

    def files(self, cache: AnswerCache) -> list[Dump]:
        """The dump files of the current generation, written on first use (all or none).

        Raises StoreUnavailable (503) when they cannot be written (a full disk).
        """
        generation = cache.store.generation
        folder = dump_folder(self.state_dir, generation)
        manifest = folder / "manifest.json"
        with self._lock:
            if not manifest.exists():
                try:
                    _write_dumps(cache, folder)
                except OSError as exc:  # a full disk: say so, keep everything else answering
                    shutil.rmtree(folder.with_name(folder.name + ".tmp"), ignore_errors=True)
                    raise StoreUnavailable(
                        f"the dumps are unavailable: the server cannot write them "
                        f"({exc.strerror or exc}); /sparql, /api and the pages still answer"
                    ) from exc
                for old in folder.parent.iterdir():
                    if old.name != generation and not old.name.endswith(".tmp"):
                        shutil.rmtree(old, ignore_errors=True)
            return [Dump(**d) for d in json.loads(manifest.read_text())]


def _write_dumps(cache: AnswerCache, folder: Path) -> None:
    rows = select(cache, "page-dump", max_rows=None)
    statements = sorted(
        (Statement(r["g"].value, r["s"], r["p"], r["o"]) for r in rows),
        key=Statement.key,
    )
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    written = []
    for name, fmt in DUMPS:
        body = serialize(statements, fmt)
        (tmp / name).write_bytes(body)
        written.append(
            asdict(
                Dump(
                    name,
                    fmt.name,
                    fmt.media_type,
                    len(body),
                    hashlib.sha256(body).hexdigest(),
                    len(statements),
                )
            )
        )
    (tmp / "manifest.json").write_text(json.dumps(written, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _int(row: dict[str, Node], key: str) -> int:
    return int(row[key].value) if key in row else 0


def void_statements(
    cache: AnswerCache, dataset: str, site: str, base: str, files: list[Dump]
) -> list[Statement]:
    """The VoID description of the dataset ``dataset`` served at ``site``."""
    out: list[Statement] = []
    me = ox.NamedNode(dataset)

    def add(s: Node, p: str, o: Node) -> None:
        out.append(Statement("", s, ox.NamedNode(p), o))

    def lit(value: object, datatype: str = "") -> Node:
        return ox.Literal(str(value), datatype=ox.NamedNode(datatype) if datatype else None)

    def count(value: int) -> Node:
        return lit(value, vocab.XSD + "integer")

    add(me, vocab.RDF + "type", ox.NamedNode(VOID + "Dataset"))
    add(me, vocab.DCTERMS + "title", lit("exmech"))
    add(
        me,
        vocab.DCTERMS + "description",
        lit(
            "Why does exercise help chronic low back pain? Themes, mechanisms, exercise types, "
            "studies and one nanopublication per claim, with its provenance."
        ),
    )
    add(me, vocab.DCTERMS + "license", ox.NamedNode(LICENSE))
    add(me, vocab.FOAF + "homepage", ox.NamedNode(f"{site}/"))
    add(me, VOID + "sparqlEndpoint", ox.NamedNode(f"{site}/sparql"))
    add(me, VOID + "uriSpace", lit(f"{base}/id/"))
    add(me, VOID + "exampleResource", ox.NamedNode(vocab.iri("mechanism", "motor-control", base)))
    add(me, VOID + "rootResource", ox.NamedNode(vocab.ONTOLOGY))
    for namespace in VOCABULARIES:
        add(me, VOID + "vocabulary", ox.NamedNode(namespace))
    counts = select(cache, "page-void-counts")[0]
    add(me, VOID + "triples", count(_int(counts, "triples")))
    add(me, VOID + "distinctSubjects", count(_int(counts, "subjects")))
    add(me, VOID + "properties", count(_int(counts, "properties")))
    add(me, VOID + "distinctObjects", count(_int(counts, "objects")))
    classes = select(cache, "page-void-classes")
    add(me, VOID + "classes", count(len(classes)))
    for i, row in enumerate(classes):
        part = ox.NamedNode(f"{dataset}#class-{i + 1}")
        add(me, VOID + "classPartition", part)
        add(part, VOID + "class", row["class"])
        add(part, VOID + "entities", count(_int(row, "entities")))
    for i, row in enumerate(select(cache, "page-void-properties")):
        part = ox.NamedNode(f"{dataset}#property-{i + 1}")
        add(me, VOID + "propertyPartition", part)
        add(part, VOID + "property", row["property"])
        add(part, VOID + "triples", count(_int(row, "triples")))
        add(part, VOID + "distinctSubjects", count(_int(row, "subjects")))
        add(part, VOID + "distinctObjects", count(_int(row, "objects")))
    for dump in files:
        file = ox.NamedNode(f"{site}/download/{dump.name}")
        checksum = ox.NamedNode(f"{site}/download/{dump.name}#sha256")
        add(me, VOID + "dataDump", file)
        add(file, vocab.DCTERMS + "format", lit(dump.media_type))
        add(
            file,
            DCAT + "mediaType",
            ox.NamedNode(f"https://www.iana.org/assignments/media-types/{dump.media_type}"),
        )
        add(file, DCAT + "byteSize", count(dump.size))
        add(file, SPDX + "checksum", checksum)
        add(checksum, vocab.RDF + "type", ox.NamedNode(SPDX + "Checksum"))
        add(checksum, SPDX + "algorithm", ox.NamedNode(SPDX + "checksumAlgorithm_sha256"))
        add(checksum, SPDX + "checksumValue", lit(dump.sha256, vocab.XSD + "hexBinary"))
    return out


def void_body(statements: list[Statement], fmt: formats.Format) -> bytes:
    """The VoID description written in ``fmt``, with the VoID, DCAT and SPDX prefixes."""
    return serialize(statements, fmt, {"void": VOID, "dcat": DCAT, "spdx": SPDX})


def sitemap(cache: AnswerCache, site: str, base: str, pages: tuple[str, ...]) -> str:
    """A sitemap of the site's pages and every resource page (named graphs left out)."""
    urls = [f"{site}{path}" for path in pages]
    for row in select(cache, "page-sitemap", {"prefix": ox.Literal(f"{base}/id/")}):
        split = vocab.split_iri(row["resource"].value, base)
        if split is not None and split[0] in SITEMAP_KINDS:
            urls.append(f"{site}/id/{split[0]}/{split[1]}")
    body = "".join(f"<url><loc>{escape(url)}</loc></url>\n" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + body + "</urlset>\n"
    )


def manifest_json(files: list[Dump], site: str) -> list[dict[str, Any]]:
    return [{**asdict(d), "url": f"{site}/download/{d.name}"} for d in files]
