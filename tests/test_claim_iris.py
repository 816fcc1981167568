"""Claim IRIs: one canonical name per assertion on every path, and no shipped IRI ever breaks.

``nanopub.claim_slug`` hashes the assertion's RDFC-1.0 canonical N-Quads. The property test
below sends the same random assertion (tabs, quotes, newlines, Unicode, language tags,
datatypes, blank nodes) down every path that names a claim: the importer's rdflib builder and
TriG serializer, the wrapping of bare triples, complete nanopublications in TriG, N-Quads and
JSON-LD, and the store (journal payload in, quads back out). Former IRIs live in
data/claim-iris.ttl and answer 301 over HTTP.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from conftest import ROOT, LiveServer, start_server, stop_server
from exmech import importer, nanopub, vocab
from exmech.build import build
from exmech.curation import Fields, wrap
from exmech.settings import Settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ID = vocab.ID
STUDY = f"{ID}study/wun-2021"
SHIPPED = [
    line
    for line in (ROOT / "tests" / "data" / "shipped-claim-iris.txt").read_text().splitlines()
    if line and not line.startswith("#")
]
EX = "https://example.org/"
XSD = vocab.XSD
DCTERMS_REPLACES = f"{vocab.DCTERMS}replaces"

# --- the property: every path gives the same IRI ----------------------------------------

iris = st.sampled_from([f"{ID}exercise/yoga", f"{ID}mechanism/mood", f"{EX}a", f"{EX}b%20c"])
predicates = st.sampled_from([f"{vocab.EXM}proposedMechanism", f"{EX}p", f"{EX}q"])
texts = st.one_of(
    st.sampled_from(
        [
            "a\tb",
            'say "hi"',
            "line\nbreak",
            "cr\r\nlf",
            "back\\slash",
            "é 😀 \u2028",
            "\x00\x01\x7f",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
)
literals = st.one_of(
    st.builds(ox.Literal, texts),
    st.builds(
        lambda t, lang: ox.Literal(t, language=lang),
        texts,
        st.sampled_from(["en", "en-GB", "de-CH-1996", "EN-us"]),
    ),
    st.builds(
        lambda t, dt: ox.Literal(t, datatype=ox.NamedNode(dt)),
        st.one_of(texts, st.from_regex(r"\A[+-]?0*[0-9]{1,4}\Z")),
        st.sampled_from([f"{XSD}integer", f"{XSD}string", f"{EX}datatype", f"{XSD}boolean"]),
    ),
)
blanks = st.sampled_from(["b1", "b2", "b3"]).map(ox.BlankNode)
subjects = st.one_of(iris.map(ox.NamedNode), blanks)
objects = st.one_of(iris.map(ox.NamedNode), blanks, literals)
assertions = st.lists(
    st.builds(ox.Triple, subjects, predicates.map(ox.NamedNode), objects),
    min_size=1,
    max_size=4,
    unique=True,
)


def complete(assertion: list[ox.Triple], node: str = f"{EX}np") -> list[ox.Quad]:
    """A complete claim nanopublication around ``assertion``, under placeholder IRIs."""
    n, a, p, i, h = (ox.NamedNode(f"{node}{x}") for x in ("", "#a", "#p", "#i", "#h"))
    ty, np_ = ox.NamedNode(f"{vocab.RDF}type"), vocab.NP
    return [
        ox.Quad(n, ty, ox.NamedNode(f"{np_}Nanopublication"), h),
        ox.Quad(n, ty, ox.NamedNode(f"{vocab.EXM}Claim"), h),
        ox.Quad(n, ox.NamedNode(f"{np_}hasAssertion"), a, h),
        ox.Quad(n, ox.NamedNode(f"{np_}hasProvenance"), p, h),
        ox.Quad(n, ox.NamedNode(f"{np_}hasPublicationInfo"), i, h),
        *(ox.Quad(t.subject, t.predicate, t.object, a) for t in assertion),
        ox.Quad(a, ox.NamedNode(f"{vocab.PROV}wasDerivedFrom"), ox.NamedNode(STUDY), p),
        ox.Quad(n, ox.NamedNode(f"{vocab.PROV}wasAttributedTo"), ox.NamedNode(f"{EX}ada"), i),
    ]


def relabelled(quads: list[ox.Quad], seed: int) -> list[ox.Quad]:
    """The same quads with fresh blank node labels, in another order."""
    fresh: dict[str, ox.BlankNode] = {}

    def term(t: object) -> object:
        if isinstance(t, ox.BlankNode):
            return fresh.setdefault(t.value, ox.BlankNode())
        return t

    out = [ox.Quad(term(q.subject), q.predicate, term(q.object), q.graph_name) for q in quads]  # type: ignore[arg-type]
    random.Random(seed).shuffle(out)
    return out


def named_iri(quads: list[ox.Quad]) -> str:
    renamed, named, problems = nanopub.name(quads)
    assert not problems, problems
    assert len(named) == 1
    return named[0].iri


def stored_assertion(quads: list[ox.Quad], iri: str) -> list[ox.Quad]:
    """Through the journal's format (N-Quads) into a store, and the assertion graph back."""
    store = ox.Store()
    store.extend(ox.parse(ox.serialize(quads, format=ox.RdfFormat.N_QUADS), ox.RdfFormat.N_QUADS))
    graph = ox.NamedNode(vocab.claim_graphs(iri.rsplit("/", 1)[-1])["assertion"])
    return list(store.quads_for_pattern(None, None, None, graph))


