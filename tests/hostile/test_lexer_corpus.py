"""The lexer against a parser it did not write (issue 12, point 1).

The W3C SPARQL 1.1 syntax suites (syntax-query, syntax-fed; tests/w3c/rdf-tests) are the
corpus; rdflib's SPARQL parser (pyparsing, built from the same grammar) is the oracle for
which of them hold a SERVICE. The lexer must find every SERVICE the oracle finds, and flag no
query the oracle finds none in. Then the same check on spellings built to make a lexer lose
its place (escapes in prefixed names, quotes and hashes in strings and IRIs, comments), each
one a query Oxigraph accepts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from exmech.querytext import analyse
from pyparsing import ParseException, ParseResults
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

sys.path.insert(0, str(Path(__file__).parent.parent / "w3c"))
import manifest  # noqa: E402

CORPUS = [
    entry
    for folder in ("syntax-query", "syntax-fed")
    for entry in manifest.load(folder)[1]
    if entry.kind == "PositiveSyntaxTest11"
]
NEGATIVE = [
    entry
    for folder in ("syntax-query", "syntax-fed")
    for entry in manifest.load(folder)[1]
    if entry.kind == "NegativeSyntaxTest11"
]
T = "http://127.0.0.1:9/sparql"


def oracle_services(text: str) -> list[str]:
    """SERVICE targets as rdflib's parser reads the query (prefixed names expanded)."""
    tree = parseQuery(text)
    prefixes = {
        str(decl.get("prefix") or ""): str(decl["iri"])
        for decl in tree[0]
        if isinstance(decl, CompValue) and decl.name == "PrefixDecl"
    }
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                term = node["term"]
                if isinstance(term, CompValue) and term.name == "pname":
                    found.append(
                        prefixes.get(str(term.get("prefix") or ""), "?") + term["localname"]
                    )
                else:
                    found.append(str(term))
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple | ParseResults):
            for value in node:
                walk(value)

    walk(tree)
    return found


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: f"{e.action.parent.name}/{e.action.name}")
def test_the_lexer_agrees_with_the_parser_on_the_w3c_corpus(entry: manifest.Entry) -> None:
    text = entry.action.read_text(encoding="utf-8")
    assert bool(analyse(text).services) == bool(oracle_services(text))


def test_the_corpus_holds_service_queries() -> None:
    """The check above can fail: the corpus has queries with SERVICE, and without."""
    with_service = [e for e in CORPUS if oracle_services(e.action.read_text(encoding="utf-8"))]
    assert 3 <= len(with_service) < len(CORPUS) // 2


@pytest.mark.parametrize("entry", NEGATIVE, ids=lambda e: e.action.name)
def test_the_lexer_reads_every_malformed_query_without_error(entry: manifest.Entry) -> None:
    analyse(entry.action.read_text(encoding="utf-8"))


