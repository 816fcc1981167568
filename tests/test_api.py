"""The /api JSON API: provenance on every answer, the /sparql twin of every question, errors,
and the API checked against its own OpenAPI document by schemathesis.

The app runs on the shipped data plus tests/data/history.trig (so superseded and retracted
claims exist), in process; one test goes through a live server with its query workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import schemathesis
from exmech import provenance, queries
from exmech.store import Answer
from exmech.store.embedded import EmbeddedStore
from exmech.store.results import parse
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from test_provenance import FIXTURE, H1, H2, S1, Model, build_history, read_model

EXAMPLES = {
    q.name: f"/api{q.path}".replace("{slug}", q.parameter.example).replace(
        "{doi}", q.parameter.example
    )
    if q.parameter
    else f"/api{q.path}"
    for q in provenance.QUESTIONS
}
JSON = "application/sparql-results+json"
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(ConjunctiveGraph|default_context).*:DeprecationWarning"
)


@pytest.fixture(scope="module")
def app_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_history(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def app_settings(app_state: Path) -> dict[str, Any]:
    return {"data_root": app_state.parent / "root", "max_rows": 1000, "cache_entries": 256}


@pytest.fixture
def store(app: Flask) -> EmbeddedStore:
    opened: EmbeddedStore = app.extensions["exmech"].store
    return opened


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(FIXTURE)


def get(client: FlaskClient, path: str, **headers: str) -> tuple[int, dict[str, Any]]:
    response = client.get(path, headers=headers)
    assert response.content_type == "application/json", (path, response.data[:200])
    return response.status_code, response.get_json()


# --- provenance on every answer ------------------------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_answer_carries_its_provenance(
    name: str, client: FlaskClient, store: EmbeddedStore, model: Model
) -> None:
    status, body = get(client, EXAMPLES[name])
    assert status == 200, body
    question = provenance.QUESTION[name]
    named = queries.load(question.query)
    assert body["query"] == named.text and body["query_name"] == named.name
    assert body["question"] == named.answers
    assert body["dataset"] == store.dataset_hash and body["generation"] == store.generation
    assert body["count"] == len(body["rows"]) > 0 and body["truncated"] is False
    if question.parameter:
        ((variable, term),) = body["bindings"].items()
        assert variable == question.parameter.variable
        assert term["type"] == ("literal" if variable == "doi" else "uri")
    else:
        assert body["bindings"] == {}
    nanopubs = set(model.claims) | set(model.retractions)
    for row in body["rows"]:
        assert row["nanopublications"] and set(row["nanopublications"]) <= nanopubs, row


def sparql_rows(body: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """A /sparql JSON answer read as the API reads its own answers."""
    return provenance.rows_of(parse(Answer(body, JSON, 0, False, "")))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_sparql_url_asks_the_same_question_on_sparql(name: str, client: FlaskClient) -> None:
    _, body = get(client, EXAMPLES[name])
    link = urlsplit(body["sparql_url"])
    assert link.path == "/sparql"
    (text,) = parse_qs(link.query)["query"]
    named = queries.load(provenance.QUESTION[name].query)
    assert text.startswith(named.text.rstrip("\n"))  # the file, then only a VALUES clause
    assert text[len(named.text.rstrip("\n")) :].strip().startswith("VALUES") or not body["bindings"]
    response = client.get(body["sparql_url"], headers={"Accept": JSON})
    assert response.status_code == 200, response.data[:300]
    _columns, rows = sparql_rows(response.data)
    assert rows == body["rows"]


@pytest.mark.parametrize("name", [q.query for q in provenance.QUESTIONS])
def test_each_query_file_runs_unbound_on_sparql(name: str, client: FlaskClient) -> None:
    """What `curl --data-urlencode query@service/exmech/queries/X.rq .../sparql` does."""
    text = queries.load(name).text
    response = client.post("/sparql", data={"query": text}, headers={"Accept": JSON})
    assert response.status_code == 200, response.data[:300]
    assert sparql_rows(response.data)[1]


def test_unbound_evidence_map_on_sparql_is_the_api_answer(client: FlaskClient) -> None:
    response = client.post(
        "/sparql", data={"query": queries.load("evidence-map").text}, headers={"Accept": JSON}
    )
    assert sparql_rows(response.data)[1] == get(client, "/api/evidence-map")[1]["rows"]


def test_history_through_the_api(client: FlaskClient) -> None:
    status, body = get(client, f"/api/claims/{H1.rsplit('/', 1)[1]}/history")
    assert status == 200
    assert [(r["event"], r["nanopub"], r["target"]) for r in body["rows"]] == [
        ("asserts", S1, None),
        ("supersedes", H1, S1),
        ("supersedes", H2, H1),
    ]
    _, current = get(client, "/api/mechanisms/pain-self-efficacy/claims")
    assert S1 not in {r["claim"] for r in current["rows"]}


def test_dois_may_hold_slashes_and_any_case(client: FlaskClient) -> None:
    status, body = get(client, "/api/dois/10.1002/14651858.cd009790.PUB2")
    assert status == 200
    assert body["bindings"]["doi"] == {"type": "literal", "value": "10.1002/14651858.CD009790.pub2"}
    status, encoded = get(client, "/api/dois/10.2522%2Fptj.20110290")
    assert status == 200 and encoded["count"] == 2


def test_answers_are_cached_per_generation(client: FlaskClient) -> None:
    first = client.get("/api/exercises/pilates/mechanisms")
    second = client.get("/api/exercises/pilates/mechanisms")
    assert second.headers["Exmech-Cache"] == "hit"
    assert first.get_json()["rows"] == second.get_json()["rows"]


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/mechanisms/Muscle-Strength/claims", 400),
        ("/api/mechanisms/muscle_strength/claims", 400),
        ("/api/mechanisms/x%3E%20%7D%20%3Fs%20%3Fp%20%3Fo%20%7B/claims", 400),
        ("/api/mechanisms/no-such-thing/claims", 404),
        ("/api/mechanisms/yoga/claims", 404),
        ("/api/studies/yoga", 404),
        ("/api/curators/nobody", 404),
        ("/api/exercises/muscle-strength/mechanisms", 404),
        ("/api/claims/ffffffffffffffffffff/history", 404),
        ("/api/dois/10.2522", 400),
        ("/api/dois/10.2522/a%22b", 400),
        ("/api/dois/10.9999/none", 404),
        ("/api/no/such/question", 404),
    ],
)
def test_errors_are_json(path: str, status: int, client: FlaskClient) -> None:
    got, body = get(client, path)
    assert (got, body["ok"], body["status"]) == (status, False, status)
    assert body["error"]


def test_not_acceptable(client: FlaskClient) -> None:
    got, body = get(client, "/api/evidence-map", Accept="text/csv")
    assert (got, body["status"]) == (406, 406)


# --- the OpenAPI document --------------------------------------------------------------


def test_openapi_lists_every_route_and_every_column(app: Flask, client: FlaskClient) -> None:
    _, doc = get(client, "/api/openapi.json")
    assert doc["openapi"].startswith("3.1")
    rules = {
        r.rule.replace("<text:doi>", "{doi}").replace("<slug>", "{slug}")
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api") and "<text:rest>" not in r.rule
    }
    assert set(doc["paths"]) == rules
    for question in provenance.QUESTIONS:
        _, body = get(client, EXAMPLES[question.name])
        row_schema = doc["components"]["schemas"][question.name]["allOf"][1]["properties"]["rows"][
            "items"
        ]
        assert set(row_schema["required"]) == set(body["rows"][0])


@pytest.fixture(scope="module")
def api_schema(app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
OPERATIONS = [
    *((path, POSITIVE) for path in ("/api", "/api/openapi.json")),
    *((f"/api{q.path}", POSITIVE) for q in provenance.QUESTIONS),
    # Negative cases need something to get wrong: the path parameters.
    *((f"/api{q.path}", NEGATIVE) for q in provenance.QUESTIONS if q.parameter),
]


@pytest.mark.parametrize(("path", "mode"), OPERATIONS)
def test_api_conforms_to_its_openapi_document(
    path: str, mode: GenerationMode, api_schema: Any
) -> None:
    """Schemathesis cases for each operation: no 5xx, documented statuses, bodies match;
    negative cases (values outside the documented patterns) must be rejected.

    (schemathesis.pytest.from_fixture reads ``request.node._nodeid``, gone in pytest 9, so
    the operation's Hypothesis strategy is driven directly.)
    """
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def check(case: Any) -> None:
        case.call_and_validate()

    check()


# --- a real server ---------------------------------------------------------------------


@pytest.mark.live
def test_live_server_answers_and_links_to_sparql(live_server: Any) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        body = http.get("/api/mechanisms/mood/claims").json()
        mood = {c.iri for c in read_model().current.values() if c.mechanism.endswith("/mood")}
        assert {r["claim"] for r in body["rows"]} == mood and body["truncated"] is False
        twin = http.get(body["sparql_url"], headers={"Accept": JSON})
        assert twin.status_code == 200
        assert sparql_rows(twin.content)[1] == body["rows"]
        assert http.get("/api/mechanisms/MOOD/claims").status_code == 400