def bad_boolean(term: object) -> bool:
    return (
        isinstance(term, ox.Literal)
        and term.datatype.value == f"{XSD}boolean"
        and term.value not in ("true", "false")
    )


@pytest.mark.filterwarnings("ignore::UserWarning")  # rdflib on "weird" booleans
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assertion=assertions, seed=st.integers(0, 2**16))
def test_every_path_gives_the_same_claim_iri(assertion: list[ox.Triple], seed: int) -> None:
    expected = vocab.iri("claim", nanopub.claim_slug(assertion, STUDY))
    quads = complete(assertion)
    # complete nanopublications in every syntax a curator may send, blank nodes relabelled
    assert named_iri(quads) == expected
    assert named_iri(relabelled(quads, seed)) == expected
    for fmt in (ox.RdfFormat.TRIG, ox.RdfFormat.N_QUADS, ox.RdfFormat.JSON_LD):
        assert named_iri(list(ox.parse(ox.serialize(quads, format=fmt), fmt))) == expected
    # the importer's hand-over to rdflib and its TriG serializer, read back as a build does
    # (rdflib writes an xsd:boolean that is not "true"/"false" as a bare, wrong token)
    if not any(bad_boolean(t.object) for t in assertion):
        trig = importer.trig(importer.dataset(quads)).encode()
        assert named_iri(list(ox.parse(trig, ox.RdfFormat.TRIG))) == expected
    # the store: what a build or the journal holds names itself the same way
    named, _, _ = nanopub.name(quads)
    assert vocab.iri("claim", nanopub.claim_slug(stored_assertion(named, expected), STUDY)) == (
        expected
    )
    # one triple with an IRI subject: the importer's add_claim and the wrapping of bare triples
    first = assertion[0]
    if isinstance(first.subject, ox.NamedNode):
        single = vocab.iri("claim", nanopub.claim_slug([first], STUDY))
        info = nanopub.PubInfo(ox.NamedNode(f"{EX}ada"), ox.Literal("2026-12-01"))
        built: list[ox.Quad] = []
        triple = (first.subject, first.predicate, first.object)
        node = nanopub.add_claim(built, triple, nanopub.Provenance(ox.NamedNode(STUDY)), info)
        assert node.value == single
        bare = [ox.Quad(first.subject, first.predicate, first.object, ox.DefaultGraph())]
        wrapped = wrap(bare, Fields(study="wun-2021"), info, vocab.BASE)
        assert named_iri(wrapped) == single
        # the wrapped assertion is the submitted triple, lexical form and all
        graph = ox.NamedNode(vocab.claim_graphs(single.rsplit("/", 1)[-1])["assertion"])
        assert [
            ox.Triple(q.subject, q.predicate, q.object) for q in wrapped if q.graph_name == graph
        ] == [first]


def test_a_tab_in_a_literal_gives_one_iri_whatever_the_syntax() -> None:
    """The case the issue reported: rdflib's n3() and pyoxigraph's str() differed on a tab;
    the importer hands its claims to rdflib's TriG writer, and what it writes names the same
    claim."""
    triple = ox.Triple(
        ox.NamedNode(f"{ID}exercise/yoga"), ox.NamedNode(f"{EX}p"), ox.Literal("a\tb")
    )
    assert rdflib.Literal("a\tb").n3() != str(triple.object)  # the two spellings really differ
    quads: list[ox.Quad] = []
    info = nanopub.PubInfo(ox.NamedNode(f"{EX}ada"), ox.Literal("2026-12-01"))
    parts = (triple.subject, triple.predicate, triple.object)
    node = nanopub.add_claim(quads, parts, nanopub.Provenance(ox.NamedNode(STUDY)), info)
    trig = importer.trig(importer.dataset(quads)).encode()
    assert named_iri(list(ox.parse(trig, ox.RdfFormat.TRIG))) == node.value


def test_the_canonical_form_is_rdfc_1_0_for_blank_nodes() -> None:
    """Blank-node labels do not matter, and the labels are RDFC-1.0's: here every blank
    node has a unique first-degree hash (RDFC-1.0 §4.6, computed below by hand), so
    ``_:c14n0`` goes to the one whose hash sorts first."""
    p = ox.NamedNode(f"{EX}p")
    one = [
        ox.Triple(ox.BlankNode("x"), p, ox.BlankNode("y")),
        ox.Triple(ox.BlankNode("y"), p, ox.Literal("z")),
    ]
    two = [
        ox.Triple(ox.BlankNode("q"), p, ox.Literal("z")),
        ox.Triple(ox.BlankNode("r"), p, ox.BlankNode("q")),
    ]
    first_degree = {
        "x": sha256(f"_:a <{EX}p> _:z .\n".encode()).hexdigest(),
        "y": sha256(
            "".join(sorted([f'_:a <{EX}p> "z" .\n', f"_:z <{EX}p> _:a .\n"])).encode()
        ).hexdigest(),
    }
    label = {b: f"_:c14n{i}" for i, b in enumerate(sorted(first_degree, key=first_degree.get))}
    expected = "".join(
        sorted([f"{label['x']} <{EX}p> {label['y']} .\n", f'{label["y"]} <{EX}p> "z" .\n'])
    )
    assert nanopub.canonical_assertion(one) == nanopub.canonical_assertion(two) == expected


