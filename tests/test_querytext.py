"""The SPARQL lexer: forms and outbound targets, including the ways people hide them."""

from __future__ import annotations

import pytest
from exmech.querytext import analyse, resolve, tokenize, with_row_cap

E = "http://127.0.0.1:9/sparql"

# (query, form, services, FROM, FROM NAMED, LOAD)
CASES = [
    ("SELECT * { ?s ?p ?o }", "SELECT", [], [], [], []),
    ("ask {}", "ASK", [], [], [], []),
    ("  construct where { ?s ?p ?o }", "CONSTRUCT", [], [], [], []),
    ("DESCRIBE <http://e/x>", "DESCRIBE", [], [], [], []),
    (f"SELECT * {{ SERVICE <{E}> {{ ?s ?p ?o }} }}", "SELECT", [E], [], [], []),
    (f"select * {{ service <{E}> {{ ?s ?p ?o }} }}", "SELECT", [E], [], [], []),
    (f"SELECT * {{ SeRvIcE SILENT <{E}> {{ ?s ?p ?o }} }}", "SELECT", [E], [], [], []),
    ("SELECT * { SERVICE ?where { ?s ?p ?o } }", "SELECT", ["?where"], [], [], []),
    ("SELECT * { SERVICE silent $where { ?s ?p ?o } }", "SELECT", ["$where"], [], [], []),
    (
        "PREFIX r: <http://127.0.0.1:9/> SELECT * { SERVICE r:sparql { ?s ?p ?o } }",
        "SELECT",
        [E],
        [],
        [],
        [],
    ),
    (
        "PREFIX : <http://127.0.0.1:9/> SELECT * { SERVICE :sparql { ?s ?p ?o } }",
        "SELECT",
        [E],
        [],
        [],
        [],
    ),
    (
        f"SELECT * {{ {{ SELECT ?s {{ SERVICE <{E}> {{ ?s ?p ?o }} }} }} }}",
        "SELECT",
        [E],
        [],
        [],
        [],
    ),
    (f"SELECT * {{ \\u0053ERVICE <{E}> {{ ?s ?p ?o }} }}", "SELECT", [E], [], [], []),
    (f"SELECT * {{ \\U00000053ervice <{E}> {{ ?s ?p ?o }} }}", "SELECT", [E], [], [], []),
    (
        "SELECT * { SERVICE <http\\u003A//127.0.0.1:9/sparql> { ?s ?p ?o } }",
        "SELECT",
        [E],
        [],
        [],
        [],
    ),
    # Relative service IRIs resolve as RFC 3986 says, so "//host" leaves the base's host.
    (
        "BASE <http://ok.example/a/> SELECT * { SERVICE <//127.0.0.1:9/sparql> {} }",
        "SELECT",
        [E],
        [],
        [],
        [],
    ),
    (
        "BASE <http://127.0.0.1:9/x/> PREFIX r: <../> SELECT * { SERVICE r:sparql {} }",
        "SELECT",
        [E],
        [],
        [],
        [],
    ),
    # Not a service: comments, strings, variables and prefixed names that say "service".
    (f"# SERVICE <{E}>\nASK {{ ?service ?p 'SERVICE <x> {{}}' }}", "ASK", [], [], [], []),
    (f'ASK {{ ?s ?p """\nSERVICE <{E}> {{ }}\n""" }}', "ASK", [], [], [], []),
    ("PREFIX ex: <http://e/> ASK { ?s ex:SERVICE ?o }", "ASK", [], [], [], []),
    (
        "PREFIX g: <http://e/g/> SELECT * FROM g:a FROM NAMED g:b FROM <http://e/c> {}",
        "SELECT",
        [],
        ["http://e/g/a", "http://e/c"],
        ["http://e/g/b"],
        [],
    ),
    (f"LOAD <{E}>", "UPDATE", [], [], [], [E]),
    (f"load silent <{E}> INTO GRAPH <http://e/g>", "UPDATE", [], [], [], [E]),
    ("INSERT DATA { <http://e/s> <http://e/p> 1 }", "UPDATE", [], [], [], []),
    (
        "PREFIX x: <http://e/> WITH x:g DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        "UPDATE",
        [],
        [],
        [],
        [],
    ),
    ("\\u0049NSERT DATA { <http://e/s> <http://e/p> 1 }", "UPDATE", [], [], [], []),
]


@pytest.mark.parametrize(("text", "form", "services", "from_", "named", "loads"), CASES)
def test_analyse(
    text: str,
    form: str,
    services: list[str],
    from_: list[str],
    named: list[str],
    loads: list[str],
) -> None:
    info = analyse(text)
    assert (info.form, info.services, info.from_graphs, info.from_named, info.loads) == (
        form,
        services,
        from_,
        named,
        loads,
    )


def test_a_service_only_the_grammar_reading_sees_is_found() -> None:
    # Decoded first (the grammar's reading), \u0022 closes the string and exposes SERVICE.
    text = f'ASK {{ FILTER("a\\u0022) SERVICE <{E}> {{ }} FILTER("b") }}'
    assert analyse(text).services == [E]


