"""Aggregate questions answered from kept counts equal the engine's answer to the same .rq text.

The reference is always pyoxigraph running the shipped query (ORDER BY rewritten by
``ordering.safe_order``, as the store runs it) on the very snapshot or store the counts describe:
on the shipped data, after curation writes through the app (a claim, a correction, a
retraction, a null finding), after a restart from the checkpoint with writes the checkpoint
missed (a crash), from a damaged checkpoint, and on random little datasets built to hit every
pattern of the queries (labels in two graphs, claims without a type, retractions that are not
typed as such, corrections whose pubinfo is elsewhere, ...).
"""

from __future__ import annotations

import gc
import hashlib
import pickle
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyoxigraph as ox
import pytest
from conftest import ROOT, start_server, stop_server
from exmech import queries, tokens, vocab
from exmech.ordering import safe_order
from exmech.provenance import rows_of
from exmech.settings import Settings
from exmech.store import Answer, Query
from exmech.store import aggregates as aggregates_module
from exmech.store.aggregates import QUESTIONS, Aggregates, Facts, Table
from exmech.store.embedded import EmbeddedStore
from exmech.store.results import parse
from flask import Flask

TOKEN, ENTRY = tokens.new_entry("https://example.org/curator/agg", "Agg Example")
ID, EXM = vocab.ID, vocab.EXM
FIELDS = "study=wun-2021&location=abstract&status=NotMeasured&wording=fictional+wording"
NULL_FINDING = (
    FIELDS.replace("NotMeasured", "MechanismTested")
    + "&direction=NoEffect&direction_note=no+change"
)
GROUPED = {"claims"}  # GROUP_CONCAT columns (in evidence-map, claims-by-evidence): order open
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]


def engine(store: ox.Store, name: str) -> Rows:
    """The shipped query's answer from pyoxigraph, every row."""
    text = safe_order(queries.load(name).text)
    solutions = store.query(text, use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)
    columns = tuple(v.value for v in solutions.variables)
    rows = [tuple(s[c] for c in columns) for s in solutions]
    return columns, rows


def order_keys(name: str) -> list[str]:
    """The ORDER BY variables of a shipped query, in order."""
    clause = queries.load(name).text.rsplit("ORDER BY", 1)[1]
    return [w.strip("DESC()?") for w in clause.split()]


def normal(columns: tuple[str, ...], row: tuple[Any, ...], name: str) -> tuple[str, ...]:
    out = []
    for column, term in zip(columns, row, strict=True):
        text = "UNBOUND" if term is None else str(term)
        if column in GROUPED and name != "theme-frequencies-recomputed" and term is not None:
            text = " ".join(sorted(term.value.split(" ")))
        out.append(text)
    return tuple(out)


def assert_same(mine: Table, theirs: Rows, name: str) -> None:
    """Same columns, same rows (as a multiset), and the ORDER BY values in the same sequence."""
    assert mine.columns == theirs[0], name
    a = [normal(mine.columns, r, name) for r in mine.terms()]
    b = [normal(theirs[0], r, name) for r in theirs[1]]
    assert Counter(a) == Counter(b), (name, sorted(set(a) ^ set(b))[:6])
    keys = [mine.columns.index(k) for k in order_keys(name)]
    assert [tuple(r[k] for k in keys) for r in a] == [tuple(r[k] for k in keys) for r in b], name


def kept(store: EmbeddedStore) -> Aggregates:
    keeper = store._keeper
    assert keeper is not None and keeper.ready.wait(60)
    assert keeper.aggregates is not None, "the aggregates did not load"
    return keeper.aggregates


def check_store(store: EmbeddedStore) -> None:
    """Every aggregate question, from the counts, equals the engine on the served snapshot."""
    aggregates = kept(store)
    snapshot = ox.Store.read_only(store._snapshot)
    for name in QUESTIONS:
        table = aggregates.answer(name, store.generation, store.dataset_hash, None)
        assert table is not None, (name, aggregates.unsupported)
        assert table.generation == store.generation
        assert_same(table, engine(snapshot, name), name)


def open_store(state: Path) -> EmbeddedStore:
    return EmbeddedStore(
        Settings(state_dir=state, data_root=ROOT, tokens=ENTRY.line(), log_requests=False)
    )


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    return {"tokens": ENTRY.line(), "curation_rate_limit": "off"}


@pytest.fixture(scope="module")
def app_workers() -> bool:
    """The kept counts live beside the query workers (the store's Keeper)."""
    return True


