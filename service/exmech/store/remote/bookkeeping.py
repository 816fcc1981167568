"""What exmech keeps on the server besides the data, and the updates that keep it true.

::

    <urn:exmech:store>    state (ready | building), build id, records, dataset hash and
                          one exm-store:graph triple per graph exmech owns
    <urn:exmech:journal>  every accepted submission (its N-Quads), so a rebuild replays them

Both are private on Virtuoso, read through the authenticated endpoint. A submission is one
SPARQL Update operation: its quads, its journal record and the new state, conditional on
the dataset hash it was chained from, so it lands whole or not at all and concurrent
writers from several exmech processes cannot interleave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from exmech import rdf
from exmech.store.remote.bulk import DATA_CHUNK, batched
from exmech.store.remote.dialect import quads_text
from exmech.store.remote.protocol import Connection

META = "urn:exmech:store"
JOURNAL = "urn:exmech:journal"
ST = "urn:exmech:store#"
# Bookkeeping reads, paged by Connection.pages: AFTER becomes the filter that starts a page.
MEMBERS = f"SELECT ?g WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}graph> ?g }} AFTER }}"
MEMBER_COUNT = f"SELECT (COUNT(?g) AS ?n) WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}graph> ?g }} }}"
JOURNAL_RECORDS = (
    f"SELECT ?seq ?nquads WHERE {{ GRAPH <{JOURNAL}> {{ ?r <{ST}seq> ?seq ; "
    f"<{ST}nquads> ?nquads }} AFTER }}"
)
# Graphs bigger than a data chunk, emptied by DROP.
BIG_GRAPHS = (
    "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } AFTER } GROUP BY ?g "
    f"HAVING (COUNT(*) > {DATA_CHUNK})"
)
STATE = (
    f"SELECT ?state ?build ?records ?hash WHERE {{ GRAPH <{META}> {{ <{META}> "
    f"<{ST}state> ?state ; <{ST}build> ?build ; <{ST}records> ?records ; "
    f"<{ST}datasetHash> ?hash }} }}"
)


@dataclass(frozen=True)
class State:
    """What the meta graph says about the data exmech keeps on the server."""

    state: str
    build: str
    records: int
    dataset_hash: str

    @property
    def generation(self) -> str:
        if self.state != "ready":
            return f"{self.state}-{self.build}"
        return f"{self.records:06d}-{self.build}"


def read_state(server: Connection) -> State | None:
    """The state the meta graph records, or None before the first build."""
    rows = server.select(STATE)
    if not rows:
        return None
    return State(rows[0]["state"], rows[0]["build"], int(rows[0]["records"]), rows[0]["hash"])


def journal(server: Connection) -> list[bytes]:
    """Every submission accepted so far, oldest first."""
    rows = server.pages(JOURNAL_RECORDS, key="seq")
    return [row["nquads"].encode("utf-8") for row in sorted(rows, key=lambda r: int(r["seq"]))]


def members(server: Connection) -> set[str]:
    """Every graph exmech recorded as its own, whatever the state."""
    return {row["g"] for row in server.pages(MEMBERS)}


def empty_all(server: Connection) -> None:
    """Empty every graph exmech recorded and forget it, 200 graphs a request.

    Big graphs go one ``DROP`` each, so no request holds one whole; the many small ones by a
    ``DELETE`` over ``VALUES`` (on Virtuoso ~15x faster than a DROP each). Each round takes
    whichever 200 records come first: no ORDER BY, so a store of millions of graphs costs
    rounds, not a sort of every name per round.
    """
    big: set[str] | None = None  # asked once, and only when there is something to empty
    while rows := server.select(f"{MEMBERS.replace('AFTER', '')} LIMIT 200"):
        if big is None:
            big = {row["g"] for row in server.pages(BIG_GRAPHS)}
        chunk = [row["g"] for row in rows]
        drops = [f"DROP SILENT GRAPH <{g}>" for g in chunk if g in big]
        small = " ".join(f"<{g}>" for g in chunk if g not in big)
        if small:
            drops.append(
                f"DELETE {{ GRAPH ?g {{ ?s ?p ?o }} }} WHERE {{ VALUES ?g {{ {small} }} "
                "GRAPH ?g { ?s ?p ?o } }"
            )
        drops.append(f"DELETE DATA {{ GRAPH <{META}> {{ {membership(chunk)} }} }}")
        server.update(" ;\n".join(drops))


def member_count(server: Connection) -> int:
    """How many graphs exmech owns (one query, however many there are)."""
    return int(server.select(MEMBER_COUNT)[0]["n"])


def known(server: Connection, names: Iterable[str]) -> frozenset[str]:
    """Which of these names exmech recorded as its graphs."""
    found: set[str] = set()
    for chunk in batched(sorted(set(names)), 200):
        values = " ".join(f"<{g}>" for g in chunk)
        rows = server.select(MEMBERS.replace("AFTER", f"VALUES ?g {{ {values} }}"))
        found.update(row["g"] for row in rows)
    return frozenset(found)


def record(server: Connection, graphs: Iterable[str]) -> None:
    """Record graphs as exmech's (before anything is written to them)."""
    for chunk in batched(sorted(graphs), DATA_CHUNK):
        server.update(f"INSERT DATA {{ GRAPH <{META}> {{ {membership(chunk)} }} }}")


def write_state(
    server: Connection,
    state: str,
    build_id: str,
    records: int,
    dataset_hash: str,
    graphs: Iterable[str],
) -> None:
    """Record more graphs as exmech's, then the new state, build id, records and hash."""
    record(server, graphs)
    server.update(
        f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}state> ?a }} }} ;\n"
        f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}build> ?b }} }} ;\n"
        f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}records> ?c }} }} ;\n"
        f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}datasetHash> ?d }} }} ;\n"
        f"INSERT DATA {{ GRAPH <{META}> {{ <{META}> <{ST}state> {ox.Literal(state)} ; "
        f"<{ST}build> {ox.Literal(build_id)} ; <{ST}records> {records} ; "
        f"<{ST}datasetHash> {ox.Literal(dataset_hash)} }} }}"
    )


def submission(
    before: str, record: str, quads: list[ox.Quad], graphs: list[str], nquads: bytes
) -> str:
    """The one update operation that applies a submission if the state is still ``before``."""
    after = rdf.chain(before, nquads)
    members = membership(graphs)
    payload = ox.Literal(nquads.decode("utf-8"))
    return (
        f"DELETE {{ GRAPH <{META}> {{ <{META}> <{ST}records> ?n ; <{ST}datasetHash> ?h }} }}\n"
        f"INSERT {{\n"
        f"  GRAPH <{META}> {{ <{META}> <{ST}records> ?next ; <{ST}datasetHash> "
        f"{ox.Literal(after)} . {members} }}\n"
        f"  GRAPH <{JOURNAL}> {{ <{record}> <{ST}seq> ?next ; <{ST}nquads> {payload} ; "
        f"<{ST}previous> {ox.Literal(before)} }}\n"
        f"  {quads_text(quads)}\n"
        f"}}\n"
        f"WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}records> ?n ; <{ST}datasetHash> ?h ; "
        f'<{ST}state> "ready" }} FILTER (STR(?h) = {ox.Literal(before)}) '
        f"BIND (?n + 1 AS ?next) }}"
    )


def membership(graphs: Iterable[str]) -> str:
    """Triples that record these graphs as exmech's."""
    return " ".join(f"<{META}> <{ST}graph> <{g}> ." for g in graphs)