def test_shipped_claim_iris_are_canonical() -> None:
    """Every claim in data/claims.trig is named by claim_slug over its assertion as parsed."""
    quads = list(ox.parse((ROOT / "data" / "claims.trig").read_bytes(), ox.RdfFormat.TRIG))
    renamed, named, problems = nanopub.name(quads)
    assert not problems
    # 279 claims (230, and 49 from trials-more.csv), and the 8 withdrawn claims of release
    # 0.1.0 kept with their 8 retractions
    assert len(named) == 279 + 8 + 8
    assert all(n.iri == n.submitted_as for n in named)


# --- former IRIs keep resolving ---------------------------------------------------------


def replacements(path: Path) -> dict[str, str]:
    """former -> current, from a claim-iris.ttl."""
    graph = rdflib.Graph().parse(path, format="turtle")
    replaces = rdflib.URIRef(DCTERMS_REPLACES)
    return {str(former): str(current) for current, former in graph.subject_objects(replaces)}


def test_every_shipped_claim_iri_is_current_or_replaced() -> None:
    """The table's invariants: formers are gone, currents exist, no chains; nothing lost."""
    quads = list(ox.parse((ROOT / "data" / "claims.trig").read_bytes(), ox.RdfFormat.TRIG))
    current = {n.iri for n in nanopub.name(quads)[1]}
    table = replacements(ROOT / "data" / "claim-iris.ttl")
    assert not set(table) & current, "a former IRI is a current claim again"
    assert set(table.values()) <= current, "a replacement is not a current claim"
    assert len(SHIPPED) == len(set(SHIPPED)) == 231 + 168 + 49  # 0.1.0, issue 14, issue 18
    lost = [iri for iri in SHIPPED if iri not in current and iri not in table]
    assert not lost, (
        f"{len(lost)} shipped claim IRIs no longer resolve: add them to data/claim-iris.ttl"
    )


@pytest.fixture(scope="module")
def renamed_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, str, str]]:
    """A server over a copy of the data whose table records one (fictional) former IRI."""
    base = tmp_path_factory.mktemp("claim-iris")
    root = base / "root"
    for folder in ("ontology", "data"):
        shutil.copytree(ROOT / folder, root / folder)
    formers = replacements(ROOT / "data" / "claim-iris.ttl")
    current = next(iri for iri in SHIPPED if iri not in formers)
    former = vocab.iri("claim", "0" * 20)
    with (root / "data" / "claim-iris.ttl").open("a") as table:
        table.write(f"<{current}> <{DCTERMS_REPLACES}> <{former}> .\n")
    state = base / "state"
    build(Settings(state_dir=state, data_root=root))
    server = start_server(state, base / "server.log", EXMECH_DATA_ROOT=str(root))
    try:
        yield server, former, current
    finally:
        stop_server(server)


def test_every_shipped_claim_iri_resolves_over_http(
    renamed_server: tuple[LiveServer, str, str],
) -> None:
    server, former, _current = renamed_server
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=10) as client:
        for iri in [*SHIPPED, former]:
            response = client.get(iri.removeprefix(vocab.BASE), headers={"Accept": "text/turtle"})
            assert response.status_code == 200, iri
            assert f"{vocab.EXM}Claim" in response.text or "exm:Claim" in response.text


def test_a_former_claim_iri_answers_301_with_the_current_one(
    renamed_server: tuple[LiveServer, str, str],
) -> None:
    server, former, current = renamed_server
    slug, old = current.rsplit("/", 1)[-1], former.rsplit("/", 1)[-1]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.get(f"/id/claim/{old}?format=ttl")
        assert response.status_code == 301
        assert response.headers["Location"] == f"/id/claim/{slug}?format=ttl"
        for part in vocab.GRAPH_PARTS:
            response = client.get(f"/id/graph/{old}-{part}")
            assert (response.status_code, response.headers["Location"]) == (
                301,
                f"/id/graph/{slug}-{part}",
            )
        # the link is in the graph too, on the current claim
        turtle = client.get(f"/id/claim/{slug}", headers={"Accept": "application/n-triples"}).text
        assert f"<{current}> <{DCTERMS_REPLACES}> <{former}> ." in turtle
        # an unknown claim is still a 404, and so is a malformed graph name
        assert client.get(f"/id/claim/{'1' * 20}").status_code == 404
        assert client.get(f"/id/graph/{old}-nothing").status_code == 404
