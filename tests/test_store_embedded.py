"""The answer cache (over a fake store); the embedded store's row caps, datasets, bound values."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from exmech import queries
from exmech.errors import BadRequest
from exmech.ordering import safe_order
from exmech.querytext import analyse, with_row_cap, with_values
from exmech.settings import Settings
from exmech.sparql import EMPTY_GRAPH, ProtocolRequest, dataset
from exmech.store import Answer, Query, Results
from exmech.store.cache import AnswerCache
from exmech.store.embedded import EmbeddedStore, engine_text
from rdflib.query import Result
from test_store import BINDS

ROOT = Path(__file__).resolve().parent.parent
JSON = "application/sparql-results+json"


@dataclass
class FakeStore:
    """Counts the queries that reach it; the test moves its generation like a write would."""

    generation: str = "g1"
    calls: list[Query] = field(default_factory=list)
    body: bytes = b"{}"
    fail: bool = False

    def query(self, query: Query) -> Answer:
        self.calls.append(query)
        if self.fail:
            raise BadRequest("syntax")
        return Answer(self.body, query.media_type, 1, False, self.generation)

    def execute(self, query: Query) -> Results:
        self.calls.append(query)
        return Results((), (), False, self.generation, "ASK", boolean=True, size=len(self.body))


def _query(text: str = "ASK {}", **changes: object) -> Query:
    fields: dict[str, object] = {"text": text, "form": "ASK", "media_type": JSON}
    fields.update(changes)
    return Query(**fields)  # type: ignore[arg-type]


def test_a_repeated_query_is_a_hit() -> None:
    store = FakeStore()
    cache = AnswerCache(store, 8)  # type: ignore[arg-type]
    first, second = cache.query(_query()), cache.query(_query())
    assert (first.cached, second.cached, len(store.calls)) == (False, True, 1)
    assert second.body == first.body


@pytest.mark.parametrize(
    "changes",
    [
        {"text": "ASK { ?s ?p ?o }"},
        {"media_type": "application/sparql-results+xml"},
        {"default_graphs": ("http://e/g",)},
        {"named_graphs": ("http://e/g",)},
        {"substitutions": (("s", ox.NamedNode("http://e/s")),)},
        {"max_rows": 5},
    ],
)
def test_anything_that_changes_the_answer_is_a_miss(changes: dict[str, object]) -> None:
    store = FakeStore()
    cache = AnswerCache(store, 8)  # type: ignore[arg-type]
    cache.query(_query())
    assert cache.query(_query(**changes)).cached is False
    assert len(store.calls) == 2


def test_a_new_generation_is_a_miss() -> None:
    store = FakeStore()
    cache = AnswerCache(store, 8)  # type: ignore[arg-type]
    cache.query(_query())
    store.generation = "g2"
    assert cache.query(_query()).cached is False
    assert cache.query(_query()).cached is True
    assert [a.generation for a in (cache.query(_query()),)] == ["g2"]


def test_an_answer_from_another_generation_than_its_key_is_not_kept() -> None:
    store = FakeStore()
    cache = AnswerCache(store, 8)  # type: ignore[arg-type]

    def racing_write(query: Query) -> Answer:
        # A write lands between the cache reading g1 and the store taking its snapshot.
        return Answer(b"new", query.media_type, 1, False, "g2")

    store.query = racing_write  # type: ignore[method-assign]
    assert cache.query(_query()).body == b"new"
    assert len(cache) == 0


def test_errors_are_not_cached() -> None:
    store = FakeStore(fail=True)
    cache = AnswerCache(store, 8)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(BadRequest):
            cache.query(_query())
    assert len(store.calls) == 2


def test_least_recently_used_entries_go_first() -> None:
    store = FakeStore()
    cache = AnswerCache(store, 2)  # type: ignore[arg-type]
    a, b, c = _query("ASK {}"), _query("ASK { ?a ?b ?c }"), _query("ASK { ?x ?y ?z }")
    cache.query(a)
    cache.query(b)
    cache.query(a)  # a is now the most recent
    cache.query(c)  # evicts b
    assert cache.query(a).cached and not cache.query(b).cached


def test_the_byte_budget_bounds_the_cache() -> None:
    store = FakeStore(body=b"x" * 100)
    cache = AnswerCache(store, 100, max_bytes=250)  # type: ignore[arg-type]
    for i in range(5):
        cache.query(_query(f"ASK {{ ?s ?p {i} }}"))
    assert len(cache) == 2


def test_parsed_and_serialized_answers_are_cached_apart() -> None:
    """``execute`` hits on a repeat (parsed once per generation), never on a ``query``."""
    store = FakeStore()
    cache = AnswerCache(store, 8)  # type: ignore[arg-type]
    serialized, parsed, again = (
        cache.query(_query()),
        cache.execute(_query()),
        cache.execute(_query()),
    )
    assert isinstance(serialized, Answer) and isinstance(parsed, Results)
    assert (parsed.cached, again.cached, len(store.calls)) == (False, True, 2)
    assert again == parsed and again.boolean is True
    store.generation = "g2"
    assert cache.execute(_query()).cached is False


def test_zero_entries_disables_the_cache() -> None:
    store = FakeStore()
    cache = AnswerCache(store, 0)  # type: ignore[arg-type]
    assert not cache.query(_query()).cached and not cache.query(_query()).cached
    assert len(store.calls) == 2


# The embedded store, in-process (the `reader` fixture: no worker processes) --------------


@pytest.fixture(scope="module")
def claims() -> rdflib.Dataset:
    ds = rdflib.Dataset()
    ds.parse(ROOT / "data" / "claims.trig", format="trig")
    return ds


def _select(text: str, media_type: str, max_rows: int, capped: bool = True) -> Query:
    info = analyse(text)
    return Query(
        text,
        "SELECT",
        media_type,
        capped_text=with_row_cap(info, max_rows + 1) if capped else None,
        max_rows=max_rows,
    )


RESULTS = [
    (JSON, "json"),
    ("application/sparql-results+xml", "xml"),
    ("text/csv", "csv"),
    ("text/tab-separated-values", "tsv"),
]


@pytest.mark.parametrize(("media_type", "rdflib_format"), RESULTS)
@pytest.mark.parametrize("capped", [True, False])
def test_select_is_cut_at_max_rows_in_every_format(
    reader: EmbeddedStore, media_type: str, rdflib_format: str, capped: bool
) -> None:
    text = (
        "PREFIX exm: <https://w3id.org/exmech/ontology#> "
        "SELECT ?claim { ?claim a exm:Claim } ORDER BY ?claim"
    )
    answer = reader.query(_select(text, media_type, 7, capped))
    rows = Result.parse(io.BytesIO(answer.body), format=rdflib_format).bindings
    assert (answer.rows, answer.truncated, len(rows)) == (7, True, 7)


def test_an_answer_that_fits_is_not_truncated(
    reader: EmbeddedStore, claims: rdflib.Dataset
) -> None:
    claim_class = rdflib.URIRef("https://w3id.org/exmech/ontology#Claim")
    expected = {
        str(s) for s, _p, _o, _g in claims.quads((None, rdflib.RDF.type, claim_class, None))
    }
    text = "SELECT ?c { ?c a <https://w3id.org/exmech/ontology#Claim> }"
    answer = reader.query(_select(text, JSON, len(expected)))
    got = {b["c"]["value"] for b in json.loads(answer.body)["results"]["bindings"]}
    assert (answer.truncated, answer.rows, got) == (False, len(expected), expected)


@pytest.mark.parametrize("limit", [1, 3, 10])
def test_construct_is_cut_at_max_rows_triples(reader: EmbeddedStore, limit: int) -> None:
    # Each solution makes two triples, so a LIMIT on solutions could not do this exactly.
    text = (
        "CONSTRUCT { ?c a <http://e/C> ; <http://e/p> 1 } "
        "WHERE { ?c a <https://w3id.org/exmech/ontology#Claim> }"
    )
    answer = reader.query(Query(text, "CONSTRUCT", "application/n-triples", max_rows=limit))
    graph = rdflib.Graph().parse(data=answer.body, format="nt")
    assert (answer.rows, answer.truncated, len(graph)) == (limit, True, limit)


def _first_claim(claims: rdflib.Dataset) -> tuple[str, str, tuple[str, str, str]]:
    has_assertion = rdflib.URIRef("http://www.nanopub.org/nschema#hasAssertion")
    claim, _p, assertion, _g = sorted(claims.quads((None, has_assertion, None, None)))[0]
    (triple,) = claims.graph(assertion).triples((None, None, None))
    return str(claim), str(assertion), tuple(str(t) for t in triple)  # type: ignore[return-value]


def test_the_dataset_restricts_the_default_graph(
    reader: EmbeddedStore, claims: rdflib.Dataset
) -> None:
    _claim, assertion, triple = _first_claim(claims)
    operation = ProtocolRequest("SELECT * { ?s ?p ?o }", default_graphs=(assertion,))
    default, named = dataset(operation, analyse(operation.query))
    answer = reader.query(
        Query(operation.query, "SELECT", JSON, default_graphs=default, named_graphs=named)
    )
    rows = json.loads(answer.body)["results"]["bindings"]
    assert [(r["s"]["value"], r["p"]["value"], r["o"]["value"]) for r in rows] == [triple]


def test_from_named_alone_leaves_the_default_graph_empty(
    reader: EmbeddedStore, claims: rdflib.Dataset
) -> None:
    _claim, assertion, triple = _first_claim(claims)
    text = (
        f"SELECT * FROM NAMED <{assertion}> "
        "{ { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    )
    default, named = dataset(ProtocolRequest(text), analyse(text))
    assert (default, named) == ((EMPTY_GRAPH,), (assertion,))
    answer = reader.query(Query(text, "SELECT", JSON, default_graphs=default, named_graphs=named))
    rows = json.loads(answer.body)["results"]["bindings"]
    assert [(r["g"]["value"], r["s"]["value"]) for r in rows] == [(assertion, triple[0])]


def test_protocol_graphs_override_from() -> None:
    text = "SELECT * FROM <http://e/a> { ?s ?p ?o }"
    assert dataset(ProtocolRequest(text), analyse(text)) == (("http://e/a",), ())
    overridden = ProtocolRequest(text, named_graphs=("http://e/b",))
    assert dataset(overridden, analyse(text)) == ((EMPTY_GRAPH,), ("http://e/b",))


# Bound values: a VALUES block first in the WHERE group, not pyoxigraph's substitutions ------


def _in_order(body: bytes) -> list[dict[str, object]]:
    """The rows in their order, each GROUP_CONCAT list of IRIs sorted (SPARQL leaves it open)."""
    rows = json.loads(body)["results"]["bindings"]
    for row in rows:
        for term in row.values():
            parts = term["value"].split(" ")
            if len(parts) > 1 and all(p.startswith("http") for p in parts):
                term["value"] = " ".join(sorted(parts))
    return rows  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", [n for n in queries.names() if queries.load(n).binds])
def test_bound_values_give_the_rows_substitutions_give(
    name: str, reader: EmbeddedStore, built_state: Path
) -> None:
    """Same rows in the same order as pyoxigraph's own substitutions, on the shipped data."""
    named = queries.load(name)
    binds = tuple((var, BINDS[var]) for var in named.binds)
    got = reader.query(Query(named.text, named.form, JSON, substitutions=binds))
    snapshot = built_state / "snapshots" / (built_state / "CURRENT").read_text().strip()
    expected = ox.Store.read_only(str(snapshot)).query(
        named.text,
        use_default_graph_as_union=True,
        substitutions={ox.Variable(var): value for var, value in binds},
    )
    assert isinstance(expected, ox.QuerySolutions)
    assert _in_order(got.body) == _in_order(expected.serialize(format=ox.QueryResultsFormat.JSON))


