"""The linked-data blueprint: routes decode the request, call a plain function, negotiate.

Resources: ``/id/{kind}/{slug}`` is the resource ``{base_iri}/id/{kind}/{slug}``, as HTML
(the default), Turtle, JSON-LD, N-Triples, RDF/XML, TriG or N-Quads, by Accept or
``?format=``, always with ``Vary: Accept`` and ``Link`` headers to every alternate.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
)
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse  # what redirect() gives

from exmech import formats, vocab
from exmech.errors import BadRequest, ExmechError, NotAcceptable, NotFound
from exmech.linked_data import context, dataset, ontology, pages, rdf, versions
from exmech.linked_data.rdf import Description, Statement, describe, select, serialize
from exmech.settings import Settings
from exmech.store.cache import AnswerCache

# HTTP ----------------------------------------------------------------------------------

bp = Blueprint("linked_data", __name__)
bp.add_app_template_filter(rdf.kind, "term_kind")  # uri, bnode, literal, triple

RESOURCE_OFFERS = (
    formats.HTML,
    formats.TURTLE,
    formats.JSONLD,
    formats.NTRIPLES,
    formats.RDFXML,
    formats.TRIG,
    formats.NQUADS,
)
VOID_OFFERS = (formats.TURTLE, formats.JSONLD, formats.NTRIPLES, formats.RDFXML)
SITE_PAGES = ("/", "/evidence-map", "/query", "/ontology", "/download/")
MAX_PATH = 300
LOCAL = "exmech.linked_data"  # key of this blueprint's per-app Local in app.extensions


@dataclass
class Local:
    """What this blueprint keeps for one app (two apps in one process share nothing)."""

    dumps: dataset.Dumps
    ontology: ontology.Pages


@bp.record_once
def _keep(setup: BlueprintSetupState) -> None:
    state_dir = setup.app.extensions["exmech"].settings.state_dir
    setup.app.extensions[LOCAL] = Local(
        dataset.Dumps(state_dir), ontology.Pages(state_dir / "cache")
    )


def _local() -> Local:
    local: Local = current_app.extensions[LOCAL]
    return local


def _services() -> tuple[AnswerCache, Settings]:
    services = current_app.extensions["exmech"]
    return services.cache, services.settings


def _site() -> str:
    """This server's origin, as the client reached it (the base IRI when the Host is unusable)."""
    if not request.host:
        return _services()[1].base_iri
    return request.host_url.rstrip("/")


def _choose(offers: tuple[formats.Format, ...]) -> formats.Format:
    chosen = formats.negotiate(request.headers.get("Accept"), request.args.get("format"), offers)
    if chosen is None:
        asked = request.args.get("format") or request.headers.get("Accept", "")
        raise NotAcceptable(
            f"cannot give {request.path} as {asked[:100]}; available: "
            + ", ".join(f"{o.media_type} (format={o.name})" for o in offers)
        )
    return chosen


def _alternates(response: Response, offers: tuple[formats.Format, ...]) -> Response:
    path = quote(request.path)
    response.headers["Link"] = ", ".join(
        f'<{path}?format={o.name}>; rel="alternate"; type="{o.media_type}"' for o in offers
    )
    response.vary.add("Accept")
    return response


def _jsonld_script(statements: list[Statement] | tuple[Statement, ...]) -> Markup:
    """JSON-LD safe to place inside <script>: '<', '>' and '&' are escaped as JSON allows."""
    text = serialize(statements, formats.JSONLD).decode("utf-8")
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above; JSON inside a script element


