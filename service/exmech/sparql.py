"""The SPARQL 1.1 Protocol query operation at /sparql, and its Service Description.

Plain functions first (they take values, never ``request``); the blueprint below the HTTP
marker decodes the protocol, calls them and builds the response.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request

from exmech import formats, policy
from exmech.errors import BadRequest, Forbidden, NotAcceptable, UnsupportedMediaType
from exmech.querytext import analyse, with_row_cap
from exmech.settings import Settings
from exmech.store import Answer, Query
from exmech.store.cache import AnswerCache
from exmech.vocab import EXM

CORS_EXPOSE = "Exmech-Rows, Exmech-Truncated, Exmech-Generation, Exmech-Cache, Exmech-Dataset"
FORMAT_IRIS = {
    "json": "http://www.w3.org/ns/formats/SPARQL_Results_JSON",
    "xml": "http://www.w3.org/ns/formats/SPARQL_Results_XML",
    "csv": "http://www.w3.org/ns/formats/SPARQL_Results_CSV",
    "tsv": "http://www.w3.org/ns/formats/SPARQL_Results_TSV",
    "turtle": "http://www.w3.org/ns/formats/Turtle",
    "ntriples": "http://www.w3.org/ns/formats/N-Triples",
    "rdfxml": "http://www.w3.org/ns/formats/RDF_XML",
    "jsonld": "http://www.w3.org/ns/formats/JSON-LD",
    "trig": "http://www.w3.org/ns/formats/TriG",
    "nquads": "http://www.w3.org/ns/formats/N-Quads",
}


@dataclass(frozen=True)
class ProtocolRequest:
    """A query operation decoded from any of the three protocol shapes."""

    query: str
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()


def run(
    cache: AnswerCache,
    settings: Settings,
    graphs: frozenset[str],
    operation: ProtocolRequest,
    accept: str | None,
    format_param: str | None,
) -> tuple[Answer, formats.Format]:
    """Check, negotiate and run one query operation."""
    policy.check_size(operation.query, settings.max_query_bytes)
    info = analyse(operation.query)
    policy.check_query(
        info, settings.service_allowlist, graphs, operation.default_graphs, operation.named_graphs
    )
    offers = formats.offers_for(info.form)
    chosen = formats.negotiate(accept, format_param, offers)
    if chosen is None:
        asked = f"format={format_param}" if format_param else f"Accept: {accept}"
        raise NotAcceptable(
            f"cannot answer a {info.form or 'SELECT'} query as {asked}; available: "
            + ", ".join(o.media_type for o in offers)
        )
    answer = cache.query(
        Query(
            text=operation.query,
            form=info.form or "SELECT",
            media_type=chosen.media_type,
            capped_text=with_row_cap(info, settings.max_rows + 1),
            default_graphs=operation.default_graphs,
            named_graphs=operation.named_graphs,
            max_rows=settings.max_rows,
        )
    )
    return answer, chosen


def service_description(endpoint: str, settings: Settings, void_iri: str) -> str:
    """The SPARQL 1.1 Service Description of this endpoint, with its limits, as Turtle."""
    result_formats = " , ".join(f"<{iri}>" for iri in FORMAT_IRIS.values())
    return f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix void: <http://rdfs.org/ns/void#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix exm: <{EXM}> .

<{endpoint}> a sd:Service ;
    dcterms:title "exmech SPARQL endpoint" ;
    dcterms:description "Read-only SPARQL 1.1 endpoint over the exmech knowledge graph: why exercise helps chronic low back pain, with the evidence behind every claim." ;
    sd:endpoint <{endpoint}> ;
    sd:supportedLanguage sd:SPARQL11Query ;
    sd:feature sd:UnionDefaultGraph , sd:BasicFederatedQuery ;
    sd:resultFormat {result_formats} ;
    sd:defaultDataset <{void_iri}> ;
    exm:queryTimeoutSeconds "{settings.query_timeout:g}"^^xsd:decimal ;
    exm:maxResultRows {settings.max_rows} ;
    exm:maxQueryBytes {settings.max_query_bytes} ;
    exm:serviceAllowlist "{", ".join(settings.service_allowlist) or "(empty: SERVICE makes no outbound requests)"}" .

<{void_iri}> a sd:Dataset , void:Dataset ;
    sd:defaultGraph [ a sd:Graph ; dcterms:description "The union of all named graphs." ] .
"""