UNBINDABLE = [
    ("s", ox.BlankNode("b0"), "cannot bind"),
    (
        "s",
        ox.Triple(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("1")),
        "cannot bind",
    ),
    ("s", "<http://e/a>", "cannot bind"),
    ("s-1", ox.NamedNode("http://e/a"), "not a SPARQL variable name"),
    ("s } ?a ?b ?c . { ?s", ox.NamedNode("http://e/a"), "not a SPARQL variable name"),
]


@pytest.mark.parametrize(("variable", "binding", "message"), UNBINDABLE)
def test_a_value_that_cannot_be_bound_is_a_bad_request(
    reader: EmbeddedStore, variable: str, binding: object, message: str
) -> None:
    query = Query(
        "SELECT * WHERE { ?s ?p ?o } LIMIT 1",
        "SELECT",
        JSON,
        substitutions=((variable, binding),),
    )
    with pytest.raises(BadRequest, match=message):
        reader.query(query)


def test_a_query_worker_answers_a_bad_binding_and_keeps_serving(built_state: Path) -> None:
    store = EmbeddedStore(Settings(state_dir=built_state, data_root=ROOT), workers=True)
    try:
        text = "ASK WHERE { ?s ?p ?o }"
        bad = Query(text, "ASK", JSON, substitutions=(("s", ox.BlankNode("b0")),))
        with pytest.raises(BadRequest, match="cannot bind"):
            store.query(bad)
        claim = BINDS["claim"]
        good = Query(text, "ASK", JSON, substitutions=(("s", claim),))
        assert json.loads(store.query(good).body)["boolean"] is True
    finally:
        store.close()


