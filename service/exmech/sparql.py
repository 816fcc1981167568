"""The SPARQL 1.1 Protocol query operation at /sparql, and its Service Description.

Plain functions first (they take values, never ``request``); the blueprint below the HTTP
marker reads the request, calls them and builds the response.
"""

from __future__ import annotations

import dataclasses
import io
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, render_template, request

from exmech import formats, policy, queries
from exmech.errors import (
    BadRequest,
    Forbidden,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from exmech.querytext import QueryText, analyse, resolve, with_row_cap
from exmech.settings import Settings
from exmech.store import Answer, Query
from exmech.store.cache import AnswerCache, Replay
from exmech.vocab import EXM, PREFIXES

CORS_EXPOSE = "Exmech-Rows, Exmech-Truncated, Exmech-Generation, Exmech-Cache, Exmech-Dataset"
FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
HOW_TO_POST = (
    f"POST a query as {FORM} (query=...) or as {SPARQL_QUERY}; a query in the URL needs GET"
)
# A graph no store holds: the default graph of a dataset that names only named graphs.
# Store.query reads an empty default_graphs as "the union of all graphs", so an empty
# default graph has to be spelled as a graph that does not exist.
EMPTY_GRAPH = "urn:exmech:empty-default-graph"
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^<>\"{}|^`\\\x00-\x20]*$")
DESCRIPTION = (
    "Read-only SPARQL 1.1 endpoint over the exmech knowledge graph: why exercise helps "
    "chronic low back pain, with the evidence behind every claim."
)
SD_OFFERS = (formats.TURTLE, formats.JSONLD, formats.HTML, formats.NTRIPLES, formats.RDFXML)
# WSGI environ keys of the response cache (``ResponseCache``, below the endpoint):
REPLAY = "exmech.replay"  # the stored answer ``lookup`` found for this request
ANSWER = "exmech.answer"  # the Answer the endpoint sent, which a repeat may replay
_KEYED = "exmech.replay_key"  # (request key, generation) that ``lookup`` read


@dataclass(frozen=True)
class ProtocolRequest:
    """A query operation decoded from any of the three protocol shapes."""

    query: str
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    format_names: tuple[str, ...] = ()  # ?format= values, for browsers and curl


def utf8(data: bytes, what: str) -> str:
    """``data`` decoded as UTF-8 (a leading BOM dropped); raises BadRequest otherwise.

    >>> utf8(b"\\xef\\xbb\\xbfASK {}", "query body")
    'ASK {}'
    """
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the {what} is not UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); "
            "SPARQL queries are sent as UTF-8"
        ) from exc


def parameters(data: bytes, what: str) -> dict[str, list[str]]:
    """Protocol parameters of a query string or form body; percent-escapes must be UTF-8.

    >>> parameters(b"query=ASK%20%7B%7D&default-graph-uri=urn:a", "URL")
    {'query': ['ASK {}'], 'default-graph-uri': ['urn:a']}
    >>> parameters(b"query=%FF", "form body")
    Traceback (most recent call last):
    ...
    exmech.errors.BadRequest: the form body has a parameter that is not UTF-8 once percent-decoded
    """
    text = utf8(data, what)
    try:
        return parse_qs(
            text, keep_blank_values=True, errors="strict", max_num_fields=1000, separator="&"
        )
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the {what} has a parameter that is not UTF-8 once percent-decoded"
        ) from exc
    except ValueError as exc:
        raise BadRequest(f"the {what} has too many parameters: {exc}") from exc


def _operation(queries_given: list[str], *sources: Mapping[str, list[str]]) -> ProtocolRequest:
    if len(queries_given) != 1:
        raise BadRequest(f"give exactly one query parameter, not {len(queries_given)}")

    def gathered(name: str) -> tuple[str, ...]:
        return tuple(value for source in sources for value in source.get(name, []))

    return ProtocolRequest(
        queries_given[0],
        gathered("default-graph-uri"),
        gathered("named-graph-uri"),
        gathered("format"),
    )