P = "PREFIX ex: <http://e/> "
# (query, whether it holds a SERVICE): each is a query Oxigraph parses.
CRAFTED = [
    (P + f"SELECT * {{ BIND(ex:a\\#b AS ?x) SERVICE <{T}> {{ ?s ?p ?o }} }}", True),
    (P + f"SELECT * {{ ?s ?p ex:a\\# . SERVICE <{T}> {{ ?s ?p ?o }} }}", True),
    (P + f"SELECT * {{ BIND(ex:a\\#b AS ?x)\nSERVICE <{T}> {{ ?s ?p ?o }} }}", True),
    (P + f"SELECT * {{ BIND(ex:a\\' AS ?x) SERVICE <{T}> {{ ?s ?p ?o }} BIND('x' AS ?y) }}", True),
    (P + f'SELECT * {{ BIND(ex:a\\(b\\) AS ?x) SERVICE <{T}> {{ }} BIND("x" AS ?y) }}', True),
    (P + f"SELECT * {{ BIND(ex:%23a AS ?x) SERVICE <{T}> {{ }} }}", True),
    (P + "SELECT * { BIND(ex:a\\#b AS ?x) }", False),
    (P + "SELECT * { BIND(ex:a\\#SERVICE AS ?x) }", False),
    (P + "SELECT * { SERVICE ex:a\\#b { } }", True),
    (f"SELECT * {{ BIND('''a''b'' SERVICE''' AS ?x) SERVICE <{T}> {{ }} }}", True),
    (f"SELECT * {{ BIND('''a''b''c SERVICE <{T}> {{}}''' AS ?x) }}", False),
    (f'SELECT * {{ BIND("a\\"SERVICE <{T}> {{}}" AS ?x) }}', False),
    (f'SELECT * {{ BIND("#" AS ?x) SERVICE <{T}> {{ }} }}', True),
    (f"SELECT * {{ BIND(<http://e/#x> AS ?x) SERVICE <{T}> {{ }} }}", True),
    (f"SELECT * {{ ?s ?p ?o # SERVICE <{T}> {{ }}\n }}", False),
    ("SELECT * { ?service ?p ?o BIND(?service AS $SERVICE) }", False),
    ("SELECT * { _:SERVICE ?p ?o }", False),
    ('SELECT * { ?s ?p "x"@SERVICE }', False),
    (P + f"SELECT * {{ ?s ex:SERVICE ?o SERVICE <{T}> {{ }} }}", True),
    (f"SELECT * {{ SERVICE SILENT <{T}> {{ }} }}", True),
    (f"SELECT * {{ {{ SELECT * {{ SERVICE <{T}> {{ }} }} }} }}", True),
    (f"SELECT * {{ FILTER(1<2) SERVICE <{T}> {{ }} }}", True),
    (f"SELECT * {{ FILTER(?a<?b&&?c>?d) SERVICE <{T}> {{ }} }}", True),
]


# Run in a confined child: evaluating a SERVICE query here would call out.
PARSE_ALL = """
import json, sys
import pyoxigraph as ox
from exmech import sandbox
sandbox.deny_network()
verdicts = []
for query in json.load(sys.stdin):
    try:
        list(ox.Store().query(query))
        verdicts.append("ok")
    except SyntaxError as exc:
        verdicts.append(f"syntax error: {exc}")
    except OSError:
        verdicts.append("ok")  # parsed, then the SERVICE call was refused
json.dump(verdicts, sys.stdout)
"""


@pytest.fixture(scope="module")
def oxigraph_verdicts() -> dict[str, str]:
    queries = [query for query, _ in CRAFTED]
    out = subprocess.run(
        [sys.executable, "-c", PARSE_ALL],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "service")},
    )
    assert out.returncode == 0, out.stderr
    return dict(zip(queries, json.loads(out.stdout), strict=True))


@pytest.mark.parametrize(("query", "has_service"), CRAFTED)
def test_crafted_spellings(
    query: str, has_service: bool, oxigraph_verdicts: dict[str, str]
) -> None:
    assert oxigraph_verdicts[query] == "ok"  # Oxigraph parses it...
    try:
        assert bool(oracle_services(query)) == has_service  # ...rdflib agrees on SERVICE...
    except ParseException:
        # rdflib 7.6's parser itself trips over a "#" inside a string or an IRI before a
        # SERVICE (it reads on as if from a comment); the lexer must not.
        assert "#" in query and has_service
    assert bool(analyse(query).services) == has_service  # ...and so does the lexer


@pytest.mark.parametrize("hide", ["ex:a\\#b", "ex:a\\'", "'#'", "<http://e/#>", '"""#"""'])
def test_nesting_cannot_hide_behind_a_token(hide: str) -> None:
    """The shape check counts brackets on the lexer's tokens; a '#' or quote inside a token
    must not hide the rest of the line (the engine's stack overflows near 3,000 groups)."""
    from exmech.errors import BadRequest
    from exmech.policy import check_shape

    query = P + f"SELECT * {{ BIND({hide} AS ?x) " + "{" * 3000 + "}" * 3000 + " }"
    with pytest.raises(BadRequest, match="nests brackets"):
        check_shape(analyse(query))