def test_a_service_only_oxigraphs_reading_sees_is_found() -> None:
    # Oxigraph keeps "\u0022" inside its string, so SERVICE is live; decoded first, the
    # escapes open a long string that swallows it. Reading both ways catches it.
    text = f'ASK {{ FILTER(?x = "\\u0022") SERVICE <{E}> {{ }} FILTER(?y = "\\u0022") }}'
    assert analyse(text).services == [E]


@pytest.mark.parametrize("text", ["", "   \n\t", "# nothing here", "# one\n   # two\n"])
def test_empty_queries(text: str) -> None:
    assert analyse(text).is_empty


def test_tokens_carry_brace_depth_and_skip_comments() -> None:
    tokens = tokenize("SELECT ?s { ?s <p> 'a}' # }\n { ?s ?p 1.5e3 } }")
    assert [(t.kind, t.text, t.depth) for t in tokens] == [
        ("word", "SELECT", 0),
        ("var", "?s", 0),
        ("punct", "{", 0),
        ("var", "?s", 1),
        ("iri", "<p>", 1),
        ("string", "'a}'", 1),
        ("punct", "{", 1),
        ("var", "?s", 2),
        ("var", "?p", 2),
        ("number", "1.5e3", 2),
        ("punct", "}", 1),
        ("punct", "}", 0),
    ]


@pytest.mark.parametrize(
    ("reference", "base", "expected"),
    [
        ("http://a/b", "http://x/", "http://a/b"),
        ("c", "http://x/a/b", "http://x/a/c"),
        ("../c", "http://x/a/b/", "http://x/a/c"),
        ("//other/c", "https://x/a", "https://other/c"),
        ("c", None, "c"),
        ("urn:x", "http://x/", "urn:x"),
    ],
)
def test_resolve(reference: str, base: str | None, expected: str) -> None:
    assert resolve(reference, base) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * { ?s ?p ?o }", "SELECT * { ?s ?p ?o }\nLIMIT 11\n"),
        ("SELECT * { ?s ?p ?o } LIMIT 500", "SELECT * { ?s ?p ?o } LIMIT 11"),
        ("SELECT * { ?s ?p ?o } limit 5 OFFSET 2", "SELECT * { ?s ?p ?o } limit 5 OFFSET 2"),
        ("SELECT * { ?s ?p ?o } OFFSET 2", "SELECT * { ?s ?p ?o } OFFSET 2\nLIMIT 11\n"),
        ("SELECT * { ?s ?p ?o } # end", "SELECT * { ?s ?p ?o } # end\nLIMIT 11\n"),
        (
            "SELECT * { { SELECT * { ?s ?p ?o } LIMIT 900 } }",
            "SELECT * { { SELECT * { ?s ?p ?o } LIMIT 900 } }\nLIMIT 11\n",
        ),
        (
            "SELECT * { ?s ?p ?o } VALUES ?s { <a> }",
            "SELECT * { ?s ?p ?o } \nLIMIT 11\nVALUES ?s { <a> }",
        ),
        (
            "SELECT * { VALUES ?s { <a> } ?s ?p ?o }",
            "SELECT * { VALUES ?s { <a> } ?s ?p ?o }\nLIMIT 11\n",
        ),
        ("SELECT * {} LIMIT " + "9" * 5000, "SELECT * {} LIMIT 11"),
        # Left alone: forms whose LIMIT does not count rows.
        ("CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT WHERE { ?s ?p ?o }"),
        ("DESCRIBE ?s { ?s ?p ?o }", "DESCRIBE ?s { ?s ?p ?o }"),
        ("ASK { ?s ?p ?o }", "ASK { ?s ?p ?o }"),
        # An escape inside a string changes nothing about where the query ends.
        ("SELECT * { ?s ?p '\\u0041' }", "SELECT * { ?s ?p '\\u0041' }\nLIMIT 11\n"),
        ("SELECT * { ?s ?p '\\u0041' } LIMIT 99", "SELECT * { ?s ?p '\\u0041' } LIMIT 11"),
        # A PN_LOCAL_ESC is not a comment: the LIMIT after it is the query's.
        (
            "PREFIX e: <http://e/> SELECT * { ?s ?p e:a\\#b } LIMIT 99",
            "PREFIX e: <http://e/> SELECT * { ?s ?p e:a\\#b } LIMIT 11",
        ),
    ],
)
def test_with_row_cap(text: str, expected: str) -> None:
    assert with_row_cap(analyse(text), 11) == expected


@pytest.mark.parametrize(
    "text",
    ["a." * 10_000, "é" * 20_000, "<" * 20_000, "{" * 20_000, '"' * 20_000, "p:" + "a." * 10_000],
)
def test_hostile_text_is_read_without_error(text: str) -> None:
    info = analyse(text)
    assert info.services == [] and info.form is None