def decode(
    method: str, content_type: str | None, url: Mapping[str, list[str]], body: Callable[[], bytes]
) -> ProtocolRequest | None:
    """The protocol operation in one request, or None when it asks for the service description.

    ``url`` holds the query-string parameters; ``body`` reads the request body (called only
    for POST kinds that carry a query). Raises Forbidden for updates, BadRequest for a
    missing, repeated or non-UTF-8 query, UnsupportedMediaType for other bodies.

    >>> decode("GET", None, {"query": ["ASK {}"], "format": ["xml"]}, bytes).format_names
    ('xml',)
    >>> decode("POST", "application/sparql-query", {}, lambda: b"ASK {}").query
    'ASK {}'
    >>> decode("GET", None, {}, bytes) is None
    True
    """
    if "update" in url:
        raise Forbidden(policy.UPDATE_REFUSED)
    if method in ("GET", "HEAD"):
        given = url.get("query", [])
        return _operation(given, url) if given else None
    kind = formats.media_type_of(content_type)
    if kind == FORM:
        form = parameters(body(), "form body")
        if "update" in form:
            raise Forbidden(policy.UPDATE_REFUSED)
        if "query" in url:
            raise BadRequest("give the query once: in the form body, not also in the URL")
        return _operation(form.get("query", []), form, url)
    if kind == SPARQL_QUERY:
        if "query" in url:
            raise BadRequest("give the query once: in the body, not also in the URL")
        return _operation([utf8(body(), "query body")], url)
    if kind == SPARQL_UPDATE:
        raise Forbidden(policy.UPDATE_REFUSED)
    raise UnsupportedMediaType(
        f"cannot read a {kind or 'body without Content-Type'}; {HOW_TO_POST}"
    )


