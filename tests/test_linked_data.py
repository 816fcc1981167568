"""Linked data and pages: every IRI resolves, as HTML for people and RDF for machines.

In process on the shipped data (one app per module), plus a few requests through a live server
for paths that only a raw HTTP client can send. Expected values are recomputed here from the
data files with rdflib, independently of the store and of the page queries.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
from xml.etree import ElementTree

import pyoxigraph as ox
import pytest
import rdflib
from conftest import ROOT
from exmech import queries, vocab
from exmech.linked_data import context, ontology
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(ConjunctiveGraph|default_context|contexts|identifier).*:DeprecationWarning"
)

ID = "https://w3id.org/exmech/id/"
EXM = rdflib.Namespace(vocab.EXM)
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
CLAIM = "edbee72d3a071e03ea2a"  # Verbrugghe 2020: resistance, aerobic fitness (examined)
OLD_CLAIM = "00258add944d0b45ee0a"  # the same claim as shipped before the evidence recode
MOTOR = "/id/mechanism/motor-control"
PAGES = {
    "theme": "/id/theme/psychosocial",
    "mechanism": MOTOR,
    "exercise": "/id/exercise/yoga",
    "study": "/id/study/aasa-2015",
    "review": "/id/study/wun-2021",
    "claim": f"/id/claim/{CLAIM}",
    "curator": "/id/curator/exmech-import",
    "graph": f"/id/graph/{CLAIM}-assertion",
}
MEDIA = {
    "html": "text/html",
    "turtle": "text/turtle",
    "jsonld": "application/ld+json",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
    "trig": "application/trig",
    "nquads": "application/n-quads",
}
OX_FORMAT = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/trig": ox.RdfFormat.TRIG,
    "application/n-quads": ox.RdfFormat.N_QUADS,
}


@pytest.fixture(scope="module")
def app_settings() -> dict[str, object]:
    return {"max_rows": 100}


@pytest.fixture(scope="module")
def files() -> rdflib.Dataset:
    """Every shipped file, each Turtle file in a graph of its own, the claims in theirs."""
    ds = rdflib.Dataset(default_union=True)
    for path in sorted([*(ROOT / "ontology").glob("*.ttl"), *(ROOT / "data").glob("*.ttl")]):
        ds.graph(rdflib.URIRef(f"file:{path.parent.name}/{path.name}")).parse(path, format="turtle")
    ds.parse(ROOT / "data" / "claims.trig", format="trig")
    return ds


def parsed(response: TestResponse) -> list[ox.Quad]:
    """The response body's quads, read by pyoxigraph.

    Compacted JSON-LD names its context by IRI; the published context is put in its place
    (pyoxigraph fetches nothing).
    """
    fmt = OX_FORMAT[response.mimetype]
    data = response.data
    if fmt == ox.RdfFormat.JSON_LD:
        doc = json.loads(data)
        if isinstance(doc, dict) and isinstance(doc.get("@context"), str):
            doc["@context"] = json.loads(context.document())["@context"]
        data = json.dumps(doc).encode()
    return list(ox.parse(data, format=fmt))


def quads(response: TestResponse) -> set[str]:
    """The response body's quads as N-Quads lines, for comparing sets."""
    return {str(q) for q in parsed(response)}


def subject_triples(ds: rdflib.Dataset, iri: str) -> set[tuple[str, str, str]]:
    return {
        (str(s), str(p), o.n3()) for s, p, o, _ in ds.quads((rdflib.URIRef(iri), None, None, None))
    }


def as_rdflib(response: TestResponse) -> rdflib.Graph:
    return rdflib.Graph().parse(
        data=response.data, format="nt" if "n-triples" in response.mimetype else "turtle"
    )


