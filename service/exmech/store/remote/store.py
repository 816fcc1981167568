"""RemoteStore: the Store protocol over an external SPARQL 1.1 server."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterable

import pyoxigraph as ox

from exmech import rdf
from exmech.errors import BadRequest, StoreUnavailable, Unprocessable
from exmech.querytext import with_values
from exmech.settings import Settings
from exmech.store import Answer, Query, Results
from exmech.store.remote import bookkeeping, bulk
from exmech.store.remote.bookkeeping import (
    JOURNAL,
    META,
    ST,
    State,
    submission,
    write_state,
)
from exmech.store.remote.dialect import (
    NEEDS_NORMALISING,
    canonical,
    normalise_json,
    refuse_engine_extensions,
)
from exmech.store.remote.protocol import (
    JSON_RESULTS,
    NTRIPLES,
    UPDATE_TIMEOUT,
    WRITE_ATTEMPTS,
    Connection,
    Reply,
)
from exmech.store.results import cap_rows
from exmech.vocab import PREFIXES

# Graphs the query endpoint shows, exmech's bookkeeping left out (servers without per-graph
# permissions show it; Virtuoso keeps it private).
_NOT_BOOKKEEPING = f"FILTER (?g NOT IN (<{META}>, <{JOURNAL}>))"
COUNT_GRAPHS = (
    f"SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {_NOT_BOOKKEEPING} }}"
)
LIST_GRAPHS = f"SELECT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {_NOT_BOOKKEEPING} AFTER }} GROUP BY ?g"
GENERATION_TTL = 1.0  # seconds a read of the server's state is trusted (other writers)
ISOLATION_RETRY = 30.0  # seconds before a failed isolation check is tried again
VIRTUOSO_GRAPH_PARAMS = 80  # Virtuoso echoes each graph parameter as a header; urllib takes 100


class RemoteStore:
    """exmech's data on an external SPARQL 1.1 server; see the package docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = Connection(settings)
        self.timeout = settings.query_timeout
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._state: tuple[float, State | None] | None = None
        self._members: tuple[str, frozenset[str]] | None = None
        self._isolation: tuple[float, str] | None = None

    def state(self, fresh: bool = False) -> State | None:
        """The server's exmech state, re-read at most every GENERATION_TTL seconds."""
        with self._lock:
            cached = self._state
            if not fresh and cached is not None and time.monotonic() - cached[0] < GENERATION_TTL:
                return cached[1]
            found = bookkeeping.read_state(self.server)
            self._state = (time.monotonic(), found)
            return found

    def _ready(self) -> State:
        found = self.state()
        if found is None:
            raise StoreUnavailable("the remote store holds no exmech data yet; run `exmech build`")
        return found

    @property
    def generation(self) -> str:
        return self._ready().generation

    @property
    def dataset_hash(self) -> str:
        return self._ready().dataset_hash

    def graphs(self) -> frozenset[str]:
        """exmech's graphs on the server (as recorded in its meta graph), cached per generation.

        Lists them all, in sorted pages: fine for thousands, minutes for millions, so nothing
        on a request path calls it (known_graphs and the isolation check look names up).
        """
        generation = self.generation
        cached = self._members
        if cached is not None and cached[0] == generation:
            return cached[1]
        members = frozenset(bookkeeping.members(self.server))
        self._members = (generation, members)
        return members

    def known_graphs(self, names: Iterable[str]) -> frozenset[str]:
        """Looked up in the meta graph, a few hundred names a request."""
        return bookkeeping.known(self.server, names)

    def query(self, query: Query) -> Answer:
        """Run one read on the server; same bytes, caps and errors as the embedded store."""
        generation, reply = self._fetch(query)
        server_cut = bool(reply.header("X-SPARQL-MaxRows"))
        if query.form in ("CONSTRUCT", "DESCRIBE"):
            triples, truncated = self._triples(reply, query)
            rdf = ox.RdfFormat.from_media_type(query.media_type) or ox.RdfFormat.N_TRIPLES
            body = ox.serialize(triples, format=rdf, prefixes=PREFIXES) or b""
            body, media_type, rows = body, rdf.media_type, len(triples)
        else:
            body, media_type, rows, truncated = self._results_answer(reply, query)
        return Answer(
            body=body,
            media_type=media_type,
            rows=rows,
            truncated=truncated or server_cut,
            generation=generation,
            form="SELECT" if query.form not in ("ASK", "CONSTRUCT", "DESCRIBE") else query.form,
        )

    def execute(self, query: Query) -> Results:
        """The same read as terms, parsed once from the server's reply (not re-serialized)."""
        generation, reply = self._fetch(query)
        server_cut = bool(reply.header("X-SPARQL-MaxRows"))
        size = len(reply.body)
        if query.form in ("CONSTRUCT", "DESCRIBE"):
            triples, truncated = self._triples(reply, query)
            return Results(
                (),
                (),
                truncated or server_cut,
                generation,
                query.form,
                triples=tuple(triples),
                size=size,
            )
        parsed = self._parse_results(reply)
        if isinstance(parsed, ox.QueryBoolean):
            return Results((), (), False, generation, "ASK", boolean=bool(parsed), size=size)
        columns = tuple(v.value for v in parsed.variables)
        limit = query.max_rows
        rows = tuple(
            tuple(s) for s in itertools.islice(parsed, None if limit is None else limit + 1)
        )
        truncated = limit is not None and len(rows) > limit
        return Results(
            columns,
            rows[:limit] if truncated else rows,
            truncated or server_cut,
            generation,
            "SELECT",
            size=size,
        )

    def _fetch(self, query: Query) -> tuple[str, Reply]:
        """(the generation read, the server's reply) for one read, capped when it can be."""
        refuse_engine_extensions(query.text)
        generation = self.generation
        text = query.capped_text or query.text
        try:
            reply = self._read(text, query)
        except BadRequest:
            if text == query.text:
                raise
            reply = self._read(query.text, query)
        return generation, reply

    def _read(self, text: str, query: Query) -> Reply:
        self.check_isolation()
        text = with_values(text, query.form, query.substitutions)
        if query.base_iri:  # the protocol has no base parameter; a leading BASE is always legal
            text = f"BASE <{query.base_iri}>\n{text}"
        params = [("default-graph-uri", g) for g in query.default_graphs if g]
        params += [("named-graph-uri", g) for g in query.named_graphs]
        if self.server.is_virtuoso():
            if len(params) > VIRTUOSO_GRAPH_PARAMS:
                raise BadRequest(
                    f"at most {VIRTUOSO_GRAPH_PARAMS} default-graph-uri and named-graph-uri "
                    "parameters: the SPARQL server (Virtuoso) echoes each one as a header"
                )
            params.append(("timeout", str(max(int(self.timeout * 1000), 1))))  # milliseconds
        rdf = query.form in ("CONSTRUCT", "DESCRIBE")
        accept = f"{NTRIPLES}, text/turtle;q=0.5" if rdf else JSON_RESULTS
        server = self.server
        return server.send(server.query_url, query.form, text, accept, params, self.timeout)

    def _parse_results(self, reply: Reply) -> ox.QuerySolutions | ox.QueryBoolean:
        body = reply.body
        if any(marker in body for marker in NEEDS_NORMALISING):
            body = normalise_json(body)
        try:
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        except SyntaxError as exc:
            raise StoreUnavailable(
                f"the SPARQL server sent results exmech cannot read: {exc}"
            ) from exc

    def _results_answer(self, reply: Reply, query: Query) -> tuple[bytes, str, int, bool]:
        result = self._parse_results(reply)
        fmt = ox.QueryResultsFormat.from_media_type(query.media_type) or ox.QueryResultsFormat.JSON
        out = result.serialize(format=fmt) or b""
        if isinstance(result, ox.QueryBoolean):
            return out, fmt.media_type, 1, False
        out, rows, truncated = cap_rows(out, fmt.media_type, query.max_rows)
        return out, fmt.media_type, rows, truncated

    def _triples(self, reply: Reply, query: Query) -> tuple[list[ox.Triple], bool]:
        """The reply's triples in exmech's canonical spelling, at most ``max_rows`` of them."""
        given = ox.RdfFormat.from_media_type(reply.header("Content-Type")) or ox.RdfFormat.N_TRIPLES
        try:
            parsed = ox.parse(reply.body, format=given)
            triples: list[ox.Triple] = []
            truncated = False
            for quad in parsed:
                if query.max_rows is not None and len(triples) >= query.max_rows:
                    truncated = True
                    break
                triples.append(canonical(quad.triple))
        except SyntaxError as exc:
            raise StoreUnavailable(f"the SPARQL server sent RDF exmech cannot read: {exc}") from exc
        return triples, truncated

    def check_isolation(self) -> None:
        """Refuse to answer while the query endpoint shows graphs that are not exmech's.

        The server's default graph is the union of what it holds, and exmech's answers must
        come from exmech's graphs only. Scoping each query instead is not an option on
        Virtuoso 7.2: its graph-exclude pragmas make ``GRAPH <iri>`` patterns return wrong
        rows, and listing exmech's ~1,000 graphs in every request is 30 to 100 times slower.
        So the server keeps everything else out of sight (on Virtuoso: private graphs) and
        exmech checks it once per process and after each build.
        """
        checked = self._isolation
        now = time.monotonic()
        if checked is not None and (not checked[1] or now - checked[0] < ISOLATION_RETRY):
            if checked[1]:
                raise StoreUnavailable(checked[1])
            return
        # Every graph exmech records holds data, so equal counts mean no stranger is visible;
        # the names (for the message) are only listed when the counts differ.
        server = self.server
        reply = server.send(
            server.query_url, "SELECT", COUNT_GRAPHS, JSON_RESULTS, [], UPDATE_TIMEOUT
        )
        visible = int(json.loads(reply.body)["results"]["bindings"][0]["n"]["value"])
        problem, foreign = "", []
        if visible > bookkeeping.member_count(self.server):
            listed = (row["g"] for row in server.pages(LIST_GRAPHS, server.query_url))
            for chunk in bulk.batched(listed, 200):
                foreign += sorted(set(chunk) - bookkeeping.known(server, chunk))
                if len(foreign) > 5:
                    break
        if foreign:
            shown = ", ".join(f"<{g}>" for g in foreign[:5])
            problem = (
                f"the SPARQL server shows graphs that are not exmech's ({shown}"
                f"{', ...' if len(foreign) > 5 else ''}) to the query endpoint, and answers "
                "would include them: make them private (Virtuoso) or give exmech a dataset of "
                "its own; see docs/remote-store.md"
            )
        self._isolation = (now, problem)
        if problem:
            raise StoreUnavailable(problem)

    def add(self, nquads: bytes) -> str:
        """Apply one submission in one conditional update (quads, journal record, new state)."""
        try:
            quads = list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
        except SyntaxError as exc:
            raise BadRequest(f"the submission is not valid N-Quads: {exc}") from exc
        if any(isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
            raise Unprocessable("every quad of a submission must be in a named graph")
        graphs = sorted({str(q.graph_name.value) for q in quads})
        with self._write_lock:
            for _attempt in range(WRITE_ATTEMPTS):
                before = self.state(fresh=True)
                if before is None or before.state != "ready":
                    raise StoreUnavailable(
                        "the remote store is not ready (never built, or a build is running); "
                        "retry after `exmech build` finishes"
                    )
                after_hash = rdf.chain(before.dataset_hash, nquads)
                record = f"urn:exmech:journal:{after_hash}"
                self.server.update(submission(before.dataset_hash, record, quads, graphs, nquads))
                if self.server.ask(f"ASK {{ GRAPH <{JOURNAL}> {{ <{record}> <{ST}seq> ?n }} }}"):
                    self._forget()
                    return self.generation
            raise StoreUnavailable("other writers kept changing the remote store; retry shortly")

    def _forget(self) -> None:
        with self._lock:
            self._state = None

    def close(self) -> None:
        self._state = None
        self._members = None
        self._isolation = None

    def rebuild(
        self,
        batches: Iterable[Iterable[ox.Quad]],
        files_hash: str,
        graphs: Iterable[str],
        gsp_threshold: int = bulk.GSP_THRESHOLD,
    ) -> tuple[int, int, str]:
        """Replace exmech's graphs on the server: (quads, journal records, dataset hash).

        Marks the state ``building`` (answers cached meanwhile can never be served later),
        empties every graph exmech owned, records the graphs it is about to load, loads the
        batches (one a file), replays the journal kept on the server, then records the new
        state. Running it twice leaves the same data; a build stopped halfway leaves every
        graph it wrote recorded, so the next one empties it.
        """
        build_id = secrets.token_hex(6)
        journal = self.journal()
        write_state(self.server, "building", build_id, 0, "", graphs=())
        self._forget()
        # Only graphs exmech recorded can hold its data: each build and submission records
        # its graphs before writing them, and a foreign graph of the same name would fail
        # the isolation check. So a first build empties nothing.
        bookkeeping.empty_all(self.server)
        submissions = [list(ox.parse(payload, format=ox.RdfFormat.N_QUADS)) for payload in journal]
        recorded = set(graphs) | {q.graph_name.value for quads in submissions for q in quads}
        bookkeeping.record(self.server, recorded)
        loaded: set[str] = set()
        for batch in batches:
            loaded |= bulk.load(self.server, batch, gsp_threshold)
        dataset_hash = files_hash
        for payload, quads in zip(journal, submissions, strict=True):
            loaded |= bulk.load(self.server, quads, 0)
            dataset_hash = rdf.chain(dataset_hash, payload)
        write_state(self.server, "ready", build_id, len(journal), dataset_hash, loaded - recorded)
        self._forget()
        self._members = None
        self._isolation = None
        self.check_isolation()
        return self.quad_count(), len(journal), dataset_hash

    def quad_count(self) -> int:
        """Quads in exmech's graphs (what the embedded store's len() counts)."""
        results = self.execute(
            Query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", "SELECT")
        )
        count = results.rows[0][0]
        return int(count.value) if count is not None and not isinstance(count, ox.Triple) else 0

    def journal(self) -> list[bytes]:
        """Every submission accepted so far, oldest first."""
        return bookkeeping.journal(self.server)