def as_format(turtle: str, fmt: formats.Format) -> bytes:
    if fmt is formats.TURTLE:
        return turtle.encode("utf-8")
    quads = ox.parse(turtle.encode("utf-8"), format=ox.RdfFormat.TURTLE)
    target = ox.RdfFormat.from_media_type(fmt.media_type) or ox.RdfFormat.TURTLE
    return ox.serialize(quads, format=target) or b""


# HTTP ----------------------------------------------------------------------------------

bp = Blueprint("sparql", __name__)


def _many(source: dict[str, list[str]] | None, name: str) -> tuple[str, ...]:
    return tuple(source.get(name, [])) if source else ()


def decode(max_bytes: int) -> ProtocolRequest | None:
    """The protocol operation in this request, or None when there is no query (SD)."""
    args = request.args.to_dict(flat=False)
    if "update" in args:
        raise Forbidden("SPARQL Update is not accepted on this read-only endpoint")
    if request.method == "GET":
        queries = args.get("query", [])
        if not queries:
            return None
        if len(queries) > 1:
            raise BadRequest("give exactly one query parameter")
        return ProtocolRequest(
            queries[0], _many(args, "default-graph-uri"), _many(args, "named-graph-uri")
        )
    if request.content_length is not None and request.content_length > max_bytes:
        policy.check_size("x" * (max_bytes + 1), max_bytes)
    kind = formats.media_type_of(request.content_type)
    if kind == "application/x-www-form-urlencoded":
        form = request.form.to_dict(flat=False)
        if "update" in form:
            raise Forbidden(
                "SPARQL Update is not accepted on this read-only endpoint; curators submit "
                "evidence through POST /curation/submissions"
            )
        queries = form.get("query", [])
        if len(queries) != 1 or "query" in args:
            raise BadRequest("give exactly one query: a 'query' field in the form body")
        return ProtocolRequest(
            queries[0],
            _many(form, "default-graph-uri") + _many(args, "default-graph-uri"),
            _many(form, "named-graph-uri") + _many(args, "named-graph-uri"),
        )
    if kind == "application/sparql-query":
        try:
            text = request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the query body is not UTF-8: {exc}") from exc
        if "query" in args:
            raise BadRequest("give the query once: in the body or in the URL, not both")
        return ProtocolRequest(
            text, _many(args, "default-graph-uri"), _many(args, "named-graph-uri")
        )
    if kind == "application/sparql-update":
        raise Forbidden(
            "SPARQL Update is not accepted on this read-only endpoint; curators submit "
            "evidence through POST /curation/submissions"
        )
    raise UnsupportedMediaType(
        f"cannot read a {kind or 'body without Content-Type'}; POST a query as "
        "application/x-www-form-urlencoded (query=...) or application/sparql-query"
    )


def _headers(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
    response.vary.add("Accept")
    return response


@bp.after_request
def cors(response: Response) -> Response:
    return _headers(response)


@bp.route("/sparql", methods=["OPTIONS"])
def preflight() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    services = current_app.extensions["exmech"]
    settings: Settings = services.settings
    operation = decode(settings.max_query_bytes)
    if operation is None:
        return describe_service()
    answer, chosen = run(
        services.cache,
        settings,
        services.store.graphs(),
        operation,
        request.headers.get("Accept"),
        request.values.get("format"),
    )
    response = Response(answer.body, content_type=chosen.content_type)
    response.headers["Exmech-Rows"] = str(answer.rows)
    response.headers["Exmech-Truncated"] = "true" if answer.truncated else "false"
    response.headers["Exmech-Generation"] = answer.generation
    response.headers["Exmech-Cache"] = "hit" if answer.cached else "miss"
    return response


def describe_service() -> Response:
    services = current_app.extensions["exmech"]
    settings: Settings = services.settings
    offers = (formats.TURTLE, formats.JSONLD, formats.HTML, formats.NTRIPLES, formats.RDFXML)
    accept = request.headers.get("Accept")
    chosen = formats.negotiate(accept, request.args.get("format"), offers)
    if chosen is None:
        raise NotAcceptable(
            "the service description is available as "
            + ", ".join(o.media_type for o in offers)
        )
    endpoint_iri = request.base_url
    void_iri = request.host_url.rstrip("/") + "/.well-known/void"
    turtle = service_description(endpoint_iri, settings, void_iri)
    if chosen is formats.HTML:
        from exmech import queries

        examples = [queries.load(n) for n in queries.names()]
        html = render_template(
            "sparql.html", settings=settings, turtle=turtle, examples=examples
        )
        return Response(html, content_type=formats.HTML.content_type)
    return Response(as_format(turtle, chosen), content_type=chosen.content_type)
