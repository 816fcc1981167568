"""Releases: the ontology, shapes and JSON-LD context carry one version, name the release before
them, and every versioned IRI any release published keeps resolving on a live server, each to
that release's own content (the current one from the store, earlier ones from their frozen
copies under ontology/{version}/)."""

from __future__ import annotations

import json
import re

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from conftest import ROOT, LiveServer
from exmech import vocab
from exmech.linked_data import context, versions
from pyld import jsonld
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, OWL

pytestmark = pytest.mark.live

VERSIONED = re.compile(
    r"https://w3id\.org/exmech/(ontology|shapes)/(\d+\.\d+\.\d+)(/context\.jsonld)?"
)
# Where a versioned IRI may be written down: the graph, the docs, the code and its templates.
WRITTEN = [
    *ROOT.glob("ontology/*.ttl"),
    *ROOT.glob("data/*.t*"),
    *ROOT.glob("docs/*.md"),
    ROOT / "README.md",
    *ROOT.glob("service/exmech/**/*.py"),
    *ROOT.glob("service/exmech/templates/*.html"),
]
HEADS = {"ontology": rdflib.URIRef(vocab.ONTOLOGY), "shapes": rdflib.URIRef(vocab.SHAPES)}


def version_key(v: str) -> tuple[int, ...]:
    return tuple(int(part) for part in v.split("."))


def release_file(version: str, artefact: str) -> rdflib.Graph:
    folder = ROOT / "ontology" if version == versions.CURRENT else ROOT / "ontology" / version
    return rdflib.Graph().parse(folder / versions.FILES[artefact], format="turtle")


def test_releases_are_ordered_and_each_names_the_one_before() -> None:
    assert list(versions.RELEASES) == sorted(versions.RELEASES, key=version_key)
    assert versions.RELEASES[-1] == versions.CURRENT == context.ONTOLOGY_VERSION
    for older, newer in zip(versions.RELEASES, versions.RELEASES[1:], strict=False):
        for artefact, head in HEADS.items():
            graph = release_file(newer, artefact)
            assert graph.value(head, OWL.versionIRI) == rdflib.URIRef(f"{head}/{newer}")
            assert str(graph.value(head, OWL.versionInfo)) == newer
            assert graph.value(head, OWL.priorVersion) == rdflib.URIRef(f"{head}/{older}")
    for version in versions.RELEASES:
        for artefact, head in HEADS.items():
            graph = release_file(version, artefact)
            assert str(graph.value(head, OWL.versionInfo)) == version, (version, artefact)


def test_shipped_nanopublications_conform_to_the_current_shapes() -> None:
    """Every pubinfo in data/ names the shapes it is validated against by the build: the
    current release's (older IRIs only where a release's files are frozen)."""
    data = rdflib.Dataset()
    data.parse(ROOT / "data" / "claims.trig", format="trig")
    named = {o for _, _, o, _ in data.quads((None, DCTERMS.conformsTo, None, None))}
    assert named == {rdflib.URIRef(f"{vocab.SHAPES}/{versions.CURRENT}")}


def written_iris() -> set[str]:
    found = set()
    for path in WRITTEN:
        found |= {m.group(0) for m in VERSIONED.finditer(path.read_text(encoding="utf-8"))}
    return found


def test_every_versioned_iri_written_down_is_a_release() -> None:
    iris = written_iris()
    assert f"{vocab.ONTOLOGY}/0.1.0" in iris and f"{vocab.SHAPES}/0.2.0" in iris
    for iri in iris:
        assert VERSIONED.fullmatch(iri).group(2) in versions.RELEASES, iri  # type: ignore[union-attr]


def every_published_iri() -> list[str]:
    return [
        f"{vocab.BASE}/{path}"
        for version in versions.RELEASES
        for path in (
            f"ontology/{version}",
            f"shapes/{version}",
            f"ontology/{version}/context.jsonld",
        )
    ]


@pytest.mark.parametrize("iri", every_published_iri())
def test_every_release_iri_resolves_to_its_own_release(live_server: LiveServer, iri: str) -> None:
    kind, version, is_context = VERSIONED.fullmatch(iri).groups()  # type: ignore[union-attr]
    url = live_server.url + iri.removeprefix(vocab.BASE)
    if is_context:
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/ld+json"
        body = response.json()["@context"]
        assert body["@vocab"] == vocab.EXM and body["prefLabel"] == vocab.SKOS + "prefLabel"
        return
    response = httpx.get(url, headers={"Accept": "text/turtle"}, timeout=30)
    assert response.status_code == 200, response.text
    served = rdflib.Graph().parse(data=response.text, format="turtle")
    assert str(served.value(HEADS[kind], OWL.versionInfo)) == version
    assert isomorphic(served, release_file(version, kind))
    # The ontology's version IRI is a page for people too.
    if kind == "ontology":
        page = httpx.get(url, headers={"Accept": "text/html"}, timeout=60)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/ontology/0.0.9", "/shapes/9.9.9", "/ontology/1.0/context.jsonld"]
)
def test_an_unknown_release_is_404_naming_the_releases(live_server: LiveServer, path: str) -> None:
    response = httpx.get(live_server.url + path, timeout=30)
    assert response.status_code == 404
    assert f"{versions.CURRENT} (current)" in response.text and "0.1.0" in response.text


def test_documents_of_today_still_read_with_the_0_1_0_context(live_server: LiveServer) -> None:
    """A consumer holding the 0.1.0 context reads a claim compacted today to the same quads."""
    path = "/id/claim/edbee72d3a071e03ea2a"
    doc = httpx.get(live_server.url + path, headers={"Accept": "application/ld+json"}).json()
    old = httpx.get(f"{live_server.url}/ontology/0.1.0/context.jsonld").json()
    doc["@context"] = old["@context"]
    nquads = jsonld.to_rdf(doc, {"format": "application/n-quads"})
    served = httpx.get(live_server.url + path, headers={"Accept": "application/n-quads"}).content
    as_set = lambda text: {str(q) for q in ox.parse(text, format=ox.RdfFormat.N_QUADS)}  # noqa: E731
    assert as_set(nquads.encode()) == as_set(served)
    assert json.dumps(old["@context"], sort_keys=True) != "{}"
