"""A small SPARQL lexer: what a query is and what it would reach, before any engine sees it.

Engines fetch SERVICE and LOAD targets over HTTP and cannot be told not to (pyoxigraph has
no switch from Python), so exmech reads the query text first. The lexer follows the SPARQL
1.1 token rules (codepoint escapes are decoded first, as the grammar says; comments,
strings and IRIs are skipped as whole tokens), which is all that is needed to find the query
form, SERVICE / FROM / LOAD targets and the top-level LIMIT. It does not validate: the
engine's parser does that and reports errors with positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
              |"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\U000EFFFF]+)
  | (?P<pname>[A-Za-z\u00C0-\U000EFFFF][\w.\-\u00B7-\U000EFFFF]*?:(?:[\w\-:%.\\\u00B7-\U000EFFFF]*[\w\-:%\\\u00B7-\U000EFFFF])?
              |:(?:[\w\-:%.\\\u00B7-\U000EFFFF]*[\w\-:%\\\u00B7-\U000EFFFF])?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_WORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    depth: int


@dataclass
class QueryText:
    """What the lexer learned about one request's text."""

    text: str
    form: str | None = None  # SELECT, CONSTRUCT, DESCRIBE, ASK, UPDATE or None
    prefixes: dict[str, str] = field(default_factory=dict)
    services: list[str] = field(default_factory=list)  # IRIs, or "?var" for variable services
    from_graphs: list[str] = field(default_factory=list)
    from_named: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list, repr=False)

    @property
    def is_update(self) -> bool:
        return self.form == "UPDATE"


def decode_escapes(text: str) -> str:
    r"""Apply SPARQL codepoint escapes (\uXXXX, \UXXXXXXXX) as the grammar does before parsing.

    >>> decode_escapes(r"\u0053ERVICE")
    'SERVICE'
    """

    def repl(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF else match.group(0)

    return _ESCAPE.sub(repl, text)


def tokenize(text: str) -> list[Token]:
    """Tokens outside whitespace and comments, each with its brace depth."""
    tokens: list[Token] = []
    depth = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        if kind in ("ws", "comment"):
            continue
        value = match.group()
        if value == "}":
            depth = max(depth - 1, 0)
        tokens.append(Token(kind, value, match.start(), depth))
        if value == "{":
            depth += 1
    return tokens


def _resolve(token: Token, prefixes: dict[str, str], base: str | None) -> str:
    if token.kind == "iri":
        value = token.text[1:-1]
        if base and not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", value):
            return base + value
        return value
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix in prefixes:
            return prefixes[prefix] + local
        return token.text
    return token.text


def analyse(text: str) -> QueryText:
    """Find the form, prefixes, SERVICE/FROM/LOAD targets of a query or update.

    >>> q = analyse("PREFIX e: <http://e/> SELECT * FROM e:g { SERVICE e:s { ?a ?b ?c } }")
    >>> q.form, q.from_graphs, q.services
    ('SELECT', ['http://e/g'], ['http://e/s'])
    >>> analyse("# SERVICE <x>\\nASK { ?s ?p 'SERVICE' }").services
    []
    """
    decoded = decode_escapes(text)
    tokens = tokenize(decoded)
    info = QueryText(text=text, tokens=tokens)
    base: str | None = None
    upper = [t.text.upper() if t.kind == "word" else "" for t in tokens]
    for i, token in enumerate(tokens):
        word = upper[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if word == "PREFIX" and nxt is not None and i + 2 < len(tokens):
            if nxt.kind == "pname" and tokens[i + 2].kind == "iri":
                info.prefixes[nxt.text[:-1]] = _resolve(tokens[i + 2], info.prefixes, base)
        elif word == "BASE" and nxt is not None and nxt.kind == "iri":
            base = nxt.text[1:-1]
        elif info.form is None and word in QUERY_FORMS:
            info.form = word
        elif info.form is None and word in UPDATE_WORDS:
            info.form = "UPDATE"
        if word == "SERVICE":
            j = i + 1
            if j < len(tokens) and upper[j] == "SILENT":
                j += 1
            if j < len(tokens):
                info.services.append(_resolve(tokens[j], info.prefixes, base))
        elif word == "FROM" and nxt is not None:
            if upper[i + 1] == "NAMED" and i + 2 < len(tokens):
                info.from_named.append(_resolve(tokens[i + 2], info.prefixes, base))
            else:
                info.from_graphs.append(_resolve(nxt, info.prefixes, base))
        elif word == "LOAD":
            j = i + 1
            if j < len(tokens) and upper[j] == "SILENT":
                j += 1
            if j < len(tokens):
                info.loads.append(_resolve(tokens[j], info.prefixes, base))
    return info


def with_row_cap(info: QueryText, cap: int) -> str:
    """The query text with its top-level LIMIT lowered to ``cap`` (or one added).

    Only SELECT, CONSTRUCT and DESCRIBE without codepoint escapes are touched; otherwise,
    or if the engine rejects the result, callers run the original and cap while reading.

    >>> with_row_cap(analyse("SELECT * { ?s ?p ?o } LIMIT 50000"), 11)
    'SELECT * { ?s ?p ?o } LIMIT 11'
    >>> with_row_cap(analyse("SELECT * { { SELECT * {?s ?p ?o} LIMIT 3 } }"), 11)
    'SELECT * { { SELECT * {?s ?p ?o} LIMIT 3 } }\\nLIMIT 11\\n'
    >>> with_row_cap(analyse("SELECT * { ?s ?p ?o } VALUES ?s { <a> }"), 11)
    'SELECT * { ?s ?p ?o } \\nLIMIT 11\\nVALUES ?s { <a> }'
    """
    text = info.text
    if info.form not in ("SELECT", "CONSTRUCT", "DESCRIBE") or decode_escapes(text) != text:
        return text
    tokens = info.tokens
    seen_group = False
    for i, token in enumerate(tokens):
        if token.depth == 0 and token.text == "{":
            seen_group = True
        if token.depth != 0 or token.kind != "word":
            continue
        word = token.text.upper()
        if word == "LIMIT" and i + 1 < len(tokens) and tokens[i + 1].kind == "number":
            number = tokens[i + 1]
            if not number.text.isdigit() or int(number.text) <= cap:
                return text
            end = number.start + len(number.text)
            return text[: number.start] + str(cap) + text[end:]
        if word == "VALUES" and seen_group:
            return text[: token.start] + f"\nLIMIT {cap}\n" + text[token.start :]
    return text + f"\nLIMIT {cap}\n"
