"""The remote store: an external SPARQL 1.1 server behind the same Store protocol.

For users who outgrow one machine. Reads go to the query endpoint, writes to the update
endpoint (and, in builds, big graphs to the Graph Store Protocol endpoint), all through
SPARQLWrapper over urllib with exmech's own opener (SPARQLWrapper's digest support installs
a process-global opener, which would be shared by every thread). Virtuoso 7 is the server
tested; every engine difference is handled in this module and nowhere else:

* Results are always fetched as SPARQL JSON (SELECT, ASK) or N-Triples (CONSTRUCT,
  DESCRIBE) and re-serialized by pyoxigraph into the format asked for, so clients get the
  bytes the embedded store would give (Virtuoso's TSV is really quoted CSV, its JSON says
  ``typed-literal``, its ASK comes back as a one-row SELECT, its blank node labels are
  ``nodeID://...``).
* Virtuoso's default graph is the union of every graph, its own system graphs included.
  Scoping each query does not work there (its ``input:*-graph-exclude`` pragmas make
  ``GRAPH <iri>`` patterns return wrong rows; exmech's ~1,000 graphs as ``default-graph-uri``
  make it echo a header per graph, past urllib's limit of 100; FROM lists are 30x slower), so
  the server keeps every other graph private (docs/remote-store.md) and exmech checks, once
  per process and after each build, that the query endpoint shows its graphs only. Its own
  bookkeeping is private too, read through the authenticated endpoint.
* Virtuoso answers a query that ran out of time with whatever it had ("anytime" results,
  HTTP 200 with ``X-SQL-State: S1TAT``); that becomes QueryTimeout, never an answer. A
  result cut by the server's ``ResultSetMaxRows`` carries ``X-SPARQL-MaxRows``: truncated.
* Virtuoso runs its own SQL functions from SPARQL (``bif:http_get`` fetches any URL as the
  anonymous user) and its sponger from pragmas (``DEFINE get:soft``, ``OPTION (get:...)``):
  queries using them are refused before they are sent, whatever the policy allows.
* Virtuoso refuses blank nodes in INSERT DATA and compiles INSERT templates into SQL of at
  most 10,000 lines (about 1,000 triples): data without blank nodes goes in INSERT DATA
  chunks, blank-node data in templates of whole blank-node components.

What exmech keeps on the server besides the data (private on Virtuoso)::

    <urn:exmech:store>    state (ready | building), build id, records, dataset hash and
                          one exm-store:graph triple per graph exmech owns
    <urn:exmech:journal>  every accepted submission (its N-Quads), so a rebuild replays them

A submission is one SPARQL Update operation: its quads, its journal record and the new
state, conditional on the dataset hash it was chained from, so it lands whole or not at all
and concurrent writers from several exmech processes cannot interleave.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from SPARQLWrapper import SPARQLWrapper

from exmech.errors import (
    BadRequest,
    ExmechError,
    Forbidden,
    QueryTimeout,
    StoreUnavailable,
    Unprocessable,
)
from exmech.querytext import decode_escapes, tokenize
from exmech.settings import Settings
from exmech.store import Answer, Binding, Query
from exmech.store.results import cap_rows

META = "urn:exmech:store"
JOURNAL = "urn:exmech:journal"
ST = "urn:exmech:store#"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
_BOOLEANS = {"0": "false", "1": "true"}

COUNT_GRAPHS = "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
# Bookkeeping reads, paged by _pages: AFTER becomes the filter that starts the next page.
BIG_GRAPHS = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } AFTER } GROUP BY ?g HAVING (COUNT(*) > SIZE)"
LIST_GRAPHS = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } AFTER } GROUP BY ?g"
MEMBERS = f"SELECT ?g WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}graph> ?g }} AFTER }}"
JOURNAL_RECORDS = (
    f"SELECT ?seq ?nquads WHERE {{ GRAPH <{JOURNAL}> {{ ?r <{ST}seq> ?seq ; "
    f"<{ST}nquads> ?nquads }} AFTER }}"
)

GENERATION_TTL = 1.0  # seconds a read of the server's state is trusted (other writers)
ISOLATION_RETRY = 30.0  # seconds before a failed isolation check is tried again
VIRTUOSO_GRAPH_PARAMS = 80  # Virtuoso echoes each graph parameter as a header; urllib takes 100
UPDATE_TIMEOUT = 300.0  # writes and bulk loads may take longer than a query
PAGE = 10_000  # rows per page of bookkeeping reads (Virtuoso sorts at most 10,000)
DATA_CHUNK = 2000  # quads per INSERT DATA (Virtuoso's parser runs out of memory at ~5,000)
TEMPLATE_CHUNK = 500  # triples per INSERT template (Virtuoso's SQL size limit is ~1,000)
GSP_THRESHOLD = 2000  # graphs this big go through the Graph Store Protocol, when there is one
WRITE_ATTEMPTS = 3

JSON_RESULTS = "application/sparql-results+json"
NTRIPLES = "application/n-triples"
_FUNCTION_NAMESPACES = (
    "http://www.openlinksw.com/schemas/bif#",
    "http://www.openlinksw.com/schemas/sql#",
)
_SQL_PREFIXES = ("bif", "sql")
_ENGINE_WORDS = ("DEFINE", "OPTION")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# Pure helpers ---------------------------------------------------------------------------


def refuse_engine_extensions(text: str) -> None:
    """Refuse Virtuoso pragmas, sponger options and SQL function calls before they are sent.

    On Virtuoso these reach the network (``bif:http_get`` fetches any URL as the anonymous
    user, ``DEFINE get:soft`` and ``OPTION (get:soft ...)`` start the sponger) or the
    server's SQL. Pragmas and the ``bif:``/``sql:`` prefixes are not SPARQL 1.1, so they get
    the 400 a standard engine (the embedded one) gives; naming the function namespaces in
    full is valid SPARQL and gets 403. Both readings of codepoint escapes are checked.

    >>> refuse_engine_extensions("SELECT * { ?s ?p 'DEFINE bif:x' }")
    >>> refuse_engine_extensions("define get:soft 'soft' ASK {}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.BadRequest: Virtuoso pragmas (DEFINE) are not SPARQL 1.1; exmech does not ...
    >>> refuse_engine_extensions("SELECT (bif:http_get('x') AS ?x) {}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exmech.errors.BadRequest: bif:http_get is a Virtuoso SQL function, not SPARQL 1.1; ...
    """
    for reading in {text, decode_escapes(text)}:
        for token in tokenize(reading):
            if token.kind == "word" and token.text.upper() in _ENGINE_WORDS:
                raise BadRequest(
                    f"Virtuoso pragmas ({token.text.upper()}) are not SPARQL 1.1; exmech does "
                    "not send them to its store"
                )
            if token.kind == "pname" and token.text.partition(":")[0].lower() in _SQL_PREFIXES:
                raise BadRequest(
                    f"{token.text} is a Virtuoso SQL function, not SPARQL 1.1; exmech does not "
                    "let queries call the server's functions"
                )
            # Also catches PREFIX b: <...bif#>, so no other prefix can reach them either.
            if token.kind == "iri" and token.text[1:-1].lower().startswith(_FUNCTION_NAMESPACES):
                raise Forbidden(
                    f"{token.text} names functions of the SPARQL server itself, which exmech "
                    "does not let queries call"
                )


def normalise_json(body: bytes) -> bytes:
    """Virtuoso's SPARQL JSON made standard: what the embedded store would have written.

    ``typed-literal`` becomes ``literal`` (xsd:string loses its datatype, as in RDF 1.1),
    booleans its bulk loader stored as 0/1 read true/false again, blank node labels become
    valid labels, a Virtuoso ASK (one row of ``__ASK_RETVAL``) becomes a boolean, and
    non-SPARQL variable names (``callret-0``) valid ones.

    >>> normalise_json(b'{"head":{"vars":["__ASK_RETVAL"]},"results":{"bindings":[{"__ASK_RETVAL":{"type":"typed-literal","datatype":"http://www.w3.org/2001/XMLSchema#integer","value":"1"}}]}}')
    b'{"head":{},"boolean":true}'
    >>> normalise_json(b'{"head":{"vars":["o"]},"results":{"bindings":[{"o":{"type":"typed-literal","datatype":"http://www.w3.org/2001/XMLSchema#string","value":"x"}},{"o":{"type":"bnode","value":"nodeID://b1"}}]}}')
    b'{"head":{"vars":["o"]},"results":{"bindings":[{"o":{"type":"literal","value":"x"}},{"o":{"type":"bnode","value":"nodeID_b1"}}]}}'
    """
    data = json.loads(body)
    variables = data.get("head", {}).get("vars", [])
    if "boolean" not in data and variables == ["__ASK_RETVAL"]:
        rows = data["results"]["bindings"]
        value = rows[0]["__ASK_RETVAL"]["value"] if rows else "0"
        return json.dumps(
            {"head": {}, "boolean": value not in ("0", "false")}, separators=(",", ":")
        ).encode()
    if "results" not in data:
        return body
    names = {v: _variable(v) for v in variables}
    data["head"] = {"vars": list(names.values())}
    data["results"] = {"bindings": [_row(row, names) for row in data["results"]["bindings"]]}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


# Only these make Virtuoso's JSON differ from what pyoxigraph reads as the embedded store
# writes it (pyoxigraph itself reads ``typed-literal`` and xsd:string), so other answers
# skip the Python pass.
_NEEDS_NORMALISING = (b'"bnode"', b"__ASK_RETVAL", b"callret", b"XMLSchema#boolean")


def _variable(name: str) -> str:
    return name if _VARIABLE.fullmatch(name) else re.sub(r"\W", "_", name)


def _row(row: dict[str, dict[str, str]], names: dict[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, term in row.items():
        kind = term.get("type")
        if kind == "typed-literal":
            term = {"type": "literal", "value": term["value"], "datatype": term["datatype"]}
        if kind in ("typed-literal", "literal") and term.get("datatype") == XSD_STRING:
            term = {"type": "literal", "value": term["value"]}
        elif term.get("datatype") == XSD_BOOLEAN and term["value"] in _BOOLEANS:
            term = {**term, "value": _BOOLEANS[term["value"]]}
        elif kind == "bnode":
            term = {"type": "bnode", "value": re.sub(r"[^A-Za-z0-9_]+", "_", term["value"])}
        out[names.get(name, _variable(name))] = term
    return out


def term_text(binding: Binding) -> str:
    """A bound value as SPARQL text, escaped by pyoxigraph (never pasted as given).

    >>> term_text(("iri", "https://w3id.org/exmech/id/theme/mood"))
    '<https://w3id.org/exmech/id/theme/mood>'
    >>> term_text(("literal", 'say "hi"', "", "en"))
    '"say \\\\"hi\\\\""@en'
    """
    try:
        if binding[0] == "iri":
            return str(ox.NamedNode(binding[1]))
        _, value, datatype, lang = binding
        if lang:
            return str(ox.Literal(value, language=lang))
        return str(ox.Literal(value, datatype=ox.NamedNode(datatype) if datatype else None))
    except (ValueError, IndexError) as exc:
        raise BadRequest(f"cannot bind {binding!r}: {exc}") from exc


def with_values(text: str, form: str, substitutions: Iterable[tuple[str, Binding]]) -> str:
    """The query with its variables pre-bound by a VALUES block at the top of its WHERE group.

    SPARQL 1.1 has no protocol parameter for bound values; a VALUES block first in the
    outer group joins before everything else in it, as pyoxigraph's substitutions do.

    >>> with_values("SELECT * WHERE { ?s ?p ?o }", "SELECT", [("s", ("iri", "http://e/a"))])
    'SELECT * WHERE { VALUES (?s) { (<http://e/a>) } ?s ?p ?o }'
    >>> with_values("ASK { ?s ?p ?o }", "ASK", [("o", ("literal", "1", "", ""))])
    'ASK { VALUES (?o) { ("1") } ?s ?p ?o }'
    """
    pairs = list(substitutions)
    if not pairs:
        return text
    for name, _ in pairs:
        if not _VARIABLE.fullmatch(name):
            raise BadRequest(f"cannot bind ?{name}: not a SPARQL variable name")
    tokens = tokenize(text)
    groups = [t for t in tokens if t.depth == 0 and t.text == "{"]
    where = [i for i, t in enumerate(tokens) if t.depth == 0 and t.text.upper() == "WHERE"]
    opener = None
    if where and where[0] + 1 < len(tokens) and tokens[where[0] + 1].text == "{":
        opener = tokens[where[0] + 1]
    elif groups:
        opener = groups[1] if form == "CONSTRUCT" and len(groups) > 1 else groups[0]
    if opener is None:
        raise BadRequest("cannot bind values in a query without a WHERE group")
    variables = " ".join(f"?{name}" for name, _ in pairs)
    values = " ".join(term_text(binding) for _, binding in pairs)
    cut = opener.start + 1
    return f"{text[:cut]} VALUES ({variables}) {{ ({values}) }}{text[cut:]}"


def chain(dataset_hash: str, nquads: bytes) -> str:
    """The dataset hash after one more submission, exactly as the embedded store chains it."""
    return hashlib.sha256((dataset_hash + hashlib.sha256(nquads).hexdigest()).encode()).hexdigest()


def _server_message(body: bytes) -> str:
    """The first line of a server's error body (Virtuoso echoes the whole query after it)."""
    text = body.decode("utf-8", errors="replace").strip()
    line = text.splitlines()[0] if text else "no message"
    return line[:300]


# Talking to the server ------------------------------------------------------------------


class _Wrapper(SPARQLWrapper):
    """SPARQLWrapper building the request; exmech's opener sending it.

    The form is known from exmech's lexer, so SPARQLWrapper's regex guess (and its warnings)
    are skipped; the opener is per request, so digest state is never shared across threads.
    """

    def __init__(
        self, endpoint: str, form: str, opener: urllib.request.OpenerDirector, timeout: float
    ) -> None:
        self._form = form
        self._opener = opener
        self._seconds = timeout  # SPARQLWrapper types its timeout as whole seconds
        super().__init__(endpoint, updateEndpoint=endpoint)

    def _parseQueryType(self, query: str) -> str:  # noqa: N802 - SPARQLWrapper's name
        return self._form

    def _query(self) -> tuple[http.client.HTTPResponse, str]:
        request = self._createRequest()
        return self._opener.open(request, timeout=self._seconds), self.returnFormat


@dataclass(frozen=True)
class _Reply:
    body: bytes
    headers: http.client.HTTPMessage

    def header(self, name: str) -> str:
        return str(self.headers.get(name, "") or "")


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


class RemoteStore:
    """exmech's data on an external SPARQL 1.1 server; see the module docstring."""

    def __init__(self, settings: Settings, build_if_missing: bool = True) -> None:
        self.settings = settings
        self.query_url = settings.remote_query_url
        self.update_url = settings.remote_update_url or settings.remote_query_url
        self.gsp_url = settings.remote_gsp_url
        self.timeout = settings.query_timeout
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._state: tuple[float, State | None] | None = None
        self._members: tuple[str, frozenset[str]] | None = None
        self._isolation: tuple[float, str] | None = None
        self._virtuoso: bool | None = None
        if build_if_missing and self.state() is None:
            from exmech.build import build

            build(settings)

    # state --------------------------------------------------------------------------

    def state(self, fresh: bool = False) -> State | None:
        """The server's exmech state, re-read at most every GENERATION_TTL seconds."""
        with self._lock:
            cached = self._state
            if not fresh and cached is not None and time.monotonic() - cached[0] < GENERATION_TTL:
                return cached[1]
            rows = self._select(
                f"SELECT ?state ?build ?records ?hash WHERE {{ GRAPH <{META}> {{ <{META}> "
                f"<{ST}state> ?state ; <{ST}build> ?build ; <{ST}records> ?records ; "
                f"<{ST}datasetHash> ?hash }} }}"
            )
            found = (
                State(rows[0]["state"], rows[0]["build"], int(rows[0]["records"]), rows[0]["hash"])
                if rows
                else None
            )
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
        """exmech's graphs on the server (as recorded in its meta graph), cached per generation."""
        generation = self.generation
        cached = self._members
        if cached is not None and cached[0] == generation:
            return cached[1]
        members = frozenset(row["g"] for row in self._pages(MEMBERS))
        self._members = (generation, members)
        return members

    # reads --------------------------------------------------------------------------

    def query(self, query: Query) -> Answer:
        """Run one read on the server; same bytes, caps and errors as the embedded store."""
        refuse_engine_extensions(query.text)
        generation = self.generation
        text = query.capped_text or query.text
        try:
            reply = self._read(text, query)
        except BadRequest:
            if text == query.text:
                raise
            reply = self._read(query.text, query)
        server_cut = bool(reply.header("X-SPARQL-MaxRows"))
        if query.form in ("CONSTRUCT", "DESCRIBE"):
            body, media_type, rows, truncated = self._graph_answer(reply, query)
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

    def _read(self, text: str, query: Query) -> _Reply:
        self.check_isolation()
        text = with_values(text, query.form, query.substitutions)
        params = [("default-graph-uri", g) for g in query.default_graphs if g]
        params += [("named-graph-uri", g) for g in query.named_graphs]
        if self.is_virtuoso():
            if len(params) > VIRTUOSO_GRAPH_PARAMS:
                raise BadRequest(
                    f"at most {VIRTUOSO_GRAPH_PARAMS} default-graph-uri and named-graph-uri "
                    "parameters: the SPARQL server (Virtuoso) echoes each one as a header"
                )
            params.append(("timeout", str(max(int(self.timeout * 1000), 1))))  # milliseconds
        rdf = query.form in ("CONSTRUCT", "DESCRIBE")
        accept = f"{NTRIPLES}, text/turtle;q=0.5" if rdf else JSON_RESULTS
        return self._send(self.query_url, query.form, text, accept, params, self.timeout)

    def _results_answer(self, reply: _Reply, query: Query) -> tuple[bytes, str, int, bool]:
        body = reply.body
        if any(marker in body for marker in _NEEDS_NORMALISING):
            body = normalise_json(body)
        try:
            result = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        except SyntaxError as exc:
            raise StoreUnavailable(
                f"the SPARQL server sent results exmech cannot read: {exc}"
            ) from exc
        fmt = ox.QueryResultsFormat.from_media_type(query.media_type) or ox.QueryResultsFormat.JSON
        out = result.serialize(format=fmt) or b""
        if isinstance(result, ox.QueryBoolean):
            return out, fmt.media_type, 1, False
        out, rows, truncated = cap_rows(out, fmt.media_type, query.max_rows)
        return out, fmt.media_type, rows, truncated

    def _graph_answer(self, reply: _Reply, query: Query) -> tuple[bytes, str, int, bool]:
        from exmech.vocab import PREFIXES

        given = ox.RdfFormat.from_media_type(reply.header("Content-Type")) or ox.RdfFormat.N_TRIPLES
        try:
            parsed = ox.parse(reply.body, format=given)
            triples: list[ox.Triple] = []
            truncated = False
            for quad in parsed:
                if query.max_rows is not None and len(triples) >= query.max_rows:
                    truncated = True
                    break
                triples.append(_canonical(quad.triple))
        except SyntaxError as exc:
            raise StoreUnavailable(f"the SPARQL server sent RDF exmech cannot read: {exc}") from exc
        rdf = ox.RdfFormat.from_media_type(query.media_type) or ox.RdfFormat.N_TRIPLES
        body = ox.serialize(triples, format=rdf, prefixes=PREFIXES) or b""
        return body, rdf.media_type, len(triples), truncated

    def is_virtuoso(self) -> bool:
        """Whether the server says it is Virtuoso (learned from its first reply)."""
        if self._virtuoso is None:
            self._send(self.query_url, "ASK", "ASK {}", JSON_RESULTS, [], self.timeout)
        return bool(self._virtuoso)

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
        allowed = self.graphs() | ({META, JOURNAL} if not self.is_virtuoso() else set())
        # Every graph exmech records holds data, so equal counts mean no stranger is visible;
        # the names (for the message) are only listed when the counts differ.
        reply = self._send(self.query_url, "SELECT", COUNT_GRAPHS, JSON_RESULTS, [], UPDATE_TIMEOUT)
        visible = int(json.loads(reply.body)["results"]["bindings"][0]["n"]["value"])
        problem, foreign = "", []
        if visible > len(self.graphs()):
            for row in self._pages(LIST_GRAPHS, self.query_url):
                if row["g"] not in allowed:
                    foreign.append(row["g"])
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

    def _book(self) -> str:
        """Where exmech reads its bookkeeping: Virtuoso keeps it private, behind the login."""
        return self.update_url if self.is_virtuoso() else self.query_url

    # writes -------------------------------------------------------------------------

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
                after_hash = chain(before.dataset_hash, nquads)
                record = f"urn:exmech:journal:{after_hash}"
                self._update(_submission(before.dataset_hash, record, quads, graphs, nquads))
                if self._ask(f"ASK {{ GRAPH <{JOURNAL}> {{ <{record}> <{ST}seq> ?n }} }}"):
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

    # bulk loads (exmech build) ------------------------------------------------------

    def rebuild(
        self,
        batches: Iterable[Iterable[ox.Quad]],
        files_hash: str,
        graphs: Iterable[str],
        gsp_threshold: int = GSP_THRESHOLD,
    ) -> tuple[int, int, str]:
        """Replace exmech's graphs on the server: (quads, journal records, dataset hash).

        Marks the state ``building`` (answers cached meanwhile can never be served later),
        drops every graph exmech owned, loads the batches (one a file),
        replays the journal kept on the server, then records the new state. Running it twice
        leaves the same data.
        """
        build_id = secrets.token_hex(6)
        journal = self.journal()
        previous = self._all_members()
        new = set(graphs)
        self._write_state("building", build_id, 0, "", members=new - previous)
        self._forget()
        # Only graphs exmech recorded can hold its data: each build and submission records
        # its graphs before writing them, and a foreign graph of the same name would fail
        # the isolation check. So a first build drops nothing.
        self._clear(previous)
        loaded: set[str] = set()
        for batch in batches:
            loaded |= self._load(batch, gsp_threshold)
        dataset_hash = files_hash
        for payload in journal:
            loaded |= self._load(ox.parse(payload, format=ox.RdfFormat.N_QUADS), 0)
            dataset_hash = chain(dataset_hash, payload)
        stale = previous - loaded
        for chunk in _batched(sorted(stale), DATA_CHUNK):
            self._update(
                f"DELETE DATA {{ GRAPH <{META}> {{ "
                + " ".join(f"<{META}> <{ST}graph> <{g}> ." for g in chunk)
                + " } }"
            )
        self._write_state("ready", build_id, len(journal), dataset_hash, members=loaded - new)
        self._forget()
        self._members = None
        self._isolation = None
        self.check_isolation()
        return self.quad_count(), len(journal), dataset_hash

    def _clear(self, graphs: set[str]) -> None:
        """Empty these graphs: big ones one DROP each, the many small ones 200 a request.

        Virtuoso takes ~1.5 ms a DROP whatever the size, so a store of a million nanopub
        graphs would take most of an hour; a DELETE over VALUES empties 200 small graphs in
        about as long as one DROP. A big graph stays a DROP, so no one request holds it all.
        """
        if not graphs:
            return
        big = {row["g"] for row in self._pages(BIG_GRAPHS.replace("SIZE", str(DATA_CHUNK)))}
        for chunk in _batched(sorted(graphs & big), 200):
            self._update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in chunk))
        for chunk in _batched(sorted(graphs - big), 200):
            self._update(
                "DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { VALUES ?g { "
                + " ".join(f"<{g}>" for g in chunk)
                + " } GRAPH ?g { ?s ?p ?o } }"
            )

    def quad_count(self) -> int:
        """Quads in exmech's graphs (what the embedded store's len() counts)."""
        answer = self.query(
            Query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", "SELECT", JSON_RESULTS)
        )
        return int(json.loads(answer.body)["results"]["bindings"][0]["n"]["value"])

    def journal(self) -> list[bytes]:
        """Every submission accepted so far, oldest first."""
        rows = self._pages(JOURNAL_RECORDS, key="seq")
        return [row["nquads"].encode("utf-8") for row in sorted(rows, key=lambda r: int(r["seq"]))]

    def _all_members(self) -> set[str]:
        return {row["g"] for row in self._pages(MEMBERS)}

    def _write_state(
        self, state: str, build_id: str, records: int, dataset_hash: str, members: Iterable[str]
    ) -> None:
        for chunk in _batched(sorted(members), DATA_CHUNK):
            self._update(
                f"INSERT DATA {{ GRAPH <{META}> {{ "
                + " ".join(f"<{META}> <{ST}graph> <{g}> ." for g in chunk)
                + " } }"
            )
        self._update(
            f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}state> ?a }} }} ;\n"
            f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}build> ?b }} }} ;\n"
            f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}records> ?c }} }} ;\n"
            f"DELETE WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}datasetHash> ?d }} }} ;\n"
            f"INSERT DATA {{ GRAPH <{META}> {{ <{META}> <{ST}state> {ox.Literal(state)} ; "
            f"<{ST}build> {ox.Literal(build_id)} ; <{ST}records> {records} ; "
            f"<{ST}datasetHash> {ox.Literal(dataset_hash)} }} }}"
        )

    def _load(self, quads: Iterable[ox.Quad], gsp_threshold: int) -> set[str]:
        """Send quads: big graphs by GSP, plain data by INSERT DATA, blank nodes by template."""
        by_graph: dict[str, list[ox.Quad]] = defaultdict(list)
        for quad in quads:
            if not isinstance(quad.graph_name, ox.NamedNode):
                raise BadRequest("the remote store keeps every quad in a named graph")
            by_graph[quad.graph_name.value].append(quad)
        plain: list[ox.Quad] = []
        blank: list[ox.Quad] = []
        for graph, group in by_graph.items():
            if self.gsp_url and gsp_threshold and len(group) >= gsp_threshold:
                self._gsp_post(graph, [q.triple for q in group])
                continue
            for quad in group:
                has_blank = isinstance(quad.subject, ox.BlankNode) or isinstance(
                    quad.object, ox.BlankNode
                )
                (blank if has_blank else plain).append(quad)
        for chunk in _batched(plain, DATA_CHUNK):
            self._update("INSERT DATA { " + _quads_text(chunk) + " }")
        for chunk in _components(blank, TEMPLATE_CHUNK):
            self._update("INSERT { " + _quads_text(chunk) + " } WHERE {}")
        return set(by_graph)

    def _gsp_post(self, graph: str, triples: list[ox.Triple]) -> None:
        url = (
            self.gsp_url
            + ("&" if "?" in self.gsp_url else "?")
            + urllib.parse.urlencode({"graph": graph})
        )
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": NTRIPLES}
        )
        try:
            with self._opener().open(request, timeout=UPDATE_TIMEOUT) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise StoreUnavailable(
                f"the Graph Store endpoint refused graph <{graph}>: HTTP {exc.code} "
                f"{_server_message(exc.read())}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnavailable(
                f"cannot reach the Graph Store endpoint {self.gsp_url}: {exc}"
            ) from exc

    # HTTP ---------------------------------------------------------------------------

    def _opener(self) -> urllib.request.OpenerDirector:
        """A fresh opener: digest handlers keep per-exchange state, so never share one."""
        settings = self.settings
        if not settings.remote_user:
            return urllib.request.build_opener()
        urls = [u for u in (self.query_url, self.update_url, self.gsp_url) if u]
        if settings.remote_auth == "basic":
            prior = urllib.request.HTTPPasswordMgrWithPriorAuth()
            for url in urls:
                prior.add_password(
                    None, url, settings.remote_user, settings.remote_password, is_authenticated=True
                )
            return urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(prior))
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        for url in urls:
            manager.add_password(None, url, settings.remote_user, settings.remote_password)
        return urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(manager))

    def _send(
        self,
        endpoint: str,
        form: str,
        text: str,
        accept: str,
        params: list[tuple[str, str]],
        timeout: float,
    ) -> _Reply:
        """One protocol request; server and network failures become exmech errors."""
        wrapper = _Wrapper(endpoint, form, self._opener(), timeout)
        wrapper.setMethod("POST")
        wrapper.setOnlyConneg(True)
        wrapper.setQuery(text)
        wrapper.addCustomHttpHeader("Accept", accept)
        for name, value in params:
            wrapper.addParameter(name, value)
        try:
            response = wrapper.query().response
            body = response.read()
            headers = response.headers
        except urllib.error.HTTPError as exc:
            self._learn(exc.headers)
            raise _http_error(exc.code, exc.read(), endpoint) from exc
        except TimeoutError as exc:
            raise QueryTimeout(_late(timeout)) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise QueryTimeout(_late(timeout)) from exc
            raise StoreUnavailable(
                f"cannot reach the SPARQL server at {endpoint}: {exc.reason}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnavailable(f"the SPARQL server at {endpoint} failed: {exc}") from exc
        self._learn(headers)
        reply = _Reply(body, headers)
        if reply.header("X-SQL-State").startswith("S1T"):
            raise QueryTimeout(
                f"query stopped after the {timeout:g} s timeout (EXMECH_QUERY_TIMEOUT, or the "
                "server's own MaxQueryExecutionTime); Virtuoso had only a partial answer, which "
                "exmech does not return"
            )
        return reply

    def _learn(self, headers: Any) -> None:
        if self._virtuoso is None and headers is not None:
            self._virtuoso = str(headers.get("Server", "")).startswith("Virtuoso")

    def _update(self, text: str) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                self._send(self.update_url, "INSERT", text, JSON_RESULTS, [], UPDATE_TIMEOUT)
                return
            except StoreUnavailable as exc:
                if "40001" not in exc.message or attempt == WRITE_ATTEMPTS - 1:
                    raise  # only a deadlock between concurrent writers is worth retrying
                time.sleep(0.1 * (attempt + 1))
            except BadRequest as exc:
                raise Unprocessable(f"the SPARQL server refused the update: {exc.message}") from exc

    def _select(self, text: str) -> list[dict[str, str]]:
        """Rows of a bookkeeping SELECT as {variable: value}, uncapped."""
        reply = self._send(self._book(), "SELECT", text, JSON_RESULTS, [], UPDATE_TIMEOUT)
        data = json.loads(reply.body)
        return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]

    def _ask(self, text: str) -> bool:
        reply = self._send(self._book(), "ASK", text, JSON_RESULTS, [], UPDATE_TIMEOUT)
        data = json.loads(normalise_json(reply.body))
        return bool(data.get("boolean"))

    def _pages(
        self, template: str, endpoint: str | None = None, key: str = "g"
    ) -> Iterator[dict[str, str]]:
        """All rows of a bookkeeping SELECT, a page at a time, in ``?key`` order.

        Pages start after the last key seen rather than at an OFFSET: Virtuoso refuses to
        sort past 10,000 rows (MaxSortedTopRows), and servers cap result sizes.
        """
        numeric = key == "seq"
        order = f"?{key}" if numeric else f"STR(?{key})"
        after, size = "", PAGE
        while True:
            text = template.replace("AFTER", after) + f" ORDER BY {order} LIMIT {size}"
            reply = self._send(
                endpoint or self._book(), "SELECT", text, JSON_RESULTS, [], UPDATE_TIMEOUT
            )
            server_cap = reply.header("X-SPARQL-MaxRows")
            if server_cap and int(server_cap) < size:
                size = int(server_cap)  # the server cut this page: ask again in its size
                continue
            rows = [
                {k: v["value"] for k, v in row.items()}
                for row in json.loads(reply.body)["results"]["bindings"]
            ]
            yield from rows
            if len(rows) < size:
                return
            last = rows[-1][key]
            after = (
                f"FILTER (?{key} > {int(last)})"
                if numeric
                else (f"FILTER (STR(?{key}) > {ox.Literal(last)})")
            )