def _page_jsonld(data: dict[str, Any]) -> Markup:
    text = json.dumps(data, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


def _html(template: str, status: int = 200, **context: Any) -> Response:
    cache, settings = _services()
    context.setdefault("link", pages.Linker(settings.base_iri))
    body = render_template(template, settings=settings, **context)
    response = Response(body, status=status, content_type=formats.HTML.content_type)
    response.vary.add("Accept")
    return response


def error_page(error: ExmechError) -> Response:
    """The styled error page (any 4xx/5xx a browser sees), with ways back."""
    return _html("error.html", status=error.status, error=error, title=f"{error.status}")


@bp.get("/")
def home() -> Response:
    cache, settings = _services()
    context = pages.home(cache)
    site = _site()
    data = {
        "@context": {"@vocab": "https://schema.org/"},
        "@type": "Dataset",
        "@id": f"{site}/.well-known/void",
        "name": "exmech",
        "description": "Why does exercise help chronic low back pain? A knowledge graph of "
        "nanopublication claims with their evidence.",
        "license": dataset.LICENSE,
        "url": f"{site}/",
        "distribution": [
            {
                "@type": "DataDownload",
                "contentUrl": f"{site}/download/{name}",
                "encodingFormat": fmt.media_type,
            }
            for name, fmt in dataset.DUMPS
        ],
    }
    return _html("home.html", title="exmech", jsonld=_page_jsonld(data), **context)


@bp.get("/id")
@bp.get("/id/")
def id_index() -> Response:
    raise NotFound("no resource here: resource IRIs look like /id/mechanism/motor-control")


@bp.get("/id/<path:rest>")
def resource(rest: str) -> Response | WerkzeugResponse:
    cache, settings = _services()
    kind, _, slug = rest.partition("/")
    if len(rest) > MAX_PATH:
        raise NotFound(f"no resource /id/{rest[:60]}…: the path is too long")
    try:
        iri = vocab.iri(kind, slug, settings.base_iri)
    except ValueError:
        raise NotFound(
            f"no resource /id/{rest[:100]}: {', '.join(vocab.KINDS)} are the kinds, "
            "slugs are lower-case letters, digits and hyphens"
        ) from None
    chosen = _choose(RESOURCE_OFFERS)
    description = describe(cache, iri, graph=kind == "graph")
    if not description.statements:
        moved = replaced_claim_path(cache, kind, slug, settings.base_iri)
        if moved is not None:
            query = request.query_string.decode("latin-1")
            return redirect(moved + (f"?{query}" if query else ""), code=301)
        raise NotFound(f"no {kind} {slug!r} in the graph")
    if chosen is formats.HTML:
        response = _resource_html(cache, settings, kind, description)
    elif chosen is formats.JSONLD:
        response = _jsonld_response(description.statements, settings.base_iri)
    else:
        response = Response(
            serialize(description.statements, chosen), content_type=chosen.content_type
        )
    return _alternates(response, RESOURCE_OFFERS)


def replaced_claim_path(cache: AnswerCache, kind: str, slug: str, base: str) -> str | None:
    """Where a former claim IRI, or one of its four graphs, lives now (``/id/...`` on this
    server), from the ``dcterms:replaces`` table in data/claim-iris.ttl; None if nowhere."""
    claim_slug, part = slug, ""
    if kind == "graph":
        claim_slug, _, part = slug.partition("-")
        if part not in vocab.GRAPH_PARTS:
            return None
    elif kind != "claim":
        return None
    former = ox.NamedNode(vocab.iri("claim", claim_slug, base))
    rows = select(cache, "claim-replacement", {"former": former})
    if not rows:
        return None
    current = rows[0]["current"].value.rsplit("/", 1)[-1]
    return f"/id/graph/{current}-{part}" if part else f"/id/claim/{current}"


def _wants_expanded() -> bool:
    """``?profile=expanded``, or the JSON-LD expanded profile named in Accept."""
    return formats.wants_expanded(request.headers.get("Accept"), request.args.get("profile"))


def _jsonld_response(statements: list[Statement] | tuple[Statement, ...], base: str) -> Response:
    """Compacted JSON-LD with the published context, or expanded when asked for."""
    nquads = serialize(statements, formats.NQUADS).decode("utf-8")
    if _wants_expanded():
        body: Any = context.expanded(nquads)
        profile = context.EXPANDED_PROFILE
    else:
        body, profile = context.compacted(nquads, base), context.COMPACTED_PROFILE
    response = Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        content_type=f'{formats.JSONLD.media_type}; profile="{profile}"',
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/ontology/context.jsonld")
@bp.get("/ontology/<version>/context.jsonld")
def jsonld_context(version: str = context.ONTOLOGY_VERSION) -> Response:
    """The published JSON-LD context of a release: the current one as context.py writes it,
    an earlier one from its frozen copy (ontology/{version}/context.jsonld)."""
    if versions.release(version) == versions.CURRENT:
        body = context.document()
    else:
        body = versions.frozen(_services()[1].root, version, "context")
    response = Response(body, content_type=formats.JSONLD.content_type)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _resource_html(cache: AnswerCache, settings: Settings, kind: str, d: Description) -> Response:
    context = pages.resource(cache, kind, d, settings.base_iri)
    return _html(
        f"{kind}.html",
        jsonld=_jsonld_script(d.statements),
        alternates=RESOURCE_OFFERS[1:],
        **context,
    )


def _graph_turtle(cache: AnswerCache, settings: Settings, name: str) -> str:
    graph = ox.NamedNode(vocab.iri("graph", name, settings.base_iri))
    rows = select(cache, "page-graph-content", {"graph": graph})
    statements = [Statement("", r["s"], r["p"], r["o"]) for r in rows]
    if not statements:
        raise NotFound(f"the {name} graph is not loaded")
    return serialize(statements, formats.TURTLE).decode("utf-8")


def _release_turtle(version: str | None, artefact: str) -> str:
    """The ontology or shapes of a release: the current one from the store (its graph), an
    earlier one from its frozen copy."""
    cache, settings = _services()
    if version is None or versions.release(version) == versions.CURRENT:
        return _graph_turtle(cache, settings, artefact)
    return versions.frozen(settings.root, version, artefact).decode("utf-8")


@bp.get("/ontology")
@bp.get("/ontology/<version>")
def ontology_document(version: str | None = None) -> Response:
    """The ontology (``/ontology``, or ``/ontology/{release}`` for its version IRI)."""
    turtle = _release_turtle(version, "ontology")
    chosen = _choose(RESOURCE_OFFERS[:5])
    if chosen is formats.HTML:
        page = _local().ontology.get(turtle)
        response = Response(page, content_type=formats.HTML.content_type)
    else:
        response = Response(rdf.convert(turtle, chosen), content_type=chosen.content_type)
    return _alternates(response, RESOURCE_OFFERS[:5])


@bp.get("/shapes")
@bp.get("/shapes/<version>")
def shapes_document(version: str | None = None) -> Response:
    """The SHACL shapes (``/shapes``, or ``/shapes/{release}``: what dcterms:conformsTo names)."""
    turtle = _release_turtle(version, "shapes")
    chosen = _choose(RESOURCE_OFFERS[1:5])
    response = Response(rdf.convert(turtle, chosen), content_type=chosen.content_type)
    return _alternates(response, RESOURCE_OFFERS[1:5])


@bp.get("/evidence-map")
def evidence_map() -> Response:
    cache, settings = _services()
    context = pages.evidence_map(cache, settings.base_iri)
    data = {
        "@context": {"@vocab": "https://schema.org/"},
        "@type": "WebPage",
        "name": "exmech evidence map",
        "description": "Exercise types × mechanisms: distinct supporting studies per cell.",
        "isPartOf": {"@id": f"{_site()}/.well-known/void"},
    }
    return _html("evidence-map.html", title="Evidence map", jsonld=_page_jsonld(data), **context)


@bp.get("/search")
def search() -> Response:
    cache, settings = _services()
    text = request.args.get("q", "")
    if len(text) > pages.MAX_SEARCH:
        raise BadRequest(f"search text is limited to {pages.MAX_SEARCH} characters")
    results = pages.search(cache, text, settings.base_iri)
    data = {
        "@context": {"@vocab": "https://schema.org/"},
        "@type": "SearchResultsPage",
        "name": f"exmech search: {text}",
        "mainEntity": {
            "@type": "ItemList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": i + 1,
                    "item": {"@id": r["resource"], "name": r["label"]},
                }
                for i, r in enumerate(results)
            ],
        },
    }
    return _html(
        "search.html",
        title=f"Search: {text}" if text else "Search",
        q=text,
        results=results,
        jsonld=_page_jsonld(data),
    )