# --- content negotiation --------------------------------------------------------------------

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "fmt", "expected"),
    [
        (None, None, "text/html"),
        (BROWSER, None, "text/html"),
        ("*/*", None, "text/html"),
        ("text/turtle", None, "text/turtle"),
        ("application/ld+json", None, "application/ld+json"),
        ("application/json", None, "application/ld+json"),
        ("application/n-triples", None, "application/n-triples"),
        ("application/rdf+xml", None, "application/rdf+xml"),
        ("application/trig", None, "application/trig"),
        ("application/n-quads", None, "application/n-quads"),
        ("text/turtle;q=0.5, application/ld+json", None, "application/ld+json"),
        (BROWSER, "ttl", "text/turtle"),
        ("text/turtle", "html", "text/html"),
        (None, "nt", "application/n-triples"),
    ],
)
def test_resources_negotiate_their_format(
    client: FlaskClient, accept: str | None, fmt: str | None, expected: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get(MOTOR + (f"?format={fmt}" if fmt else ""), headers=headers)
    assert response.status_code == 200
    assert response.mimetype == expected
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize(("accept", "fmt"), [("image/png", None), (None, "docx")])
def test_unavailable_formats_are_406(
    client: FlaskClient, accept: str | None, fmt: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get(MOTOR + (f"?format={fmt}" if fmt else ""), headers=headers)
    assert response.status_code == 406
    assert "text/turtle" in response.get_data(as_text=True)


def test_link_header_names_every_alternate_and_each_one_serves_its_type(
    client: FlaskClient,
) -> None:
    response = client.get(MOTOR, headers={"Accept": "text/turtle"})
    links = re.findall(r'<([^>]+)>; rel="alternate"; type="([^"]+)"', response.headers["Link"])
    assert {t for _, t in links} == set(MEDIA.values())
    for target, media_type in links:
        assert target.startswith(MOTOR + "?format=")
        alternate = client.get(target)
        assert (alternate.status_code, alternate.mimetype) == (200, media_type)


def test_turtle_of_a_mechanism_is_exactly_its_triples_in_the_files(
    client: FlaskClient, files: rdflib.Dataset
) -> None:
    response = client.get(MOTOR, headers={"Accept": "text/turtle"})
    served = {(str(s), str(p), o.n3()) for s, p, o in as_rdflib(response)}
    expected = subject_triples(files, ID + "mechanism/motor-control")
    assert served == expected
    assert len(served) == 10


@pytest.mark.parametrize("fmt", ["turtle", "ntriples", "rdfxml", "jsonld", "trig", "nquads"])
def test_every_rdf_format_says_the_same(client: FlaskClient, fmt: str) -> None:
    reference = quads(client.get(PAGES["study"], headers={"Accept": "application/n-triples"}))
    assert quads(client.get(f"{PAGES['study']}?format={fmt}")) == reference


def test_a_claim_carries_its_four_named_graphs_in_trig_nquads_and_jsonld(
    client: FlaskClient,
) -> None:
    names = {f"{ID}graph/{CLAIM}-{part}" for part in ("head", "assertion", "provenance", "pubinfo")}
    # Read with pyoxigraph's parser, not rdflib's, which rewrites dateTime literals.
    in_file = ox.parse(path=ROOT / "data" / "claims.trig", format=ox.RdfFormat.TRIG)
    expected = {str(q) for q in in_file if getattr(q.graph_name, "value", "") in names}
    assert len({q.split(" ")[-1] for q in expected}) == 4
    for fmt in ("trig", "nquads", "jsonld"):
        response = client.get(f"{PAGES['claim']}?format={fmt}")
        named = {str(q) for q in parsed(response) if not isinstance(q.graph_name, ox.DefaultGraph)}
        assert named == expected, fmt
    turtle = as_rdflib(client.get(PAGES["claim"], headers={"Accept": "text/turtle"}))
    assert set(turtle.objects(None, rdflib.URIRef(vocab.NP + "hasAssertion"))) == {
        rdflib.URIRef(f"{ID}graph/{CLAIM}-assertion")
    }


def test_a_named_graph_dereferences_to_its_content(client: FlaskClient) -> None:
    response = client.get(f"{PAGES['graph']}?format=trig")
    served = quads(response)
    assert any(
        "examinedMechanism" in q and q.endswith(f"<{ID}graph/{CLAIM}-assertion>") for q in served
    )


# --- 404s and odd paths ---------------------------------------------------------------------


def test_unknown_resources_are_404_html_for_browsers_and_plain_for_others(
    client: FlaskClient,
) -> None:
    page = client.get("/id/mechanism/no-such-thing")
    assert (page.status_code, page.mimetype) == (404, "text/html")
    assert "no-such-thing" in page.get_data(as_text=True)
    plain = client.get("/id/mechanism/no-such-thing", headers={"Accept": "text/turtle"})
    assert (plain.status_code, plain.mimetype) == (404, "text/plain")
    assert "Accept" in plain.headers["Vary"]


@pytest.mark.parametrize(
    "path",
    [
        "/id",
        "/id/",
        "/id/mechanism",
        "/id/mechanism/",
        "/id/unicorn/motor-control",
        "/id/MECHANISM/motor-control",
        "/id/mechanism/Motor-Control",
        "/id/mechanism/motor-control/",
        "/id/mechanism/motor-control/extra",
        "/id/../etc/passwd",
        "/id/mechanism/../../etc/passwd",
        "/id/mechanism/..%2F..%2Fetc%2Fpasswd",
        "/id/mechanism/motor%2Fcontrol",
        "/id/mechanism/motor%252Fcontrol",
        "/id/mechanism/caf%C3%A9",
        "/id/mechanism/%E2%80%AE%F0%9F%92%A5",
        "/id/mechanism/%00",
        "/id/mechanism/motor-control%0A",
        "/id/mechanism/%3E%20%7D%20DROP%20ALL",
        "/id/mechanism/%22%3E%3Cscript%3E",
        "/id/mechanism/" + "a" * 5000,
        "/id/mechanism/" + "a-" * 2000 + "a",
        "/id/claim/" + "0" * 300,
        "/id/study/wun-2021%23rank-3",
        "/download/..%2F..%2Fmeta.json",
        "/download/../meta.json",
        "/download/manifest.json",
        "/ontology/",
        "/search?q=" + "x" * 500,
    ],
)
def test_odd_paths_are_4xx_never_5xx(client: FlaskClient, path: str) -> None:
    for accept in ("text/html", "text/turtle"):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code in (400, 404, 406), (path, response.status_code)


@pytest.mark.parametrize(
    "text", ["%00%FF", "%22%3E%3Cscript%3E", "%5C", "%27%20OR%201%3D1", "%F0%9F%92%A5"]
)
def test_search_takes_any_text(client: FlaskClient, text: str) -> None:
    response = client.get(f"/search?q={text}")
    assert response.status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("<main>", 1)[1]


@pytest.mark.live
def test_raw_paths_through_a_live_server_are_4xx(live_server) -> None:
    host, port = live_server.url.removeprefix("http://").split(":")
    for path in (
        "/id/../../etc/passwd",
        "/id/mechanism/..%2f..%2fmeta.json",
        "/id/mechanism/%ff%fe",
        "/id/mechanism/" + "a" * 3000,
        "/download/../../CURRENT",
    ):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", path, headers={"Accept": "text/turtle"})
        status = connection.getresponse().status
        connection.close()
        assert 400 <= status < 500, (path, status)
    response = http.client.HTTPConnection(host, int(port), timeout=10)
    response.request("GET", MOTOR, headers={"Accept": "text/turtle"})
    answer = response.getresponse()
    assert answer.status == 200 and b"Motor control" in answer.read()


# --- pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(PAGES))
def test_each_page_embeds_its_own_data_as_jsonld(client: FlaskClient, kind: str) -> None:
    page = client.get(PAGES[kind])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    (embedded,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    parsed = {str(q) for q in ox.parse(embedded.encode(), format=ox.RdfFormat.JSON_LD)}
    assert parsed == quads(client.get(f"{PAGES[kind]}?format=nquads"))
    assert parsed


def test_pages_load_nothing_from_other_hosts(client: FlaskClient) -> None:
    for path in [*PAGES.values(), "/", "/evidence-map", "/query", "/search?q=fear", "/download/"]:
        html = client.get(path).get_data(as_text=True)
        loaded = re.findall(
            r'<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)="([^"]+)"', html
        )
        assert loaded, path
        assert all(u.startswith(("/", "?", "data:")) for u in loaded), (path, loaded)


def test_home_shows_the_five_themes_their_percentages_and_completeness(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "<svg" in html
    for label, percent in [
        ("Neuromuscular", 44),
        ("Psychosocial", 36),
        ("Neurophysiological", 9),
        ("Cardiometabolic", 6),
        ("Tissue healing", 5),
    ]:
        assert re.search(rf">{label}</text>.*?>{percent} %</text>", html, re.S), label
    assert re.search(r"reports <strong>33</strong>.*?<strong>15</strong>", html, re.S)
    assert "<strong>18</strong> are not yet" in html
    assert 'action="/search"' in html


def test_search_finds_mechanisms_exercises_and_studies_by_label(
    client: FlaskClient, files: rdflib.Dataset
) -> None:
    html = client.get("/search?q=YOGA").get_data(as_text=True)
    found = set(re.findall(r'href="(/id/[a-z]+/[a-z0-9-]+)"', html.split("<main>", 1)[1]))
    assert "/id/exercise/yoga" in found
    expected_studies = {
        "/id/study/" + str(s).rsplit("/", 1)[1]
        for s, o in files.subject_objects(rdflib.URIRef(vocab.DCTERMS + "title"))
        if "yoga" in str(o).lower() and str(s).startswith(ID + "study/")
    }
    assert expected_studies and expected_studies <= found
    assert "/id/mechanism/fear-avoidance" in client.get("/search?q=fear").get_data(as_text=True)
    assert client.get("/search?q=").status_code == 200
    assert client.get("/search?q=" + "x" * 201).status_code == 400


def test_mechanism_page_groups_claims_by_exercise_with_studies_and_curators(
    client: FlaskClient,
) -> None:
    html = client.get(MOTOR).get_data(as_text=True)
    assert 'id="exercise-motor-control"' in html
    assert "/id/curator/exmech-import" in html
    assert re.search(r"<strong>\d+</strong> current claims from <strong>\d+</strong> studies", html)


def test_study_page_links_to_doi_org_and_pubmed(client: FlaskClient, files: rdflib.Dataset) -> None:
    iri = rdflib.URIRef(ID + "study/aasa-2015")
    doi = files.value(iri, rdflib.URIRef(vocab.BIBO + "doi"), any=True)
    pmid = files.value(iri, rdflib.URIRef(vocab.BIBO + "pmid"), any=True)
    html = client.get(PAGES["study"]).get_data(as_text=True)
    assert f'href="https://doi.org/{doi}"' in html
    assert f'href="https://pubmed.ncbi.nlm.nih.gov/{pmid}/"' in html


def test_review_page_anchors_its_hash_parts(client: FlaskClient) -> None:
    html = client.get(PAGES["review"]).get_data(as_text=True)
    for n in range(1, 16):
        assert f'id="rank-{n}"' in html
    assert 'id="theme-psychosocial"' in html


def test_claim_page_shows_assertion_provenance_pubinfo_and_history(client: FlaskClient) -> None:
    html = client.get(PAGES["claim"]).get_data(as_text=True)
    for section in ("assertion", "provenance", "pubinfo", "history"):
        assert f'id="{section}"' in html
    assert "/id/study/verbrugghe-2020" in html and "asserts" in html


def test_every_kind_of_resource_resolves(client: FlaskClient, files: rdflib.Dataset) -> None:
    kinds = {kind: 0 for kind in vocab.KINDS}
    for subject in set(files.subjects()):
        split = vocab.split_iri(str(subject))
        if split and "#" not in str(subject) and kinds[split[0]] < 3:
            kinds[split[0]] += 1
            response = client.get(f"/id/{split[0]}/{split[1]}")
            assert response.status_code == 200, subject
    assert all(kinds.values()), kinds


# --- evidence map ----------------------------------------------------------------------------


def test_evidence_map_cells_count_distinct_studies_and_link_to_claims(
    client: FlaskClient, files: rdflib.Dataset
) -> None:
    expected: dict[tuple[str, str], set[str]] = {}
    withdrawn = set(files.objects(None, rdflib.URIRef(vocab.NPX + "retracts")))
    for claim in set(files.subjects(rdflib.RDF.type, EXM.Claim)) - withdrawn:
        slug = str(claim).rsplit("/", 1)[1]
        assertion = files.graph(rdflib.URIRef(f"{ID}graph/{slug}-assertion"))
        provenance = files.graph(rdflib.URIRef(f"{ID}graph/{slug}-provenance"))
        for exercise, _, mechanism in assertion:
            for study in provenance.objects(None, rdflib.URIRef(vocab.PROV + "wasDerivedFrom")):
                key = (str(mechanism).rsplit("/", 1)[1], str(exercise).rsplit("/", 1)[1])
                expected.setdefault(key, set()).add(str(study))
    html = client.get("/evidence-map").get_data(as_text=True)
    cells = re.findall(
        r'<td class="hit[^"]*"[^>]*><a href="/id/mechanism/([a-z0-9-]+)'
        r'#exercise-([a-z0-9-]+)"[^>]*>(\d+)</a>',
        html,
    )
    assert {(m, e): int(n) for m, e, n in cells} == {k: len(v) for k, v in expected.items()}
    mechanism, exercise, _ = cells[0]
    target = client.get(f"/id/mechanism/{mechanism}").get_data(as_text=True)
    assert f'id="exercise-{exercise}"' in target
    themes = re.findall(r'<th scope="rowgroup"[^>]*><a href="/id/theme/([a-z-]+)"', html)
    assert themes[:5] == [
        "neuromuscular",
        "psychosocial",
        "neurophysiological",
        "cardiometabolic",
        "tissue-healing",
    ]


# --- query page ------------------------------------------------------------------------------


def test_query_page_preloads_every_example_and_its_script(client: FlaskClient) -> None:
    html = client.get("/query").get_data(as_text=True)
    for name in queries.names():
        if not name.startswith("page-"):
            assert f'<option value="{name}">' in html
    assert '/static/yasgui/yasgui.min.js"' in html and '/static/query.js"' in html
    for name in ("query.js", "yasgui/yasgui.min.js", "yasgui/yasgui.min.css"):
        assert client.get(f"/static/{name}").status_code == 200, name
    config = re.search(r'<script type="application/json" id="editor-config">(.*?)</script>', html)
    assert config is not None
    editor = json.loads(config.group(1))
    assert editor["endpoint"] == "/sparql"
    assert editor["prefixes"]["exm"] == vocab.EXM
    assert editor["prefixes"]["mechanism"] == ID + "mechanism/"
    assert vocab.EXM + "proposedMechanism" in editor["properties"]
    assert vocab.EXM + "Mechanism" in editor["classes"]
    assert {e["name"] for e in editor["examples"]} == {
        n for n in queries.names() if not n.startswith("page-")
    }


# --- VoID, dumps, sitemap --------------------------------------------------------------------


def test_void_numbers_equal_an_independent_count(
    client: FlaskClient, files: rdflib.Dataset
) -> None:
    response = client.get("/.well-known/void")
    assert response.mimetype == "text/turtle" and "Accept" in response.headers["Vary"]
    void = rdflib.Graph().parse(data=response.data, format="turtle")
    (dataset,) = void.subjects(rdflib.RDF.type, VOID.Dataset)
    assert str(dataset) == "http://localhost/.well-known/void"

    def number(subject: rdflib.term.Node, predicate: rdflib.URIRef) -> int:
        return int(void.value(subject, predicate))  # type: ignore[arg-type]

    triples = {(s, p, o) for s, p, o, _ in files.quads()}
    assert number(dataset, VOID.triples) == len(triples)
    assert number(dataset, VOID.distinctSubjects) == len({s for s, _, _ in triples})
    assert number(dataset, VOID.distinctObjects) == len({o for _, _, o in triples})
    assert number(dataset, VOID.properties) == len({p for _, p, _ in triples})
    classes = {}
    for part in void.objects(dataset, VOID.classPartition):
        classes[void.value(part, VOID["class"])] = number(part, VOID.entities)
    for cls in (
        EXM.Claim,
        EXM.Mechanism,
        EXM.Theme,
        EXM.ExerciseType,
        EXM.RandomisedControlledTrial,
    ):
        assert classes[cls] == len({s for s, p, o in triples if p == rdflib.RDF.type and o == cls})
    assert (
        classes[EXM.Claim] == 279 + 8
    )  # in force, and the withdrawn claims of release 0.1.0 (retracted)
    properties = {}
    for part in void.objects(dataset, VOID.propertyPartition):
        properties[void.value(part, VOID.property)] = number(part, VOID.triples)
    for link in ("proposed", "supported", "unsupported", "examined"):
        predicate = EXM[f"{link}Mechanism"]
        assert properties[predicate] == len({t for t in triples if t[1] == predicate})
    assert sum(properties.values()) == len(triples)
    assert void.value(dataset, VOID.sparqlEndpoint) == rdflib.URIRef("http://localhost/sparql")
    assert void.value(dataset, rdflib.URIRef(vocab.DCTERMS + "license")) == rdflib.URIRef(
        "https://creativecommons.org/licenses/by/4.0/"
    )
    dumps = sorted(str(d) for d in void.objects(dataset, VOID.dataDump))
    assert dumps == [f"http://localhost/download/exmech.{x}" for x in ("jsonld", "nq", "trig")]
    for dump in void.objects(dataset, VOID.dataDump):
        body = client.get(str(dump).removeprefix("http://localhost")).data
        checksum = void.value(dump, SPDX.checksum)
        assert str(void.value(checksum, SPDX.checksumValue)) == hashlib.sha256(body).hexdigest()
        assert number(dump, DCAT.byteSize) == len(body)
    as_jsonld = client.get("/.well-known/void", headers={"Accept": "application/ld+json"})
    assert as_jsonld.mimetype == "application/ld+json"
    assert len(quads(as_jsonld)) == len(void)


def test_the_service_description_points_at_this_void(client: FlaskClient) -> None:
    sd = rdflib.Graph().parse(
        data=client.get("/sparql", headers={"Accept": "text/turtle"}).data, format="turtle"
    )
    (target,) = sd.objects(
        None, rdflib.URIRef("http://www.w3.org/ns/sparql-service-description#defaultDataset")
    )
    assert str(target) == "http://localhost/.well-known/void"
    assert client.get(str(target).removeprefix("http://localhost")).status_code == 200


def test_dumps_are_listed_with_size_and_sha256_that_match_their_bytes(
    client: FlaskClient, files: rdflib.Dataset
) -> None:
    html = client.get("/download/").get_data(as_text=True)
    listed = re.findall(
        r'href="/download/([^"]+)" download>.*?data-size="(\d+)".*?data-sha256="([0-9a-f]{64})"',
        html,
        re.S,
    )
    assert [name for name, _, _ in listed] == ["exmech.trig", "exmech.nq", "exmech.jsonld"]
    parsed = []
    for name, size, sha in listed:
        response = client.get(f"/download/{name}")
        assert response.status_code == 200
        assert len(response.data) == int(size)
        assert hashlib.sha256(response.data).hexdigest() == sha
        assert response.headers["ETag"].strip('"') == sha
        parsed.append(
            {str(q) for q in ox.parse(response.data, format=OX_FORMAT[response.mimetype])}
        )
    assert parsed[0] == parsed[1] == parsed[2]
    assert len(parsed[0]) == sum(len(graph) for graph in files.graphs())
    assert (
        client.get(
            "/download/exmech.trig", headers={"If-None-Match": f'"{listed[0][2]}"'}
        ).status_code
        == 304
    )


def test_sitemap_lists_every_resource_page(client: FlaskClient, files: rdflib.Dataset) -> None:
    response = client.get("/sitemap.xml")
    root = ElementTree.fromstring(response.data)
    locs = [e.text or "" for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    expected = {
        f"http://localhost/id/{split[0]}/{split[1]}"
        for s in set(files.subjects())
        if (split := vocab.split_iri(str(s))) and "#" not in str(s) and split[0] != "graph"
    }
    assert (
        set(locs)
        - {
            "http://localhost" + p
            for p in ("/", "/evidence-map", "/query", "/ontology", "/download/")
        }
        == expected
    )
    assert len(locs) == len(set(locs))


# --- ontology -------------------------------------------------------------------------------


def test_ontology_serves_pylode_html_and_turtle_by_accept(client: FlaskClient) -> None:
    html = client.get("/ontology")
    assert (html.status_code, html.mimetype) == (200, "text/html")
    page = html.get_data(as_text=True)
    assert "exmech ontology" in page and "pyLODE" in page
    turtle = client.get("/ontology", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=turtle.data, format="turtle")
    expected = rdflib.Graph().parse(ROOT / "ontology" / "exmech.ttl", format="turtle")
    assert len(graph) == len(expected)
    assert (rdflib.URIRef(vocab.ONTOLOGY), rdflib.RDF.type, rdflib.OWL.Ontology) in graph
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for term in ontology.terms(ontology.Ontology((ROOT / "ontology" / "exmech.ttl").read_text())):
        assert term in ids, f"{vocab.EXM}{term} has no entry at /ontology#{term}"


def test_ontology_documentation_is_generated_without_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pyLODE tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    page = ontology.generate((ROOT / "ontology" / "exmech.ttl").read_text())
    assert 'id="ThemeFrequency"' in page and 'id="MediationTested"' in page


@pytest.mark.parametrize("document", ["docs/linked-data.md", "README.md"])
def test_the_documented_curl_output_is_real(client: FlaskClient, document: str) -> None:
    doc = (ROOT / document).read_text()
    shown = doc.split(f"$ curl -H 'Accept: text/turtle' http://127.0.0.1:8000{MOTOR}\n", 1)[1]
    shown = shown.split("```", 1)[0]
    served = client.get(MOTOR, headers={"Accept": "text/turtle"}).get_data(as_text=True)
    assert shown == served