ENGINE_TEXTS = [
    "SELECT * { ?s ?p ?o } ORDER BY DESC(?o) ?s LIMIT 50000",
    "SELECT * WHERE { ?s ?p ?o } ORDER BY (STR(?o)) LIMIT 5",
    "SELECT * { ?s ?p ?o } ORDER BY ?o VALUES ?s { <http://e/a> }",
    "SELECT * { { SELECT * { ?s ?p ?o } ORDER BY ?o LIMIT 3 } } ORDER BY ?s",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?o LIMIT 2",
    "CONSTRUCT { ?s ?p ?o } { ?s ?p ?o } ORDER BY ?o",
    "ASK { ?s ?p ?o }",
    "# ORDER BY in a comment\nSELECT ?o { ?s ?p 'ORDER BY' } LIMIT 99999999999999999999",
    "SELECT * { ?s ?p ?o } LIMIT 5 ORDER BY ?o",  # malformed: the engine says so
    "SELECT * { ?s ?p ?o } ORDER BY (LIMIT 50000)",  # malformed, the edits overlap
    "SELECT * { ?s ?p ?o } ORDER BY ?o BOGUS",
    *(queries.load(name).text for name in queries.names()),
]


@pytest.mark.parametrize("text", ENGINE_TEXTS)
@pytest.mark.parametrize("bound", [False, True])
def test_engine_text_is_the_edits_made_one_after_the_other(text: str, bound: bool) -> None:
    """engine_text edits the text once from one lexing; the same as capping, then making
    ORDER BY safe, then binding values, each on the text the last one wrote."""
    info = analyse(text)
    subs = (("s", ox.NamedNode("http://e/b")),) if bound else ()
    form = info.form or "SELECT"
    query = Query(text, form, capped_text=with_row_cap(info, 11), max_rows=10, substitutions=subs)

    def sequential() -> str:
        return with_values(safe_order(with_row_cap(info, 11)), form, subs)

    try:
        expected = sequential()
    except BadRequest as exc:  # the same refusal (what it quotes "near" may be shorter)
        with pytest.raises(BadRequest, match=re.escape(exc.message.split(", near ")[0])):
            engine_text(query)
        return
    assert engine_text(query) == expected
