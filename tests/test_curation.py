"""Curation: submissions are named by content, judged by the shapes, stored once, never leaked.

Fixtures under tests/data/submissions declare what should happen in header lines:
``# expect: <message substring>``, ``# status: <HTTP status>`` (default 201),
``# fields: <query string>`` (request fields for bare triples) and ``# curator: cy`` (which
test token to send; default Ada). JSON-LD fixtures carry the same lines in ``@comment``.
Most tests drive the Flask app in-process over a private copy of the built store; a live
server covers concurrency, the request log and the CLI.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from conftest import ROOT, Listener, LiveServer, fixture_header, select, start_server, stop_server
from exmech import curation, nanopub, tokens, vocab
from exmech.cli import main
from exmech.errors import BadRequest
from exmech.store.embedded import EmbeddedStore
from exmech.store.journal import Journal
from exmech.validation import shapes_graph
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph
from rdflib.namespace import SH

SUBMISSIONS = ROOT / "tests" / "data" / "submissions"
VALID = sorted((SUBMISSIONS / "valid").glob("*.trig"))
INVALID = sorted(p for p in (SUBMISSIONS / "invalid").iterdir() if p.is_file())
MEDIA = {
    ".trig": "application/trig",
    ".ttl": "text/turtle",
    ".nq": "application/n-quads",
    ".nt": "application/n-triples",
    ".jsonld": "application/ld+json",
    ".rdf": "application/rdf+xml",
}
ADA_IRI, CY_IRI = "https://example.org/curator/ada", "https://example.org/curator/cy"
ADA_TOKEN, ADA = tokens.new_entry(ADA_IRI, "Ada Example")
CY_TOKEN, CY = tokens.new_entry(CY_IRI, "Cy Example")
KEYS = f"{ADA.line()};{CY.line()}"
FIELDS = "study=wun-2021&location=abstract&status=NotMeasured&wording=fictional+wording"
ID = vocab.ID
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Nanopublications with an empty part, or a pubinfo without a head: partly stored ones.
INCOMPLETE = f"""
PREFIX np: <{vocab.NP}>
PREFIX prov: <{vocab.PROV}>
SELECT DISTINCT ?np WHERE {{
  {{ GRAPH ?h {{ ?np np:hasAssertion ?a ; np:hasProvenance ?p ; np:hasPublicationInfo ?i }}
    FILTER (NOT EXISTS {{ GRAPH ?a {{ ?s1 ?p1 ?o1 }} }}
            || NOT EXISTS {{ GRAPH ?p {{ ?s2 ?p2 ?o2 }} }}
            || NOT EXISTS {{ GRAPH ?i {{ ?np ?p3 ?o3 }} }}) }}
  UNION
  {{ GRAPH ?g {{ ?np prov:wasAttributedTo ?who }} FILTER(STRSTARTS(STR(?np), "{ID}claim/"))
    FILTER NOT EXISTS {{
      ?np np:hasAssertion ?x ; np:hasProvenance ?y ; np:hasPublicationInfo ?z }} }}
}}"""
COUNT_CREATED = f"""
PREFIX dcterms: <{vocab.DCTERMS}>
SELECT ?np (COUNT(DISTINCT ?when) AS ?n) WHERE {{ ?np dcterms:created ?when }} GROUP BY ?np"""


@dataclass(frozen=True)
class Case:
    """A fixture file and what the service must answer."""

    path: Path
    expect: str
    status: int
    fields: str
    token: str

    @classmethod
    def read(cls, path: Path) -> Case:
        head = fixture_header(path)
        token = CY_TOKEN if head.get("curator") == "cy" else ADA_TOKEN
        return cls(
            path,
            head.get("expect", ""),
            int(head.get("status", 201)),
            head.get("fields", ""),
            token,
        )

    def post(self, client: FlaskClient, route: str = "/curation/submissions") -> Any:
        return client.post(
            f"{route}?{self.fields}",
            data=self.path.read_bytes(),
            content_type=MEDIA[self.path.suffix],
            headers=auth(self.token),
        )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def messages(body: dict[str, Any]) -> list[str]:
    """The error and every finding message of a JSON error body."""
    detail = body.get("detail")
    results = detail.get("results", []) if isinstance(detail, dict) else []
    return [body["error"], *(r["message"] for r in results)]


def private_state(built_state: Path, target: Path) -> Path:
    shutil.copytree(built_state, target)
    return target


@pytest.fixture(scope="module")
def app_settings() -> dict[str, object]:
    """The app over a private store, in-process (no worker processes), small upload limit."""
    return {
        "tokens": KEYS,
        "max_upload_bytes": 60_000,
        "cache_entries": 64,
        "curation_rate_limit": "off",  # tests/hostile/test_bounded_validation.py tests it
    }


def store_of(app: Flask) -> EmbeddedStore:
    store: EmbeddedStore = app.extensions["exmech"].store
    return store


def bare(exercise: str, mechanism: str) -> bytes:
    return (
        f"<{ID}exercise/{exercise}> <{vocab.EXM}proposedMechanism> <{ID}mechanism/{mechanism}> .\n"
    ).encode()


# --- pure parts ----------------------------------------------------------------------


def test_tokens_are_salted_hashes_checked_against_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    secret, entry = tokens.new_entry(ADA_IRI, "Ada  Example")
    tokens.append(path, entry)
    text = path.read_text()
    assert secret not in text and entry.digest in text and text.endswith("Ada Example\n")
    assert path.stat().st_mode & 0o777 == 0o600
    ring = tokens.Keyring(CY.line(), path)
    assert tokens.find(ring.entries(), secret) == entry
    assert tokens.find(ring.entries(), CY_TOKEN) == CY
    assert tokens.find(ring.entries(), secret + "x") is None
    later, other = tokens.new_entry("https://orcid.org/0000-0002-1825-0097", "Josiah")
    tokens.append(path, other)
    assert tokens.find(ring.entries(), later) == other  # the file is re-read when it changes


@pytest.mark.parametrize("line", ["not-an-iri salt " + "a" * 64, ADA_IRI + " salt short"])
def test_malformed_token_entries_are_refused_with_their_place(line: str) -> None:
    with pytest.raises(BadRequest, match="EXMECH_TOKENS: entry 2"):
        tokens.Keyring(f"{ADA.line()};{line}", None)


def test_nanopub_shapes_version_is_the_shapes_version_iri() -> None:
    assert nanopub.SHAPES_VERSION.value in {
        str(o) for o in shapes_graph(ROOT).objects(None, None) if "shapes/" in str(o)
    }


def test_a_correction_of_provenance_only_gets_its_own_iri() -> None:
    triple = (
        ox.NamedNode(f"{ID}exercise/yoga"),
        ox.NamedNode(f"{vocab.EXM}proposedMechanism"),
        ox.NamedNode(f"{ID}mechanism/mood"),
    )
    old = vocab.iri("claim", nanopub.claim_slug([triple], "s"))
    assert vocab.iri("claim", nanopub.claim_slug([triple], "s", [old])) != old


def test_export_writes_accepted_submissions_since_a_date(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.log")
    old = b'<https://example.org/a> <https://example.org/p> "old" <https://example.org/g> .\n'
    new = b'<https://example.org/a> <https://example.org/p> "new" <https://example.org/g> .\n'
    # An old record accepted in 2020, in the older v1 format (its header has no CRC to forge)
    digest = hashlib.sha256(old).hexdigest()
    head = f"#exmech-journal-record v1 {len(old)} {digest} 2020-01-01T00:00:00Z\n"
    (tmp_path / "journal.log").write_bytes(head.encode() + old)
    journal.append(new)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    quads = list(ox.parse(curation.export_trig(journal, since), format=ox.RdfFormat.TRIG))
    assert [q.object.value for q in quads] == ["new"]
    assert len(list(ox.parse(curation.export_trig(journal), format=ox.RdfFormat.TRIG))) == 2


# --- fixtures: every valid submission is accepted, every invalid one refused for its reason


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_submission_is_accepted(path: Path, app: Flask, client: FlaskClient) -> None:
    case = Case.read(path)
    response = case.post(client)
    body = response.get_json()
    assert response.status_code == case.status, body
    assert body["ok"] and body["existing"] == (case.status == 200)
    assert response.headers["Location"] == body["nanopubs"][0]["iri"]
    for item in body["nanopubs"]:
        rows = select(
            store_of(app), "SELECT ?np ?h { GRAPH ?h { ?np a ?kind } }", np=f"<{item['iri']}>"
        )
        assert rows and rows[0]["h"] == vocab.claim_graphs(item["slug"])["head"]
    assert not select(store_of(app), INCOMPLETE)
    again = case.post(client)
    assert again.status_code == 200 and again.get_json()["existing"] is True


def test_there_are_enough_fixtures() -> None:
    assert len(VALID) >= 10 and len(INVALID) >= 20


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_submission_is_refused_for_its_reason(path: Path, client: FlaskClient) -> None:
    case = Case.read(path)
    before = len(list(Journal(store_of(client.application).state / "journal.log").records()))
    response = case.post(client)
    body = response.get_json()
    assert response.status_code == case.status, body
    assert body["ok"] is False and body["status"] == case.status
    assert any(case.expect in m for m in messages(body)), messages(body)
    after = len(list(Journal(store_of(client.application).state / "journal.log").records()))
    assert after == before


def test_syntax_errors_give_line_and_column(client: FlaskClient) -> None:
    body = Case.read(SUBMISSIONS / "invalid" / "syntax-error.ttl").post(client).get_json()
    assert body["detail"] == {"line": 20, "column": 1}


# --- formats, fields, dry runs ------------------------------------------------------


def test_every_format_carries_the_same_claim(make_app: Callable[..., Flask]) -> None:
    """TriG, N-Quads and JSON-LD of one nanopublication, Turtle and a form for bare triples:
    one claim IRI."""
    app = make_app(tokens=KEYS)
    store, client = store_of(app), app.test_client()
    trig = (SUBMISSIONS / "valid" / "complete-placeholder-iris.trig").read_bytes()
    quads = list(ox.parse(trig, format=ox.RdfFormat.TRIG))
    bodies = {
        "application/n-quads": ox.serialize(quads, format=ox.RdfFormat.N_QUADS),
        "application/ld+json": ox.serialize(quads, format=ox.RdfFormat.JSON_LD),
        "application/trig": trig,
    }
    iris = set()
    for media_type, data in bodies.items():
        response = client.post(
            "/curation/submissions", data=data, content_type=media_type, headers=auth(ADA_TOKEN)
        )
        assert response.status_code in (200, 201), response.get_json()
        iris.add(response.get_json()["nanopubs"][0]["iri"])
    fields = "study=wun-2021&location=abstract&status=NotMeasured&wording=w"
    turtle = client.post(
        f"/curation/submissions?{fields}",
        data=bare("stretching", "flexibility"),
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    )
    form = client.post(
        "/curation/submissions",
        data={
            "study": "wun-2021",
            "location": "abstract",
            "status": "NotMeasured",
            "wording": "w",
            "data": (
                __import__("io").BytesIO(bare("stretching", "flexibility")),
                "claim.nt",
                "application/n-triples",
            ),
        },
        content_type="multipart/form-data",
        headers=auth(ADA_TOKEN),
    )
    iris |= {r.get_json()["nanopubs"][0]["iri"] for r in (turtle, form)}
    assert len(iris) == 1 and turtle.status_code == form.status_code == 200
    assert len(list(store.journal.records())) == 1


def test_dry_run_reports_and_stores_nothing(client: FlaskClient) -> None:
    case = Case.read(SUBMISSIONS / "valid" / "bare-claim.trig")
    data = bare("yoga", "sleep")
    anonymous = client.post(f"/curation/validate?{FIELDS}", data=data, content_type="text/turtle")
    body = anonymous.get_json()
    assert anonymous.status_code == 200 and body["conforms"] is True
    assert body["nanopubs"][0]["existing"] is False and body["generation"] is None
    report = client.post(
        f"/curation/validate?{FIELDS}",
        data=data,
        content_type="text/turtle",
        headers={"Accept": "text/turtle"},
    )
    assert report.status_code == 200
    assert (None, SH.conforms, None) in Graph().parse(data=report.data, format="turtle")
    rows = select(
        store_of(client.application),
        "SELECT ?np ?p { ?np ?p ?o }",
        np=f"<{body['nanopubs'][0]['iri']}>",
    )
    assert rows == []
    assert case.post(client, "/curation/validate").status_code == 200


def test_a_rejection_is_a_validation_report_in_turtle_on_request(client: FlaskClient) -> None:
    response = client.post(
        f"/curation/submissions?{FIELDS}",
        data=bare("yoga", "telepathy"),
        content_type="text/turtle",
        headers={**auth(ADA_TOKEN), "Accept": "text/turtle"},
    )
    assert response.status_code == 422 and response.mimetype == "text/turtle"
    graph = Graph().parse(data=response.data, format="turtle")
    assert (None, SH.conforms, None) in graph
    focus = {str(o) for o in graph.objects(None, SH.focusNode)}
    assert f"{ID}exercise/yoga" in focus
    as_json = client.post(
        f"/curation/validate?{FIELDS}", data=bare("yoga", "telepathy"), content_type="text/turtle"
    ).get_json()["detail"]["results"]
    assert {"focus", "path", "value", "message", "severity", "shape"} <= set(as_json[0])
    refused = client.post(
        "/curation/submissions",
        data=b"",
        content_type="text/turtle",
        headers={**auth(ADA_TOKEN), "Accept": "image/png"},
    )
    assert refused.status_code == 406


def test_uploads_are_limited(client: FlaskClient) -> None:
    big = b"# padding\n" * 7000
    for content_type in ("text/turtle", "multipart/form-data"):
        data: Any = (
            big
            if content_type == "text/turtle"
            else {"data": (__import__("io").BytesIO(big), "x.ttl", "text/turtle")}
        )
        response = client.post(
            "/curation/submissions", data=data, content_type=content_type, headers=auth(ADA_TOKEN)
        )
        assert response.status_code == 413, response.data
        assert "60000 bytes" in response.get_json()["error"]


def test_unknown_body_types_are_415(client: FlaskClient) -> None:
    response = client.post("/curation/submissions", data={"study": "x"}, headers=auth(ADA_TOKEN))
    assert response.status_code == 415 and "text/turtle" in response.get_json()["error"]


def test_json_ld_remote_contexts_are_never_fetched(client: FlaskClient) -> None:
    listener = Listener()
    port = listener.port
    for context in (
        f"http://127.0.0.1:{port}/ctx.jsonld",
        [f"http://127.0.0.1:{port}/a.jsonld", {"exm": vocab.EXM}],
    ):
        doc = {
            "@context": context,
            "@id": f"{ID}exercise/yoga",
            "exm:proposedMechanism": {"@id": f"{ID}mechanism/mood"},
        }
        response = client.post(
            f"/curation/validate?{FIELDS}", data=json.dumps(doc), content_type="application/ld+json"
        )
        assert response.status_code == 400
        assert "never fetched" in response.get_json()["error"]
    assert listener.settled() == 0
    listener.close()


# --- authorisation ---------------------------------------------------------------------


def test_writes_need_a_valid_bearer_token(client: FlaskClient) -> None:
    for headers, error in (
        ({}, None),
        ({"Authorization": "Bearer nope"}, "invalid_token"),
        ({"Authorization": f"Basic {ADA_TOKEN}"}, "invalid_token"),
    ):
        response = client.post(
            f"/curation/submissions?{FIELDS}",
            data=bare("yoga", "sleep"),
            content_type="text/turtle",
            headers=headers,
        )
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and (error is None or error in challenge)
        assert ADA_TOKEN not in response.get_data(as_text=True)
    for route in (
        "/curation/claims/b4430077aab51b613f10/retract",
        "/curation/claims/b4430077aab51b613f10/supersede",
    ):
        assert client.post(route).status_code == 401


def test_without_tokens_writes_are_disabled(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    response = client.post(
        f"/curation/submissions?{FIELDS}",
        data=bare("yoga", "sleep"),
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    )
    assert response.status_code == 403
    assert "writes are disabled" in response.get_json()["error"]
    assert client.get("/curation").get_json()["writes_enabled"] is False


# --- corrections and withdrawals, and the answer cache --------------------------------


def test_supersede_copies_what_it_leaves_out_and_keeps_the_old_claim(app: Flask) -> None:
    client = app.test_client()
    new = client.post(
        f"/curation/submissions?{FIELDS.replace('abstract', 'results')}",
        data=bare("running", "sleep"),
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    ).get_json()["nanopubs"][0]
    same = client.post(
        f"/curation/claims/{new['slug']}/supersede?location=discussion",
        data=bare("running", "sleep"),
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    )
    assert same.status_code == 201, same.get_json()
    fixed = same.get_json()["nanopubs"][0]
    assert fixed["iri"] != new["iri"]  # same assertion and study, yet its own IRI
    # a second correction of the same old claim is refused: it names the current version
    other = client.post(
        f"/curation/claims/{new['slug']}/supersede",
        data=bare("running", "mood"),
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    )
    assert other.status_code == 422
    assert any(
        f"the current version is <{fixed['iri']}>" in m for m in messages(other.get_json())
    ), messages(other.get_json())
    rows = select(
        store_of(app),
        f"""
        PREFIX npx: <{vocab.NPX}> PREFIX exm: <{vocab.EXM}> PREFIX np: <{vocab.NP}>
        SELECT ?old ?new ?location WHERE {{
          ?new npx:supersedes ?old ; np:hasProvenance ?p .
          GRAPH ?p {{ ?a exm:locationInStudy ?location }} }} ORDER BY ?location""",
        old=f"<{new['iri']}>",
    )
    assert [r["location"] for r in rows] == ["discussion"]
    assert select(store_of(app), "SELECT ?old ?kind { ?old a ?kind }", old=f"<{new['iri']}>")
    assert (
        client.post(
            "/curation/claims/ffffffffffffffffffff/supersede", headers=auth(ADA_TOKEN)
        ).status_code
        == 404
    )


def test_retract_with_a_reason_once_per_curator(app: Flask) -> None:
    client = app.test_client()
    target = client.post(
        f"/curation/submissions?{FIELDS}",
        data=bare("tai-chi", "mood"),
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    ).get_json()["nanopubs"][0]
    route = f"/curation/claims/{target['slug']}/retract"
    first = client.post(route, json={"reason": "misread the table"}, headers=auth(ADA_TOKEN))
    assert first.status_code == 201, first.get_json()
    retraction = first.get_json()["nanopubs"][0]
    assert retraction["kind"] == "retraction"
    assert client.post(route, headers=auth(ADA_TOKEN)).get_json()["existing"] is True
    # a retracted claim stays retracted: a second curator's retraction is refused, naming the first
    by_cy = client.post(route, headers=auth(CY_TOKEN))
    assert by_cy.status_code == 422
    assert any(
        f"is already retracted (by <{retraction['iri']}>)" in m for m in messages(by_cy.get_json())
    ), messages(by_cy.get_json())
    rows = select(
        store_of(app),
        f"""
        PREFIX npx: <{vocab.NPX}> PREFIX rdfs: <{vocab.RDFS}> PREFIX np: <{vocab.NP}>
        SELECT ?r ?old ?who ?why WHERE {{
          ?r rdfs:comment ?why ; np:hasAssertion ?a . GRAPH ?a {{ ?who npx:retracts ?old }} }}""",
        r=f"<{retraction['iri']}>",
        old=f"<{target['iri']}>",
    )
    assert [(r["who"], r["why"]) for r in rows] == [(ADA_IRI, "misread the table")]
    assert select(store_of(app), "SELECT ?old ?kind { ?old a ?kind }", old=f"<{target['iri']}>")
    assert (
        client.post("/curation/claims/not-a-slug/retract", headers=auth(ADA_TOKEN)).status_code
        == 404
    )


def test_a_write_invalidates_cached_answers(client: FlaskClient) -> None:
    query = {"query": f"SELECT ?m {{ <{ID}exercise/mckenzie> <{vocab.EXM}proposedMechanism> ?m }}"}
    accept = {"Accept": "application/sparql-results+json"}
    client.get("/sparql", query_string=query, headers=accept)
    cached = client.get("/sparql", query_string=query, headers=accept)
    assert cached.headers["Exmech-Cache"] == "hit"
    assert f"{ID}mechanism/sleep" not in cached.get_data(as_text=True)
    accepted = client.post(
        f"/curation/submissions?{FIELDS}",
        data=bare("mckenzie", "sleep"),
        content_type="text/turtle",
        headers=auth(ADA_TOKEN),
    )
    assert accepted.status_code == 201
    fresh = client.get("/sparql", query_string=query, headers=accept)
    assert fresh.headers["Exmech-Cache"] == "miss"
    assert f"{ID}mechanism/sleep" in fresh.get_data(as_text=True)


# --- a live server: concurrency, the log, the CLI ----------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built_state: Path) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("curation-live")
    state = private_state(built_state, base / "state")
    live = start_server(state, base / "server.log", EXMECH_TOKENS=KEYS, EXMECH_THREADS="8")
    yield live
    stop_server(live)


def sparql(url: str, query: str) -> list[dict[str, str]]:
    response = httpx.post(
        f"{url}/sparql",
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    response.raise_for_status()
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


def test_concurrent_curators_lose_nothing_and_duplicate_nothing(server: LiveServer) -> None:
    exercises = ("aerobic", "yoga", "pilates", "walking")
    mechanisms = ("sleep", "mindfulness", "relaxation", "catastrophizing", "body-awareness")
    work = [(e, m) for e in exercises for m in mechanisms] + [("back-school", "sleep")] * 8

    def send(pair: tuple[str, str]) -> tuple[int, str]:
        response = httpx.post(
            f"{server.url}/curation/submissions?{FIELDS}",
            data=bare(*pair),
            headers={**auth(ADA_TOKEN), "Content-Type": "text/turtle"},
            timeout=60,
        )
        return response.status_code, response.json()["nanopubs"][0]["iri"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, work))
    assert {status for status, _ in results} <= {200, 201}
    iris = {iri for _, iri in results}
    assert len(iris) == len(exercises) * len(mechanisms) + 1
    assert sum(status == 201 for status, _ in results) == len(iris)  # the duplicates: 200
    created = {r["np"]: int(r["n"]) for r in sparql(server.url, COUNT_CREATED)}
    assert all(created.get(iri) == 1 for iri in iris)
    assert sparql(server.url, INCOMPLETE) == []


def test_tokens_never_reach_the_log(server: LiveServer) -> None:
    for token in (ADA_TOKEN, "exm_wrong-token-value"):
        httpx.post(
            f"{server.url}/curation/validate?{FIELDS}",
            data=bare("yoga", "sleep"),
            headers={**auth(token), "Content-Type": "text/turtle"},
            timeout=30,
        )
    output = server.output()
    assert "/curation/validate" in output
    assert ADA_TOKEN not in output and "wrong-token-value" not in output
    assert ADA.salt not in output


def test_cli_submits_validates_and_exports(
    server: LiveServer, tmp_path: Path, runner: CliRunner
) -> None:
    base = ["--state-dir", str(server.state_dir), "--data-root", str(ROOT)]
    claim = tmp_path / "claim.ttl"
    claim.write_bytes(bare("interval-training", "sleep"))
    fields = [
        "--study",
        "wun-2021",
        "--location",
        "abstract",
        "--status",
        "NotMeasured",
        "--wording",
        "w",
    ]
    dry = runner.invoke(
        main, [*base, "submit", str(claim), "--url", server.url, "--dry-run", *fields]
    )
    assert dry.exit_code == 0 and dry.output.startswith("valid claim "), dry.output
    sent = runner.invoke(
        main,
        [*base, "submit", str(claim), "--url", server.url, *fields],
        env={"EXMECH_TOKEN": ADA_TOKEN},
    )
    assert sent.exit_code == 0 and sent.output.startswith("added claim "), sent.output
    iri = sent.output.split()[-1]
    refused = runner.invoke(
        main, [*base, "submit", str(claim), "--url", server.url, "--token", ADA_TOKEN, *fields[:2]]
    )
    assert refused.exit_code == 1 and "where in the study" in refused.output
    anonymous = runner.invoke(main, [*base, "submit", str(claim), "--url", server.url, *fields])
    assert anonymous.exit_code == 2 and "401" in anonymous.output
    exported = runner.invoke(main, [*base, "export", "--since", "2000-01-01"])
    assert exported.exit_code == 0
    graphs = {
        q.graph_name.value for q in ox.parse(exported.output.encode(), format=ox.RdfFormat.TRIG)
    }
    assert vocab.claim_graphs(iri.rsplit("/", 1)[-1])["pubinfo"] in graphs
    mine = tmp_path / "mine.trig"
    mine.write_bytes(Path(SUBMISSIONS / "valid" / "complete-claim.trig").read_bytes())
    offline = runner.invoke(main, [*base, "validate", "--store", str(mine)])
    assert offline.exit_code == 0, offline.output


def test_token_add_prints_once_and_stores_the_hash(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "tokens"
    result = runner.invoke(
        main, ["token", "add", "--curator", ADA_IRI, "--name", "Ada", "--file", str(path)]
    )
    assert result.exit_code == 0
    secret = result.stdout.strip()
    assert secret.startswith(tokens.PREFIX) and secret not in path.read_text()
    assert tokens.find(tokens.Keyring("", path).entries(), secret) is not None
    nowhere = runner.invoke(main, ["token", "add", "--curator", ADA_IRI, "--name", "A"])
    assert nowhere.exit_code != 0 and "EXMECH_TOKENS_FILE" in nowhere.output