@bp.get("/query")
def query_page() -> Response:
    cache, settings = _services()
    examples = pages.query_examples()
    editor = {
        **pages.query_editor(cache, settings.base_iri),
        "endpoint": "/sparql",
        "examples": examples,
    }
    data = {
        "@context": {"@vocab": "https://schema.org/"},
        "@type": "WebPage",
        "name": "exmech query editor",
        "potentialAction": {"@type": "SearchAction", "target": f"{_site()}/sparql?query={{query}}"},
    }
    return _html(
        "query.html",
        title="Query",
        examples=examples,
        editor_json=_page_jsonld(editor),
        jsonld=_page_jsonld(data),
    )


@bp.get("/download")
@bp.get("/download/")
def downloads() -> Response:
    cache, settings = _services()
    files = _local().dumps.files(cache)
    site = _site()
    data = {
        "@context": {"@vocab": "https://schema.org/"},
        "@type": "Dataset",
        "@id": f"{site}/.well-known/void",
        "name": "exmech",
        "license": dataset.LICENSE,
        "distribution": [
            {
                "@type": "DataDownload",
                "contentUrl": f"{site}/download/{d.name}",
                "encodingFormat": d.media_type,
                "contentSize": str(d.size),
                "sha256": d.sha256,
            }
            for d in files
        ],
    }
    return _html("download.html", title="Download", files=files, jsonld=_page_jsonld(data))


@bp.get("/download/<name>")
def download(name: str) -> Response:
    cache, settings = _services()
    files = {d.name: d for d in _local().dumps.files(cache)}
    dump = files.get(name)
    if dump is None:
        raise NotFound(f"no download {name[:100]!r}; available: {', '.join(files)}")
    path = dataset.dump_folder(settings.state_dir, cache.store.generation) / name
    response = send_file(
        path,
        mimetype=dump.media_type,
        etag=dump.sha256,
        conditional=True,
        download_name=name,
        max_age=0,
    )
    digest = base64.b64encode(bytes.fromhex(dump.sha256)).decode()
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    return response


@bp.get("/.well-known/void")
def void() -> Response:
    cache, settings = _services()
    chosen = _choose(VOID_OFFERS)
    site = _site()
    statements = dataset.void_statements(
        cache,
        f"{site}/.well-known/void",
        site,
        settings.base_iri,
        _local().dumps.files(cache),
    )
    response = Response(dataset.void_body(statements, chosen), content_type=chosen.content_type)
    return _alternates(response, VOID_OFFERS)


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    cache, settings = _services()
    body = dataset.sitemap(cache, _site(), settings.base_iri, SITE_PAGES)
    return Response(body, content_type="application/xml; charset=utf-8")