def _late(timeout: float) -> str:
    return (
        f"query stopped after the {timeout:g} s timeout (EXMECH_QUERY_TIMEOUT); narrow it with "
        "more specific patterns or a LIMIT"
    )


def _http_error(code: int, body: bytes, endpoint: str) -> ExmechError:
    message = _server_message(body)
    if code == 400:
        return BadRequest(f"the SPARQL server rejected the query: {message}")
    if code in (401, 403):
        return StoreUnavailable(
            f"the SPARQL server at {endpoint} refused exmech's credentials "
            f"(EXMECH_REMOTE_USER, EXMECH_REMOTE_AUTH): {message}"
        )
    if code == 404:
        return StoreUnavailable(f"no SPARQL endpoint at {endpoint} (HTTP 404)")
    if "40001" in message or "access denied" in message or "permission" in message:
        # a deadlock between writers (retried), or a server set up without the grants
        return StoreUnavailable(f"the SPARQL server refused: {message}")
    if "S1T00" in message or "timed out" in message or "estimated execution time" in message:
        return QueryTimeout(f"the SPARQL server stopped the query: {message}")
    if code == 500 and re.match(r"Virtuoso \w+ Error (S[PQR]\d+|RDF\w+|22\w+)", message):
        # Virtuoso compiled or ran the query and refused it (e.g. SR319 row length).
        return BadRequest(f"the SPARQL server cannot answer this query: {message}")
    return StoreUnavailable(f"the SPARQL server failed (HTTP {code}): {message}")


