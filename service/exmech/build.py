"""Files -> store: ontology/, data/, then the journal of accepted submissions. Idempotent.

Each Turtle file loads into its own named graph (``id/graph/<stem>``; the ontology into
``id/graph/ontology``, the shapes into ``id/graph/shapes``); TriG files keep their graphs.
The store is built beside the old one and swapped in, so a failed build changes nothing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from exmech import rdf
from exmech.errors import BadRequest, NotBuilt
from exmech.settings import Settings
from exmech.store import Store, lock, open_store
from exmech.store.embedded import publish_snapshot
from exmech.store.journal import Journal
from exmech.vocab import iri

LOADED = (".ttl", ".trig", ".nq", ".nt", ".jsonld")  # what a build reads of ontology/, data/
SPECIAL_GRAPHS = {"exmech": "ontology", "shapes": "shapes"}


@dataclass(frozen=True)
class Source:
    path: Path
    graph: str | None  # None: the file names its own graphs


@dataclass(frozen=True)
class BuildReport:
    quads: int
    files: int
    journal_records: int
    seconds: float
    dataset_hash: str


def sources(root: Path, base: str) -> list[Source]:
    """The files a build loads, in a fixed order: ontology first, then data."""
    found: list[Source] = []
    for folder in ("ontology", "data"):
        for path in sorted((root / folder).glob("*")):
            if path.suffix not in LOADED or not path.is_file():
                continue
            if rdf.BY_EXTENSION[path.suffix].supports_datasets:
                found.append(Source(path, None))
            else:
                found.append(
                    Source(path, iri("graph", SPECIAL_GRAPHS.get(path.stem, path.stem), base))
                )
    if not found:
        raise BadRequest(f"no ontology/ or data/ files under {root}")
    return found


def build(settings: Settings, on_file: Callable[[Path, int], None] | None = None) -> BuildReport:
    """(Re)build the store the settings name, as the state directory's one writer.

    Raises BadRequest on bad files, StateInUse when another process (a running server)
    writes the state directory, JournalDamaged when a journal record other than a torn
    last one is bad (a torn one is cut, with a log line).
    """
    with lock.hold(settings.state_dir, "exmech build"):
        if settings.store == "remote":
            return build_remote(settings, on_file)
        return _build_embedded(settings, on_file)


def open_built(settings: Settings, workers: bool = True) -> Store:
    """The store the settings name, built from the files first when there is nothing to open.

    What ``exmech serve`` and the CLI open: a first run builds the store, and so does the
    next open after a build cut short by a crash. Raises what ``build`` raises.
    """
    try:
        return open_store(settings, workers=workers)
    except NotBuilt:
        build(settings)
    return open_store(settings, workers=workers)


def _build_embedded(settings: Settings, on_file: Callable[[Path, int], None] | None) -> BuildReport:
    started = time.perf_counter()
    state = settings.state_dir
    journal = Journal(state / "journal.log")
    journal.cut_torn_tail()  # before any work: damage stops the build with nothing changed
    fresh = state / "store.building"
    shutil.rmtree(fresh, ignore_errors=True)
    store = ox.Store(str(fresh))
    files = sources(settings.root, settings.base_iri)
    digest = rdf.FilesHash()
    for source in files:
        data = source.path.read_bytes()
        digest.add(_name(source), data)
        target = ox.NamedNode(source.graph) if source.graph else None
        try:
            store.bulk_load(data, format=rdf.BY_EXTENSION[source.path.suffix], to_graph=target)
        except SyntaxError as exc:
            raise BadRequest(f"{source.path}: {exc}") from exc
        if on_file is not None:
            on_file(source.path, len(data))
    dataset_hash = digest.hexdigest()
    records = 0
    for payload in journal.records():
        store.extend(rdf.parse(payload, ox.RdfFormat.N_QUADS))
        dataset_hash = rdf.chain(dataset_hash, payload)
        records += 1
    store.flush()
    quads = len(store)
    meta = {"dataset_hash": dataset_hash, "journal_records": records, "quads": quads}
    del store
    # Swap without a window where a half-deleted store is in place: move the old one aside,
    # move the new one in, then delete the old one. A crash in between leaves no store/,
    # which the next open rebuilds.
    primary, retired = state / "store", state / "store.retired"
    shutil.rmtree(retired, ignore_errors=True)
    if primary.exists():
        primary.rename(retired)
    fresh.rename(primary)
    shutil.rmtree(retired, ignore_errors=True)
    publish_snapshot(state, ox.Store(str(primary)), meta)
    return BuildReport(quads, len(files), records, time.perf_counter() - started, dataset_hash)


def build_remote(
    settings: Settings,
    on_file: Callable[[Path, int], None] | None = None,
    gsp_threshold: int | None = None,
) -> BuildReport:
    """Rebuild exmech's graphs on the remote SPARQL server; idempotent, journal replayed.

    Every file is parsed before the server is touched, so a bad file changes nothing there;
    then the files are parsed again and streamed to the server one at a time (no second copy
    of the data in memory). The dataset hash is the embedded store's, so the same files and
    journal give the same hash on both backends.
    """
    from exmech.store.remote import GSP_THRESHOLD, RemoteStore

    started = time.perf_counter()
    files = sources(settings.root, settings.base_iri)
    graphs: set[str] = set()
    digest = rdf.FilesHash()
    for source in files:
        data = source.path.read_bytes()
        digest.add(_name(source), data)
        parsed = _quads(source, data)
        graphs |= {g.value for q in parsed if isinstance(g := q.graph_name, ox.NamedNode)}

    def batches() -> Iterator[Iterator[ox.Quad]]:
        for source in files:
            data = source.path.read_bytes()
            yield _quads(source, data)
            if on_file is not None:
                on_file(source.path, len(data))

    store = RemoteStore(settings)
    try:
        quads, records, dataset_hash = store.rebuild(
            batches(),
            digest.hexdigest(),
            graphs,
            GSP_THRESHOLD if gsp_threshold is None else gsp_threshold,
        )
    finally:
        store.close()
    return BuildReport(quads, len(files), records, time.perf_counter() - started, dataset_hash)


def _name(source: Source) -> str:
    """How a file enters the dataset hash: its folder and name."""
    return f"{source.path.parent.name}/{source.path.name}"


def _quads(source: Source, data: bytes) -> Iterator[ox.Quad]:
    """The file's quads, each in its named graph (Turtle files get theirs from the file name)."""
    target = ox.NamedNode(source.graph) if source.graph else None
    try:
        parsed = rdf.parse(data, rdf.BY_EXTENSION[source.path.suffix])
    except SyntaxError as exc:
        raise BadRequest(f"{source.path}: {exc}") from exc
    for quad in parsed:
        if target is not None:
            yield ox.Quad(quad.subject, quad.predicate, quad.object, target)
        elif isinstance(quad.graph_name, ox.NamedNode):
            yield quad
        else:
            raise BadRequest(f"{source.path}: the remote store needs every quad in a named graph")
