"""The one chokepoint for reads and writes: every query runs here, under a deadline and a row cap.

``open_store(settings)`` gives the embedded pyoxigraph store or a remote SPARQL server behind
the same small interface, so routes and the CLI never know which they talk to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from exmech.errors import NotBuilt
from exmech.querytext import Binding

if TYPE_CHECKING:
    from exmech.settings import Settings


@dataclass(frozen=True)
class Query:
    """One query request, already decoded from HTTP or the CLI."""

    text: str
    form: str  # SELECT, ASK, CONSTRUCT, DESCRIBE
    media_type: str
    capped_text: str | None = None
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    substitutions: tuple[tuple[str, Binding], ...] = ()
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


class Store(Protocol):
    """What exmech needs from a store; see embedded.EmbeddedStore and remote.RemoteStore."""

    @property
    def generation(self) -> str:
        """Changes whenever the data changes; answer caches key on it."""
        ...

    @property
    def dataset_hash(self) -> str:
        """A content hash of the data in the store (files loaded plus journal)."""
        ...

    def query(self, query: Query) -> Answer:
        """Run one read. Raises BadRequest (syntax), QueryTimeout, StoreUnavailable."""
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