def dataset(
    operation: ProtocolRequest, info: QueryText, base: str | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(default graphs, named graphs) to query: the protocol's parameters, else FROM.

    The protocol's graph parameters override the query's FROM / FROM NAMED (SPARQL 1.1
    Protocol §2.1.4). Relative FROM names resolve against ``base``. A dataset that names
    only named graphs has an empty default graph.

    >>> info = analyse("SELECT * FROM <g> { ?s ?p ?o }")
    >>> dataset(ProtocolRequest("", named_graphs=("urn:n",)), info)
    (('urn:exmech:empty-default-graph',), ('urn:n',))
    >>> dataset(ProtocolRequest(""), info, "https://e.org/sparql")
    (('https://e.org/g',), ())
    """
    default, named = operation.default_graphs, operation.named_graphs
    if not default and not named:
        default = tuple(resolve(g, base) for g in info.from_graphs)
        named = tuple(resolve(g, base) for g in info.from_named)
    if named and not default:
        default = (EMPTY_GRAPH,)
    return default, named


@dataclass(frozen=True)
class Plan:
    """What a checked, negotiated request will ask the store, and the graphs it names."""

    query: Query
    chosen: formats.Format
    requested_graphs: tuple[tuple[str, tuple[str, ...]], ...]


PLAN_CACHE_MAX_QUERY = 8192  # bytes; longer queries are planned afresh (bounded memory)
# Clients send the same few Accept headers with ever new texts, so a new text is negotiated
# from memory too (werkzeug's Accept parsing was about 5% of a cheap miss in the server).
# Keys are bounded: a header field is at most 8190 bytes (server.py).
_negotiate = lru_cache(maxsize=256)(formats.negotiate)


@lru_cache(maxsize=2048)
def plan(
    operation: ProtocolRequest,
    accept: str | None,
    allowlist: tuple[str, ...],
    max_rows: int,
    max_query_bytes: int,
    base_iri: str | None = None,
) -> Plan:
    """Check and negotiate one operation; pure, so repeated requests skip the lexer.

    Relative IRIs in the query resolve against ``base_iri`` (the endpoint's own IRI).
    Raises PayloadTooLarge, BadRequest (empty or malformed query), Forbidden (update,
    SERVICE), NotAcceptable. Graph names are checked against the store by ``run``.
    """
    policy.check_size(operation.query, max_query_bytes)
    info = analyse(operation.query)
    if info.is_empty:
        raise BadRequest(
            "the query is empty (only whitespace or comments); send a SELECT, ASK, "
            "CONSTRUCT or DESCRIBE query"
        )
    policy.check_query(info, allowlist)
    policy.check_shape(info)
    if operation.default_graphs or operation.named_graphs:  # they override FROM: check them
        requested = (
            ("default-graph-uri", operation.default_graphs),
            ("named-graph-uri", operation.named_graphs),
        )
    else:
        requested = (
            ("FROM", tuple(resolve(g, base_iri) for g in info.from_graphs)),
            ("FROM NAMED", tuple(resolve(g, base_iri) for g in info.from_named)),
        )
    offers = formats.offers_for(info.form)
    chosen = _negotiate(accept, operation.format_names, offers)
    if chosen is None:
        asked = (
            "format=" + ",".join(operation.format_names)
            if operation.format_names
            else f"Accept: {accept}"
        )
        raise NotAcceptable(
            f"cannot answer a {info.form or 'SELECT'} query as {asked[:200]}; available: "
            + ", ".join(o.media_type for o in offers)
            + " (or format="
            + "|".join(o.name for o in offers)
            + ")"
        )
    default_graphs, named_graphs = dataset(operation, info, base_iri)
    query = Query(
        text=operation.query,
        form=info.form or "SELECT",
        media_type=chosen.media_type,
        capped_text=with_row_cap(info, max_rows + 1),
        default_graphs=default_graphs,
        named_graphs=named_graphs,
        max_rows=max_rows,
        base_iri=base_iri,
    )
    return Plan(query, chosen, tuple((k, v) for k, v in requested if v))


def run(
    cache: AnswerCache,
    settings: Settings,
    known_graphs: Callable[[Iterable[str]], frozenset[str]],
    operation: ProtocolRequest,
    accept: str | None,
    client: str = "",
) -> tuple[Answer, formats.Format]:
    """Check, negotiate and run one query operation for ``client`` (its address).

    ``known_graphs`` says which of the graphs a request names the store holds. Relative
    IRIs resolve against the endpoint's IRI, ``{EXMECH_BASE_IRI}/sparql``, so
    ``<id/study/wun-2021>`` names a study whatever host the request came through.
    Raises what ``plan`` raises, Forbidden for an unknown graph, and what the store raises
    (QueryTimeout...).
    """
    planner = plan if len(operation.query) <= PLAN_CACHE_MAX_QUERY else plan.__wrapped__
    planned = planner(
        operation,
        accept,
        settings.service_allowlist,
        settings.max_rows,
        settings.max_query_bytes,
        endpoint_iri(settings),
    )
    if planned.requested_graphs:
        named = {k: list(v) for k, v in planned.requested_graphs}
        policy.check_graphs(named, known_graphs(g for names in named.values() for g in names))
    return cache.query(dataclasses.replace(planned.query, client=client)), planned.chosen


def endpoint_iri(settings: Settings) -> str:
    """The endpoint's own IRI, the base of relative IRIs in queries.

    >>> endpoint_iri(Settings())
    'https://w3id.org/exmech/sparql'
    """
    return settings.base_iri.rstrip("/") + "/sparql"


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


def _decimal(value: float) -> str:
    """An xsd:decimal lexical form (never an exponent).

    >>> _decimal(2.0), _decimal(0.00001), _decimal(100.0)
    ('2', '0.00001', '100')
    """
    return format(Decimal(repr(value)).normalize(), "f")


def service_description(endpoint: str, settings: Settings, dataset_iri: str) -> str:
    """The SPARQL 1.1 Service Description of this endpoint, with its limits, as Turtle.

    ``sd:BasicFederatedQuery`` is claimed only when the SERVICE allow-list names an endpoint.
    Raises BadRequest when ``endpoint`` or ``dataset_iri`` (built from the request's Host)
    is not an IRI.

    >>> sd = service_description("http://x/sparql", Settings(), "http://x/.well-known/void")
    >>> "exm:maxResultRows 10000" in sd, "BasicFederatedQuery" in sd
    (True, False)
    """
    for iri in (endpoint, dataset_iri):
        if not _IRI.match(iri):
            raise BadRequest(f"cannot describe the service at {iri!r}: not an IRI (Host header?)")
    features = ["sd:UnionDefaultGraph"]
    if settings.service_allowlist:
        features.append("sd:BasicFederatedQuery")
    result_formats = " ,\n        ".join(
        f"<{fmt.iri}>" for fmt in (*formats.RESULTS, *formats.GRAPHS)
    )
    allowlist = "".join(
        f"\n    exm:serviceAllowlist {_string(prefix)} ;" for prefix in settings.service_allowlist
    )
    return f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix void: <http://rdfs.org/ns/void#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix exm: <{EXM}> .

<{endpoint}> a sd:Service ;
    dcterms:title "exmech SPARQL endpoint" ;
    dcterms:description {_string(DESCRIPTION)} ;
    sd:endpoint <{endpoint}> ;
    sd:supportedLanguage sd:SPARQL11Query ;
    sd:feature {" , ".join(features)} ;
    sd:resultFormat {result_formats} ;
    sd:defaultDataset <{dataset_iri}> ;
    exm:queryTimeoutSeconds "{_decimal(settings.query_timeout)}"^^xsd:decimal ;
    exm:maxResultRows {settings.max_rows} ;{allowlist}
    exm:maxQueryBytes {settings.max_query_bytes} .

<{dataset_iri}> a sd:Dataset , void:Dataset ;
    sd:defaultGraph [ a sd:Graph ; dcterms:description "The union of all named graphs." ] .
"""


# HTTP ----------------------------------------------------------------------------------

bp = Blueprint("sparql", __name__)


def add_protocol_headers(response: Response) -> Response:
    """CORS for any origin (no credentials are involved) and ``Vary: Accept``."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
    response.vary.add("Accept")
    return response


bp.after_request(add_protocol_headers)


@bp.route("/sparql/", methods=["OPTIONS"], endpoint="preflight_slash")
@bp.route("/sparql", methods=["OPTIONS"])
def preflight() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Accept, Content-Type"
    )
    response.headers["Access-Control-Max-Age"] = "86400"
    response.headers["Allow"] = "GET, HEAD, POST, OPTIONS"
    return response


def _read_body(limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (chunked bodies too)."""
    length = request.content_length
    too_large = f"; this endpoint reads at most {limit} (EXMECH_MAX_QUERY_BYTES)"
    if length is not None and length > limit:
        raise PayloadTooLarge(f"request body is {length} bytes{too_large}")
    # Werkzeug stops a chunked body at max_content_length without a word, so read one byte
    # more than allowed to tell "exactly the limit" from "cut at the limit".
    request.max_content_length = limit + 1
    data = request.get_data(cache=False)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body is over {limit} bytes{too_large}")
    return data


@bp.route("/sparql/", methods=["GET", "POST"], endpoint="endpoint_slash")
@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    services = current_app.extensions["exmech"]
    settings: Settings = services.settings
    url = parameters(request.query_string, "URL")
    kind = formats.media_type_of(request.content_type)
    limit = (
        settings.max_query_bytes
        if kind == SPARQL_QUERY
        else policy.max_body_bytes(settings.max_query_bytes)
    )
    operation = decode(request.method, request.content_type, url, lambda: _read_body(limit))
    if operation is None:
        return describe_service(settings, url.get("format", []))
    known = services.store.known_graphs
    answer, chosen = run(
        services.cache,
        settings,
        known,
        operation,
        request.headers.get("Accept"),
        request.remote_addr or "",
    )
    request.environ[ANSWER] = answer  # what ResponseCache may keep for a repeat of this request
    response = Response(answer.body, content_type=chosen.content_type)
    response.headers["Exmech-Rows"] = str(answer.rows)
    response.headers["Exmech-Truncated"] = "true" if answer.truncated else "false"
    response.headers["Exmech-Generation"] = answer.generation
    response.headers["Exmech-Cache"] = "hit" if answer.cached else "miss"
    response.headers["Exmech-Dataset"] = services.store.dataset_hash
    return response


def describe_service(settings: Settings, format_names: list[str]) -> Response:
    """The Service Description as Turtle, JSON-LD, N-Triples, RDF/XML, or a page for people."""
    chosen = formats.negotiate(request.headers.get("Accept"), format_names, SD_OFFERS)
    if chosen is None:
        raise NotAcceptable(
            "the service description is available as "
            + ", ".join(o.media_type for o in SD_OFFERS)
            + " (or format="
            + "|".join(o.name for o in SD_OFFERS)
            + ")"
        )
    turtle = service_description(
        request.base_url, settings, request.host_url.rstrip("/") + "/.well-known/void"
    )
    if chosen is formats.HTML:
        examples = [queries.load(name) for name in queries.names()]
        html = render_template("sparql.html", settings=settings, turtle=turtle, examples=examples)
        return Response(html, content_type=formats.HTML.content_type)
    body = formats.convert(turtle.encode("utf-8"), formats.TURTLE, chosen, PREFIXES)
    return Response(body, content_type=chosen.content_type)


ReplayKey = tuple[str, str, str, bytes, str]  # method, query string, Content-Type, body, Accept


class ResponseCache:
    """WSGI middleware: a repeated /sparql query is answered from stored bytes, before Flask.

    GET with a query string, and POST with a body of known length up to ``max_body`` bytes
    (``application/sparql-query`` or a form): the key is everything of the request that can
    change the bytes: method, query string (query, graph parameters, format), Content-Type,
    body, Accept, and the store generation. The entries are ``replay`` entries of the app's
    one answer cache (store/cache.py): status and headers, and a pointer to the answer entry
    holding the body, so the bytes are kept once. A write moves the generation, so older
    entries are never served again and age out. Only complete 200 answers of the endpoint
    itself, computed within one generation, are kept (the endpoint leaves its ``Answer`` in
    the environ), and they are replayed with every header the app gave them (security
    headers, ``Vary``, CORS), ``Exmech-Cache: hit`` aside; everything else goes through the
    app, where the answer cache still serves repeats and every limit applies. The server
    calls ``lookup`` when it has read a request, to answer a hit on its event-loop thread
    (server.py).
    """

    def __init__(
        self,
        app: Callable[..., Any],
        cache: AnswerCache,
        log: Callable[[str, str, int, float], None] | None,
        max_body: int = PLAN_CACHE_MAX_QUERY,
    ) -> None:
        self.app = app
        self.cache = cache
        self.max_body = max_body
        self.log = log

    def _body(self, environ: dict[str, Any]) -> bytes | None:
        """The request body when it may be a key (read, and put back for the app), else None."""
        method = environ.get("REQUEST_METHOD")
        if method == "GET":
            return b"" if environ.get("QUERY_STRING") else None
        length = environ.get("CONTENT_LENGTH") or ""
        if method != "POST" or not length.isdigit() or int(length) > self.max_body:
            return None  # chunked or large bodies: the app reads them under its limits
        body: bytes = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        return body if len(body) == int(length) else None

    def _key(self, environ: dict[str, Any]) -> ReplayKey | None:
        """The request's key (its body read), or None when it is not one to keep."""
        if self.cache.entries <= 0 or environ.get("PATH_INFO") not in ("/sparql", "/sparql/"):
            return None
        body = self._body(environ)
        if body is None:
            return None
        method = environ["REQUEST_METHOD"]
        return (
            method,
            environ.get("QUERY_STRING", ""),
            environ.get("CONTENT_TYPE", "") if method == "POST" else "",
            body,
            environ.get("HTTP_ACCEPT", ""),
        )

    def lookup(self, environ: dict[str, Any]) -> Replay | None:
        """The stored answer to this request, also left in ``environ[REPLAY]``, or None."""
        if REPLAY in environ:
            return environ[REPLAY]  # type: ignore[no-any-return]
        key = self._key(environ)
        if key is None:
            return None
        generation = self.cache.generation
        environ[_KEYED] = key, generation
        hit = self.cache.replay(key, generation)
        if hit is not None:
            environ[REPLAY] = hit
        return hit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        hit = self.lookup(environ)
        if hit is not None:
            status, headers, answer = hit
            start_response(status, headers)
            if self.log is not None:
                self.log(environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status[:3]), started)
            return [answer]
        keyed: tuple[ReplayKey, str] | None = environ.get(_KEYED)
        if keyed is None:
            return self.app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, *args)

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        sent: Answer | None = environ.get(ANSWER)
        headers = captured.get("headers", [])
        named = {name.lower(): value for name, value in headers}
        if (
            sent is not None
            and captured.get("status", "").startswith("200")
            and named.get("exmech-generation") == sent.generation
            and (body is sent.body or body == sent.body)
        ):
            replay = [(n, "hit" if n.lower() == "exmech-cache" else v) for n, v in headers]
            self.cache.keep_replay(keyed[0], keyed[1], captured["status"], replay, sent)
        return [body]