def _canonical(triple: ox.Triple) -> ox.Triple:
    """The triple with a 0/1 boolean (as Virtuoso's bulk loader stores it) read false/true."""
    value = triple.object
    if isinstance(value, ox.Literal) and value.datatype.value == XSD_BOOLEAN:
        if value.value in _BOOLEANS:
            literal = ox.Literal(_BOOLEANS[value.value], datatype=value.datatype)
            return ox.Triple(triple.subject, triple.predicate, literal)
    return triple


def _quads_text(quads: Iterable[ox.Quad]) -> str:
    by_graph: dict[str, list[str]] = defaultdict(list)
    for quad in quads:
        by_graph[str(quad.graph_name)].append(f"{quad.subject} {quad.predicate} {quad.object} .")
    return " ".join(f"GRAPH {graph} {{ {' '.join(lines)} }}" for graph, lines in by_graph.items())


def _submission(
    before: str, record: str, quads: list[ox.Quad], graphs: list[str], nquads: bytes
) -> str:
    """The one update operation that applies a submission if the state is still ``before``."""
    after = chain(before, nquads)
    members = " ".join(f"<{META}> <{ST}graph> <{g}> ." for g in graphs)
    payload = ox.Literal(nquads.decode("utf-8"))
    return (
        f"DELETE {{ GRAPH <{META}> {{ <{META}> <{ST}records> ?n ; <{ST}datasetHash> ?h }} }}\n"
        f"INSERT {{\n"
        f"  GRAPH <{META}> {{ <{META}> <{ST}records> ?next ; <{ST}datasetHash> "
        f"{ox.Literal(after)} . {members} }}\n"
        f"  GRAPH <{JOURNAL}> {{ <{record}> <{ST}seq> ?next ; <{ST}nquads> {payload} ; "
        f"<{ST}previous> {ox.Literal(before)} }}\n"
        f"  {_quads_text(quads)}\n"
        f"}}\n"
        f"WHERE {{ GRAPH <{META}> {{ <{META}> <{ST}records> ?n ; <{ST}datasetHash> ?h ; "
        f'<{ST}state> "ready" }} FILTER (STR(?h) = {ox.Literal(before)}) '
        f"BIND (?n + 1 AS ?next) }}"
    )


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _components(quads: list[ox.Quad], size: int) -> Iterator[list[ox.Quad]]:
    """Quads packed into chunks of about ``size``, never splitting a blank-node component.

    A blank node is one node only within one INSERT template, so every quad that reaches it
    (through other blank nodes) must travel in the same request.
    """
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def find(node: ox.BlankNode) -> ox.BlankNode:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for quad in quads:
        nodes = [t for t in (quad.subject, quad.object) if isinstance(t, ox.BlankNode)]
        for other in nodes[1:]:
            parent[find(other)] = find(nodes[0])
    groups: dict[ox.BlankNode, list[ox.Quad]] = defaultdict(list)
    for quad in quads:
        node = quad.subject if isinstance(quad.subject, ox.BlankNode) else quad.object
        assert isinstance(node, ox.BlankNode)
        groups[find(node)].append(quad)
    chunk: list[ox.Quad] = []
    for group in groups.values():
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk.extend(group)
    if chunk:
        yield chunk
