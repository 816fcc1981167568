"""The one chokepoint for reads and writes: every query runs here, under a deadline and a row cap.

``open_store(settings)`` gives the embedded pyoxigraph store or a remote SPARQL server behind
the same small interface, so routes and the CLI never know which they talk to.

Two ways to read, as Datasette's ``execute -> Results``: ``Store.execute`` answers exmech's
own code with parsed ``Results`` (pyoxigraph terms, parsed once); ``Store.query`` answers
``/sparql`` (and the CLI's formats) with the engine's serialized bytes in the client's format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import pyoxigraph as ox

from exmech.errors import NotBuilt
from exmech.querytext import Bound

if TYPE_CHECKING:
    from exmech.queries import NamedQuery
    from exmech.settings import Settings


@dataclass(frozen=True)
class Query:
    """One query request, already decoded from HTTP or the CLI."""

    text: str
    form: str  # SELECT, ASK, CONSTRUCT, DESCRIBE
    media_type: str = ""  # for ``Store.query``; ``Store.execute`` picks its own
    capped_text: str | None = None
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    substitutions: tuple[tuple[str, Bound], ...] = ()
    max_rows: int | None = None
    base_iri: str | None = None  # relative IRIs in the text resolve against it
    client: str = field(default="", compare=False)  # who asks (remote address), for fairness


@dataclass(frozen=True)
class Answer:
    """A serialized answer and what a client must know about it."""

    body: bytes
    media_type: str
    rows: int
    truncated: bool
    generation: str
    form: str = "SELECT"
    cached: bool = field(default=False, compare=False)
    # The answer cache's key for it, once kept there (a /sparql replay entry points at it).
    cache_key: tuple[object, ...] | None = field(default=None, compare=False, repr=False)


Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


@dataclass(frozen=True)
class Results:
    """A parsed answer: ``rows`` of pyoxigraph terms (None where a variable is unbound) for
    SELECT, ``boolean`` for ASK, ``triples`` for CONSTRUCT and DESCRIBE.

    Immutable, so one cached value serves every caller. ``size`` is the length of the
    serialized answer it was read from (what the answer cache weighs it by).

    >>> r = Results(("a",), ((ox.NamedNode("http://e/x"),), (None,)), False, "g1")
    >>> r.dicts()
    [{'a': <NamedNode value=http://e/x>}, {}]
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Term | None, ...], ...]
    truncated: bool
    generation: str
    form: str = "SELECT"
    boolean: bool | None = None
    triples: tuple[ox.Triple, ...] = ()
    size: int = field(default=0, compare=False)
    cached: bool = field(default=False, compare=False)

    def __len__(self) -> int:
        return len(self.triples) if self.form in ("CONSTRUCT", "DESCRIBE") else len(self.rows)

    def __iter__(self) -> Iterator[tuple[Term | None, ...]]:
        return iter(self.rows)

    def dicts(self) -> list[dict[str, Term]]:
        """Each row as {column: term}, unbound columns left out."""
        columns = self.columns
        return [
            {c: t for c, t in zip(columns, row, strict=True) if t is not None} for row in self.rows
        ]


class Store(Protocol):
    """What exmech needs from a store; see embedded.EmbeddedStore and remote.RemoteStore."""

    @property
    def generation(self) -> str:
        """Changes whenever the data changes; the answer cache keys on it."""
        ...

    @property
    def dataset_hash(self) -> str:
        """A content hash of the data in the store (files loaded plus journal)."""
        ...

    def query(self, query: Query) -> Answer:
        """Run one read, serialized in ``query.media_type`` (the ``/sparql`` path).

        Raises BadRequest (syntax), QueryTimeout, StoreUnavailable."""
        ...

    def execute(self, query: Query) -> Results:
        """Run one read for exmech's own code: parsed terms, capped at ``query.max_rows``.

        Raises what ``query`` raises."""
        ...

    def graphs(self) -> frozenset[str]:
        """Names of the store's named graphs."""
        ...

    def known_graphs(self, names: Iterable[str]) -> frozenset[str]:
        """Which of these names are graphs of the store (without listing millions)."""
        ...

    def add(self, nquads: bytes) -> str:
        """Journal then apply one submission atomically; returns the new generation."""
        ...

    def close(self) -> None: ...


class Reader(Protocol):
    """Anything that answers parsed reads: a Store, or the answer cache in front of one."""

    def execute(self, query: Query) -> Results: ...


def execute_named(
    reader: Reader,
    named: NamedQuery,
    bindings: Mapping[str, Bound] | None = None,
    max_rows: int | None = None,
) -> Results:
    """Run a shipped question (``queries.load``) with values bound by substitution, parsed:
    the one way exmech's own code asks one. Its capped text was computed when it was loaded.

    Raises ValueError when a value is bound to a variable the query does not declare, and
    whatever the store raises (BadRequest, QueryTimeout, StoreUnavailable).
    """
    bindings = bindings or {}
    unknown = set(bindings) - set(named.binds)
    if unknown:
        raise ValueError(f"{named.name}.rq does not bind {', '.join(sorted(unknown))}")
    return reader.execute(
        Query(
            text=named.text,
            form=named.form,
            capped_text=named.capped(None if max_rows is None else max_rows + 1),
            substitutions=tuple(sorted(bindings.items())),
            max_rows=max_rows,
        )
    )


def open_store(settings: Settings, workers: bool = True) -> Store:
    """The store the settings name, as it is: opening never builds.

    Raises NotBuilt when there is nothing to open (a first run, or a build cut short by a
    crash); ``exmech.build.open_built`` builds it then. ``workers=False`` queries the
    embedded store in-process (one command's queries, no worker processes).
    """
    if settings.store == "remote":
        from exmech.store.remote import RemoteStore

        remote = RemoteStore(settings)
        if remote.state(fresh=True) is None:
            remote.close()
            raise NotBuilt("the remote store holds no exmech data yet; run `exmech build`")
        return remote
    from exmech.store.embedded import EmbeddedStore

    return EmbeddedStore(settings, workers=workers)