def post(app: Flask, path: str, body: bytes | None = None) -> dict[str, Any]:
    response = app.test_client().post(
        path, data=body, content_type="text/turtle", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 201, response.get_json()
    nanopubs: list[dict[str, Any]] = response.get_json()["nanopubs"]
    return nanopubs[0]


def triple(exercise: str, link: str, mechanism: str) -> bytes:
    return f"<{ID}exercise/{exercise}> <{EXM}{link}> <{ID}mechanism/{mechanism}> .\n".encode()


def test_answers_equal_the_engine_on_the_shipped_data_and_after_curation(app: Flask) -> None:
    store: EmbeddedStore = app.extensions["exmech"].store
    check_store(store)
    claim = post(
        app, f"/curation/submissions?{FIELDS}", triple("yoga", "proposedMechanism", "sleep")
    )
    check_store(store)
    post(
        app,
        f"/curation/claims/{claim['slug']}/supersede?location=results",
        triple("yoga", "proposedMechanism", "mood"),
    )
    check_store(store)
    other = post(
        app, f"/curation/submissions?{FIELDS}", triple("pilates", "proposedMechanism", "sleep")
    )
    post(app, f"/curation/claims/{other['slug']}/retract")
    check_store(store)
    shipped = ox.Store.read_only(store._snapshot)
    target = next(  # a shipped claim in force, retracted through the API
        r[-1].value.split()[0] for r in engine(shipped, "evidence-map")[1] if r[-2].value == "1"
    )
    post(app, f"/curation/claims/{target.rsplit('/', 1)[1]}/retract")
    check_store(store)
    post(
        app,
        f"/curation/submissions?{NULL_FINDING}",
        triple("walking", "unsupportedMechanism", "muscle-strength"),
    )
    check_store(store)


def test_the_api_answer_is_the_sparql_answer(app: Flask) -> None:
    """Through HTTP: /api (counts) and /sparql with the text changed by a comment (engine)."""
    client = app.test_client()
    kept(app.extensions["exmech"].store)
    accept = {"Accept": "application/sparql-results+json"}
    for path, name in (
        ("/api/evidence-map", "evidence-map"),
        ("/api/claims/by-evidence", "claims-by-evidence"),
        ("/api/themes/frequencies", "theme-frequencies-recomputed"),
    ):
        api = client.get(path).get_json()
        text = "# by the engine\n" + queries.load(name).text
        sparql = client.post("/sparql", data={"query": text}, headers=accept)
        rows = rows_of(parse(Answer(sparql.data, accept["Accept"], 0, False, "")))[1]
        rows = rows[: len(api["rows"])]
        assert [sorted(r.items()) for r in api["rows"]] == [sorted(r.items()) for r in rows]


def test_a_restart_folds_in_what_the_checkpoint_missed(tmp_path: Path, built_state: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    first = open_store(state)
    kept(first)
    first.close()  # writes the checkpoint
    checkpoint = (state / "aggregates.bin").read_bytes()
    crashed = open_store(state)
    assert kept(crashed).generation == crashed.generation
    g = f"{ID}graph/x"
    crashed.add(
        (
            f"<{ID}claim/x> <{vocab.NP}hasAssertion> <{g}-a> <{g}-head> .\n"
            f"<{ID}claim/x> <{vocab.NP}hasProvenance> <{g}-p> <{g}-head> .\n"
            f"<{ID}claim/x> <{vocab.RDF}type> <{EXM}Claim> <{g}-head> .\n"
            f"<{ID}exercise/yoga> <{EXM}proposedMechanism> <{ID}mechanism/sleep> <{g}-a> .\n"
            f"<{g}-a> <{vocab.PROV}wasDerivedFrom> <{ID}study/wun-2021> <{g}-p> .\n"
        ).encode()
    )
    crashed._keeper = None  # dies without saving: the checkpoint misses the write
    crashed.close()
    assert (state / "aggregates.bin").read_bytes() == checkpoint
    again = open_store(state)
    try:
        assert kept(again).records == 1
        check_store(again)
        assert "claim/x" in str(
            kept(again).answer("evidence-map", again.generation, again.dataset_hash, None)
        )
    finally:
        again.close()
    damaged = bytearray((state / "aggregates.bin").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (state / "aggregates.bin").write_bytes(bytes(damaged))
    rebuilt = open_store(state)  # the checksum fails: scanned from the snapshot instead
    try:
        check_store(rebuilt)
    finally:
        rebuilt.close()


class Payload:
    """A pickle that writes a file when unpickled: what a crafted checkpoint could carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "code ran"))


def test_a_crafted_checkpoint_runs_no_code_and_is_rebuilt(
    tmp_path: Path, built_state: Path
) -> None:
    """A pickle with a valid SHA-256, under the old header and under the current one, is
    refused without being run; the store scans its snapshot instead and answers right."""
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(Payload(probe)))  # the payload is live: unpickled, it writes
    assert probe.read_text() == "code ran"
    marker = tmp_path / "marker"
    body = pickle.dumps(Payload(marker))
    digest = hashlib.sha256(body).hexdigest().encode()
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    for crafted in (
        digest + b"\n" + body,  # format 1 (pickle, a checksum line first)
        b"exmech-aggregates 2 " + digest + b"\n" + body,  # format 2's header over a pickle
        b"exmech-aggregates 1 " + digest + b"\n" + body,
    ):
        with pytest.raises(ValueError, match="aggregate checkpoint"):
            Aggregates.loads(crafted)
        (state / "aggregates.bin").write_bytes(crafted)
        store = open_store(state)
        try:
            check_store(store)  # scanned, not loaded
        finally:
            store.close()
        assert (state / "aggregates.bin").read_bytes().startswith(b"exmech-aggregates 2 ")
        assert not marker.exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d | {"terms": [1, 2]},
        lambda d: d | {"facts": [[10**9, 1, 1, [], []]]},
        lambda d: d | {"facts": [[0, 2, 1, [], []]]},
        lambda d: d | {"facts": [[0, 1, 1, [0], []]]},
        lambda d: d | {"dims": {"__class__": []}},
        lambda d: d | {"records": "1"},
        lambda d: [d],
    ],
)
def test_a_well_hashed_but_malformed_checkpoint_is_refused(change: Any) -> None:
    """Whoever can write the state directory can also make the hash match: every field is
    checked for its type and range, and anything else is a ValueError (then a rebuild)."""
    aggregates = Aggregates()
    aggregates.state.set_facts(
        "<http://t/c>",
        Facts(True, True, (("<http://t/e>", "<http://t/m>"),), ()),
    )
    good = aggregates.dumps()
    doc = orjson.loads(good.partition(b"\n")[2])
    assert Aggregates.loads(good).state.facts == aggregates.state.facts
    body = orjson.dumps(change(doc))
    crafted = b"exmech-aggregates 2 " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    with pytest.raises(ValueError, match="aggregate checkpoint"):
        Aggregates.loads(crafted)


def test_a_large_state_is_frozen_out_of_the_collector_and_still_answers(
    tmp_path: Path, built_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From FREEZE_FACTS claims on, the loaded state goes to gc's permanent generation (its
    full collections took seconds at 10M quads); writes after that are still folded in."""
    monkeypatch.setattr(aggregates_module, "FREEZE_FACTS", 0)
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    frozen = gc.get_freeze_count()
    store = open_store(state)
    try:
        kept(store)
        assert gc.get_freeze_count() > frozen
        g = f"{ID}graph/frozen"
        store.add(
            (
                f"<{ID}claim/frozen> <{vocab.NP}hasAssertion> <{g}-a> <{g}-head> .\n"
                f"<{ID}claim/frozen> <{vocab.NP}hasProvenance> <{g}-p> <{g}-head> .\n"
                f"<{ID}claim/frozen> <{vocab.RDF}type> <{EXM}Claim> <{g}-head> .\n"
                f"<{ID}exercise/yoga> <{EXM}proposedMechanism> <{ID}mechanism/sleep> <{g}-a> .\n"
                f"<{g}-a> <{vocab.PROV}wasDerivedFrom> <{ID}study/wun-2021> <{g}-p> .\n"
            ).encode()
        )
        check_store(store)
    finally:
        store.close()
        gc.unfreeze()


def test_never_an_answer_of_another_generation_or_dataset(app: Flask) -> None:
    store: EmbeddedStore = app.extensions["exmech"].store
    aggregates = kept(store)
    assert aggregates.answer("evidence-map", "000000-0", store.dataset_hash, None) is None
    assert aggregates.answer("evidence-map", store.generation, "0" * 64, None) is None
    text = queries.load("evidence-map").text
    keeper = store._keeper
    assert keeper is not None
    same = Query(text, "SELECT", "application/sparql-results+json")
    assert keeper.answer(same, store.generation, store.dataset_hash) is not None
    for other in (
        Query(text + " ", "SELECT", "application/sparql-results+json"),
        Query(text, "SELECT", "application/sparql-results+json", default_graphs=("",)),
        Query(text, "SELECT", "application/sparql-results+json", named_graphs=(ID + "graph/x",)),
    ):
        assert keeper.answer(other, store.generation, store.dataset_hash) is None


def test_a_kill_9_loses_no_write_and_no_answer(tmp_path: Path, built_state: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(built_state, state)
    env = {"EXMECH_TOKENS": ENTRY.line()}
    server = start_server(state, tmp_path / "one.log", **env)
    try:
        response = httpx.post(
            f"{server.url}/curation/submissions?{FIELDS}",
            content=triple("yoga", "proposedMechanism", "sleep"),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/turtle"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        claim = response.json()["nanopubs"][0]["iri"]
    finally:
        server.process.kill()  # SIGKILL: no checkpoint written, no clean close
        server.process.wait(timeout=10)
    server = start_server(state, tmp_path / "two.log", **env)
    try:
        api = httpx.get(f"{server.url}/api/evidence-map", timeout=60).json()
        assert claim in str(api["rows"])
    finally:
        stop_server(server)
    store = open_store(state)
    try:
        check_store(store)
    finally:
        store.close()


# --- random little datasets: every pattern, every order of writes ---------------------------

N = vocab.NP
PREDICATES = {
    "type": f"{vocab.RDF}type",
    "hasAssertion": f"{N}hasAssertion",
    "hasProvenance": f"{N}hasProvenance",
    "hasPublicationInfo": f"{N}hasPublicationInfo",
    "derived": f"{vocab.PROV}wasDerivedFrom",
    "supersedes": f"{vocab.NPX}supersedes",
    "retracts": f"{vocab.NPX}retracts",
    "label": f"{vocab.SKOS}prefLabel",
    "inTheme": f"{EXM}inTheme",
    "ofTheme": f"{EXM}ofTheme",
    "mentionCount": f"{EXM}mentionCount",
    "reportedPercentage": f"{EXM}reportedPercentage",
}
LINK_NAMES = (
    "proposedMechanism",
    "supportedMechanism",
    "unsupportedMechanism",
    "examinedMechanism",
)
CLASSES = (
    "Claim",
    "Retraction",
    "Theme",
    "ThemeFrequency",
    "SystematicReview",
    "RandomisedControlledTrial",
)


def random_quad(rng: random.Random) -> ox.Quad:
    """One quad over a small vocabulary, so that claims' patterns complete often, and not."""

    def n(kind: str, count: int) -> ox.NamedNode:
        return ox.NamedNode(f"http://t/{kind}{rng.randrange(count)}")

    def graph_name() -> ox.NamedNode | ox.DefaultGraph:
        return ox.DefaultGraph() if rng.random() < 0.1 else n("g", 4)

    def p(name: str) -> ox.NamedNode:
        return ox.NamedNode(PREDICATES[name])

    kind = rng.choice(
        [
            "type",
            "type",
            "hasAssertion",
            "hasAssertion",
            "hasProvenance",
            "hasProvenance",
            "hasPublicationInfo",
            "link",
            "link",
            "link",
            "derived",
            "derived",
            "supersedes",
            "retracts",
            "label",
            "label",
            "inTheme",
            "frequency",
            "study",
        ]
    )
    if kind == "type":
        cls = rng.choice(("Claim", "Claim", "Retraction", "Theme"))
        subject = n("t", 2) if cls == "Theme" else n("c", 4)
        return ox.Quad(subject, p("type"), ox.NamedNode(EXM + cls), graph_name())
    if kind in ("hasAssertion", "hasProvenance", "hasPublicationInfo"):
        return ox.Quad(n("c", 4), p(kind), n("g", 4), graph_name())
    if kind == "link":
        obj: Any = ox.Literal("lit") if rng.random() < 0.1 else n("m", 3)
        link = ox.NamedNode(EXM + rng.choice(LINK_NAMES))
        return ox.Quad(n("e", 2), link, obj, n("g", 4))
    if kind == "derived":
        return ox.Quad(n("g", 4), p("derived"), n("s", 3), n("g", 4))
    if kind in ("supersedes", "retracts"):
        return ox.Quad(n("c", 4), p(kind), n("c", 4), graph_name())
    if kind == "label":
        subject = rng.choice([n("e", 2), n("m", 3), n("t", 2)])
        label = rng.choice(
            [ox.Literal("alpha"), ox.Literal("Beta"), ox.Literal("alpha", language="en")]
        )
        return ox.Quad(subject, p("label"), label, graph_name())
    if kind == "inTheme":
        return ox.Quad(n("m", 3), p("inTheme"), n("t", 2), graph_name())
    if kind == "study":
        cls = rng.choice(("SystematicReview", "MetaAnalysis", "RandomisedControlledTrial"))
        return ox.Quad(n("s", 3), p("type"), ox.NamedNode(EXM + cls), graph_name())
    if rng.random() < 0.3:
        return ox.Quad(n("f", 2), p("type"), ox.NamedNode(EXM + "ThemeFrequency"), graph_name())
    name = rng.choice(["ofTheme", "mentionCount", "reportedPercentage"])
    integer = ox.NamedNode(vocab.XSD + "integer")
    value: Any = (
        n("t", 2) if name == "ofTheme" else ox.Literal(str(rng.randrange(2)), datatype=integer)
    )
    return ox.Quad(n("f", 2), p(name), value, graph_name())


@pytest.mark.parametrize("seed", range(30))
def test_random_writes_keep_every_answer_equal_to_the_engine(seed: int) -> None:
    rng = random.Random(seed)
    store = ox.Store()
    aggregates = Aggregates.scan(store)
    for step in range(12):
        batch = [random_quad(rng) for _ in range(rng.randrange(1, 8))]
        store.extend(batch)
        aggregates.apply(batch, store)
        aggregates.tag(f"g{step}", step, "h")
        scanned = Aggregates.scan(store)
        scanned.tag(f"g{step}", step, "h")
        restored = Aggregates.loads(aggregates.dumps())
        for name in QUESTIONS:
            reference = engine(store, name)
            for source in (aggregates, scanned, restored):
                table = source.answer(name, f"g{step}", "h", None)
                assert table is not None, (seed, step, name)
                assert_same(table, reference, name)
        capped = aggregates.answer("theme-frequencies-recomputed", f"g{step}", "h", 3)
        assert capped is not None
        full = aggregates.answer("theme-frequencies-recomputed", f"g{step}", "h", None)
        assert full is not None
        assert capped.terms() == full.terms()[:3]
        assert capped.truncated == (full.rows > 3) and capped.rows == min(full.rows, 3)


def scenario() -> list[ox.Quad]:
    """Two claims in force, one corrected by a third, one retracted, with everything they join."""

    def t(name: str) -> ox.NamedNode:
        return ox.NamedNode(f"http://t/{name}")

    def q(s: str, p: str, o: Any, g: str | None = None) -> ox.Quad:
        obj = o if isinstance(o, (ox.Literal, ox.NamedNode)) else t(o)
        return ox.Quad(t(s), ox.NamedNode(PREDICATES.get(p, EXM + p)), obj, t(g) if g else None)

    quads = [
        q("m", "label", ox.Literal("Mechanism")),
        q("e", "label", ox.Literal("Exercise")),
        q("th", "label", ox.Literal("Theme")),
        q("m", "inTheme", "th"),
        q("th", "type", ox.NamedNode(EXM + "Theme")),
        q("s1", "type", ox.NamedNode(EXM + "SystematicReview")),
        q("f", "type", ox.NamedNode(EXM + "ThemeFrequency")),
        q("f", "ofTheme", "th"),
        q("f", "mentionCount", ox.Literal("3", datatype=ox.NamedNode(vocab.XSD + "integer"))),
        q(
            "f",
            "reportedPercentage",
            ox.Literal("5.0", datatype=ox.NamedNode(vocab.XSD + "decimal")),
        ),
    ]
    for c in ("c1", "c2", "c3"):
        quads += [
            q(c, "type", ox.NamedNode(EXM + "Claim"), c + "h"),
            q(c, "hasAssertion", c + "a", c + "h"),
            q(c, "hasProvenance", c + "p", c + "h"),
            q(c, "hasPublicationInfo", c + "i", c + "h"),
            q("e", "proposedMechanism", "m", c + "a"),
            q(c + "a", "derived", "s1" if c == "c1" else "s2", c + "p"),
        ]
    quads += [
        q("c3", "supersedes", "c1", "c3i"),  # c3 corrects c1
        q("r", "type", ox.NamedNode(EXM + "Retraction"), "rh"),
        q("r", "hasAssertion", "ra", "rh"),
        q("who", "retracts", "c2", "ra"),  # r retracts c2
    ]
    return [ox.Quad(x.subject, x.predicate, x.object, x.graph_name) for x in quads]


@pytest.mark.parametrize("seed", range(16))
def test_every_order_of_arrival_gives_the_engine_answer(seed: int) -> None:
    """The quads of a complete scenario written one at a time, in a random order."""
    quads = scenario()
    random.Random(seed).shuffle(quads)
    store = ox.Store()
    aggregates = Aggregates.scan(store)
    for step, quad in enumerate(quads):
        store.add(quad)
        aggregates.apply([quad], store)
        aggregates.tag(str(step), step, "h")
        for name in QUESTIONS:
            table = aggregates.answer(name, str(step), "h", None)
            assert table is not None
            assert_same(table, engine(store, name), name)


def many_claims(rng: random.Random) -> list[ox.Quad]:
    """Forty claims over three mechanisms in two themes, a third of them corrected or
    retracted, with the theme links themselves arriving among the claims."""

    def t(name: str) -> ox.NamedNode:
        return ox.NamedNode(f"http://t/{name}")

    def p(name: str) -> ox.NamedNode:
        return ox.NamedNode(PREDICATES.get(name, EXM + name))

    quads = [ox.Quad(t(f"th{i}"), p("type"), ox.NamedNode(EXM + "Theme")) for i in (0, 1)]
    quads += [ox.Quad(t(f"th{i}"), p("label"), ox.Literal(f"Theme {i}")) for i in (0, 1)]
    quads += [ox.Quad(t("m0"), p("inTheme"), t("th0")), ox.Quad(t("m1"), p("inTheme"), t("th0"))]
    quads += [ox.Quad(t("m1"), p("inTheme"), t("th1")), ox.Quad(t("m2"), p("inTheme"), t("th1"))]
    for i in range(40):
        c, a, v, info = (t(f"c{i:02d}{x}") for x in ("", "a", "p", "i"))
        head = t(f"c{i:02d}h")
        quads += [
            ox.Quad(c, p("type"), ox.NamedNode(EXM + "Claim"), head),
            ox.Quad(c, p("hasAssertion"), a, head),
            ox.Quad(c, p("hasProvenance"), v, head),
            ox.Quad(c, p("hasPublicationInfo"), info, head),
            ox.Quad(t(f"e{i % 2}"), p("proposedMechanism"), t(f"m{i % 3}"), a),
            ox.Quad(a, p("derived"), t(f"s{rng.randrange(6)}"), v),
        ]
        if i % 3 == 1:  # corrected by the next claim
            quads.append(ox.Quad(t(f"c{i + 1:02d}"), p("supersedes"), c, t(f"c{i + 1:02d}i")))
        if i % 7 == 3:  # retracted
            r = t(f"r{i}")
            quads += [
                ox.Quad(r, p("type"), ox.NamedNode(EXM + "Retraction"), t(f"r{i}h")),
                ox.Quad(r, p("hasAssertion"), t(f"r{i}a"), t(f"r{i}h")),
                ox.Quad(t("who"), p("retracts"), c, t(f"r{i}a")),
            ]
    return quads


@pytest.mark.parametrize("seed", range(4))
def test_themes_kept_sorted_across_writes_equal_the_engine(seed: int) -> None:
    """Each theme's claims in force are sorted once, then kept as claims enter and leave
    (new claims, corrections, retractions, a mechanism joining a theme): after every write,
    in a random order, the answers are the engine's, and equal those of a fresh scan."""
    rng = random.Random(seed)
    quads = many_claims(rng)
    rng.shuffle(quads)
    store = ox.Store()
    aggregates = Aggregates.scan(store)
    step = 0
    while quads:
        size = rng.randrange(1, 12)
        batch, quads = quads[:size], quads[size:]
        store.extend(batch)
        aggregates.apply(batch, store)
        aggregates.tag(str(step), step, "h")
        scanned = Aggregates.scan(store)
        scanned.tag(str(step), step, "h")
        for name in ("theme-frequencies-recomputed", "claims-per-theme"):
            table = aggregates.answer(name, str(step), "h", None)
            fresh = scanned.answer(name, str(step), "h", None)
            assert table is not None and fresh is not None
            assert_same(table, engine(store, name), name)
            assert table.tsv == fresh.tsv, (seed, step, name)
        step += 1
    assert step > 10
