"""A small SPARQL lexer: what a query is and what it would reach, before any engine sees it.

Engines fetch SERVICE and LOAD targets over HTTP (pyoxigraph has no switch from Python), so
exmech reads the query text first and answers 403 early, with a message a person can act on.
This is the readable first guard; the query workers' seccomp filter (``exmech.sandbox``) is
the one that holds by construction.

The lexer follows the terminals of the SPARQL 1.1 grammar (section 19.8) exactly: IRIREF,
PNAME_NS / PNAME_LN with PN_LOCAL's escapes (``ex:a\\#b``) and percent-encodings, VAR1/VAR2,
BLANK_NODE_LABEL, LANGTAG, numbers, the four string forms with their escapes, comments and
whitespace. A token is recognised whole, so a ``#`` or a quote inside one is not taken for a
comment or a string. It does not validate: the engine's parser does that and reports errors
with positions.

Codepoint escapes (``\\u0053``) are where readers disagree: the grammar says to decode them
in the whole text before parsing, Oxigraph decodes them only inside IRIs and strings (and
rejects them elsewhere). So ``analyse`` reads the text both ways and reports the union of
what either reading would reach: a target hidden from one reading is still seen by the other.
The row cap is placed by Oxigraph's reading, the one the embedded engine runs.

``with_values`` writes bound values into a query as a VALUES block, escaped by pyoxigraph;
both stores bind that way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urljoin

import pyoxigraph as ox

from exmech.errors import BadRequest

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# The grammar's character classes (SPARQL 1.1, section 19.8), as regular-expression sets.
_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_ECHAR = r"""\\[tbnrf\\"']"""
# Inside strings and IRIs Oxigraph also reads codepoint escapes (UCHAR), as Turtle does.
_CHAR_ESCAPE = f"{_ECHAR}|{_UCHAR}"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (
    f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
)
_VARNAME = f"[{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"
_STRINGS = (
    f'"""(?:(?:"|"")?(?:[^"\\\\]|{_CHAR_ESCAPE}))*"""',
    f"'''(?:(?:'|'')?(?:[^'\\\\]|{_CHAR_ESCAPE}))*'''",
    f'"(?:[^"\\\\\\n\\r]|{_CHAR_ESCAPE})*"',
    f"'(?:[^'\\\\\\n\\r]|{_CHAR_ESCAPE})*'",
)
_NUMBERS = (
    r"[0-9]+\.[0-9]*[eE][+-]?[0-9]+",
    r"\.[0-9]+[eE][+-]?[0-9]+",
    r"[0-9]+[eE][+-]?[0-9]+",
    r"[0-9]*\.[0-9]+",
    r"[0-9]+",
)
# Tried in this order at each position; the first that matches is the token.
_TERMINALS = (
    ("ws", r"[\x20\x09\x0d\x0a]+"),
    ("comment", r"#[^\r\n]*"),
    ("iri", f'<(?:[^<>"{{}}|^`\\\\\\x00-\\x20]|{_UCHAR})*>'),
    ("string", "|".join(_STRINGS)),
    ("var", f"[?$]{_VARNAME}"),
    ("bnode", f"_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"),
    ("pname", f"(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?"),
    ("langtag", r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*"),
    ("number", "|".join(_NUMBERS)),
    ("word", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("punct", r"."),
)
# One match per token: whitespace and comments before it are skipped inside the regex (they
# are never tokens), each terminal is a numbered group (the match's ``lastindex`` names its
# kind), and an empty match at the end of the text closes the scan.
_TOKEN = re.compile(
    "(?:"
    + "|".join(rx for _, rx in _TERMINALS[:2])
    + ")*+(?:"
    + "|".join(f"({rx})" for _, rx in _TERMINALS[2:])
    + r"|(\Z))",
    re.DOTALL,
)
_KINDS = ("", *(name for name, _ in _TERMINALS[2:]))  # by group number
_END = len(_KINDS)  # the group of the end of the text
_LOCAL_ESCAPE = re.compile(r"\\(.)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A value bound to a query variable: an IRI or a literal (VALUES takes no blank nodes).
Bound = ox.NamedNode | ox.Literal

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_WORDS = (
    "INSERT",
    "DELETE",
    "LOAD",
    "CLEAR",
    "CREATE",
    "DROP",
    "COPY",
    "MOVE",
    "ADD",
    "WITH",
)


class Token(NamedTuple):
    """One token; a tuple, as the lexer makes one per token of every new query text."""

    kind: str
    text: str
    start: int
    depth: int


TOKENS_CACHED_MAX = 8192  # characters; the tokens of shorter texts are kept (bounded memory)


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

    @property
    def is_empty(self) -> bool:
        """Nothing but whitespace and comments."""
        return not self.tokens


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
    """Tokens outside whitespace and comments, each with its brace depth.

    A new query text is read by several guards in one request (``analyse``, the query
    pool's fingerprint, ``with_values``...): the tokens of the last texts up to
    TOKENS_CACHED_MAX characters are kept, so it is lexed once.

    >>> [(t.kind, t.depth) for t in tokenize("ASK { <p> 'x' } # c")]
    [('word', 0), ('punct', 0), ('iri', 1), ('string', 1), ('punct', 0)]
    """
    if len(text) <= TOKENS_CACHED_MAX:
        return list(_cached_tokens(text))
    return _tokens(text)


@lru_cache(maxsize=64)
def _cached_tokens(text: str) -> tuple[Token, ...]:
    return tuple(_tokens(text))


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    kinds, new = _KINDS, tuple.__new__  # a Token without its Python-level __new__
    depth = 0
    for match in _TOKEN.finditer(text):
        group = match.lastindex
        if group is None or group == _END:
            break
        value = match.group(group)
        if value == "}":
            depth = depth - 1 if depth else 0
        append(new(Token, (kinds[group], value, match.start(group), depth)))
        if value == "{":
            depth += 1
    return tokens


def resolve(reference: str, base: str | None) -> str:
    """An IRI reference resolved against BASE as RFC 3986 says (not by pasting strings).

    >>> resolve("//elsewhere.org/x", "https://ok.org/sparql/")
    'https://elsewhere.org/x'
    >>> resolve("q", None)
    'q'
    """
    if base and not _SCHEME.match(reference):
        return urljoin(base, reference)
    return reference


def _target(token: Token, prefixes: dict[str, str], base: str | None) -> str:
    if token.kind == "iri":
        return resolve(decode_escapes(token.text[1:-1]), base)
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix in prefixes:
            return prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local)
    return token.text


def _read(text: str) -> QueryText:
    """One reading of ``text``: its tokens, form and targets."""
    tokens = tokenize(text)
    info = QueryText(text=text, tokens=tokens)
    base: str | None = None
    count = len(tokens)

    def word(j: int) -> str:
        return tokens[j].text.upper() if j < count and tokens[j].kind == "word" else ""

    def after(i: int, skip: str = "") -> Token | None:
        j = i + 1
        if skip and word(j) == skip:
            j += 1
        return tokens[j] if j < count else None

    for i, token in enumerate(tokens):  # only keywords start what is looked for
        if token.kind != "word":
            continue
        keyword = token.text.upper()
        nxt = after(i)
        if keyword == "PREFIX" and nxt is not None and nxt.kind == "pname":
            iri = after(i + 1)
            if iri is not None and iri.kind == "iri":
                info.prefixes[nxt.text[:-1]] = _target(iri, info.prefixes, base)
        elif keyword == "BASE" and nxt is not None and nxt.kind == "iri":
            base = _target(nxt, info.prefixes, base)
        elif info.form is None and keyword in QUERY_FORMS:
            info.form = keyword
        elif info.form is None and keyword in UPDATE_WORDS:
            info.form = "UPDATE"
        if keyword == "SERVICE":
            target = after(i, "SILENT")
            info.services.append(_target(target, info.prefixes, base) if target else "")
        elif keyword == "LOAD":
            target = after(i, "SILENT")
            info.loads.append(_target(target, info.prefixes, base) if target else "")
        elif keyword == "FROM" and nxt is not None:
            if word(i + 1) == "NAMED":
                target = after(i + 1)
                info.from_named.append(_target(target, info.prefixes, base) if target else "")
            else:
                info.from_graphs.append(_target(nxt, info.prefixes, base))
    return info


def _union(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))


def analyse(text: str) -> QueryText:
    """Find the form, prefixes, SERVICE/FROM/LOAD targets of a query or update.

    Both readings of codepoint escapes are made (see the module docstring); targets are the
    union of the two, and the text is an update if either reading says so.

    >>> q = analyse("PREFIX e: <http://e/> SELECT * FROM e:g { SERVICE e:s { ?a ?b ?c } }")
    >>> q.form, q.from_graphs, q.services
    ('SELECT', ['http://e/g'], ['http://e/s'])
    >>> analyse("# SERVICE <x>\\nASK { ?s ?p 'SERVICE' }").services
    []
    >>> analyse(r"ASK { \\u0053ERVICE <http://e/s> {} }").services
    ['http://e/s']
    >>> analyse("  # only a comment").is_empty
    True
    """
    raw = _read(text)
    decoded_text = decode_escapes(text)
    if decoded_text == text:
        return raw
    spec = _read(decoded_text)
    forms = {raw.form, spec.form}
    return QueryText(
        text=text,
        form="UPDATE" if "UPDATE" in forms else raw.form or spec.form,
        prefixes=raw.prefixes,
        services=_union(raw.services, spec.services),
        from_graphs=_union(raw.from_graphs, spec.from_graphs),
        from_named=_union(raw.from_named, spec.from_named),
        loads=_union(raw.loads, spec.loads),
        tokens=raw.tokens or spec.tokens,
    )


def projection(tokens: list[Token]) -> list[str]:
    """The variables a SELECT query projects, in order, from its tokens.

    >>> projection(tokenize("SELECT ?a (COUNT(?b) AS ?n) ?c WHERE { ?a ?b ?c } GROUP BY ?a ?c"))
    ['a', 'n', 'c']
    """
    out: list[str] = []
    parens = 0
    started = False
    for i, token in enumerate(tokens):
        word = token.text.upper() if token.kind == "word" else ""
        if not started:
            started = word == "SELECT"
            continue
        if word == "WHERE" or (token.text == "{" and parens == 0):
            break
        if token.text in "()" and token.kind == "punct":
            parens += 1 if token.text == "(" else -1
        elif token.kind == "var" and (
            parens == 0 or (i > 0 and tokens[i - 1].text.upper() == "AS")
        ):
            out.append(token.text[1:])
    return out


Edit = tuple[int, int, str]  # replace text[start:end] with this


def splice(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with each (start, end, replacement) applied; the spans must not overlap.

    >>> splice("ASK { ?s ?p ?o } LIMIT 50", [(23, 25, "11"), (5, 5, "{}")])
    'ASK {{} ?s ?p ?o } LIMIT 11'
    """
    out: list[str] = []
    done = 0
    for start, end, replacement in sorted(edits):
        if start < done:
            raise ValueError(f"overlapping edits at {start}")
        out += (text[done:start], replacement)
        done = end
    out.append(text[done:])
    return "".join(out)


def row_cap_edit(info: QueryText, cap: int) -> Edit | None:
    """The edit ``with_row_cap`` makes (None: the text stays as it is)."""
    text = info.text
    if info.form != "SELECT":
        return None
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
            if not number.text.isdigit() or (len(number.text) < 19 and int(number.text) <= cap):
                return None
            return (number.start, number.start + len(number.text), str(cap))
        if word == "VALUES" and seen_group:
            return (token.start, token.start, f"\nLIMIT {cap}\n")
    return (len(text), len(text), f"\nLIMIT {cap}\n")


def with_row_cap(info: QueryText, cap: int) -> str:
    """The SELECT query text with its top-level LIMIT lowered to ``cap`` (or one added).

    Only SELECT is touched, in Oxigraph's reading of the text (codepoint escapes count only
    inside IRIs and strings; anywhere else the engine rejects the query anyway). CONSTRUCT
    and DESCRIBE are not: their LIMIT counts solutions, not triples, so a cap there could
    hide a truncation; the store stops reading triples at the cap instead. If the engine
    rejects the result, the store runs the original and stops reading rows at the cap.

    >>> with_row_cap(analyse("SELECT * { ?s ?p ?o } LIMIT 50000"), 11)
    'SELECT * { ?s ?p ?o } LIMIT 11'
    >>> with_row_cap(analyse("SELECT * { ?s ?p ?o } LIMIT 5"), 11)
    'SELECT * { ?s ?p ?o } LIMIT 5'
    >>> with_row_cap(analyse("SELECT * { { SELECT * {?s ?p ?o} LIMIT 3 } }"), 11)
    'SELECT * { { SELECT * {?s ?p ?o} LIMIT 3 } }\\nLIMIT 11\\n'
    >>> with_row_cap(analyse("SELECT * { ?s ?p ?o } VALUES ?s { <a> }"), 11)
    'SELECT * { ?s ?p ?o } \\nLIMIT 11\\nVALUES ?s { <a> }'
    >>> with_row_cap(analyse("CONSTRUCT WHERE { ?s ?p ?o }"), 11)
    'CONSTRUCT WHERE { ?s ?p ?o }'
    """
    edit = row_cap_edit(info, cap)
    return info.text if edit is None else splice(info.text, [edit])


def term_text(term: object) -> str:
    """A bound value as SPARQL text, written by pyoxigraph (never pasted as given): the one
    way exmech writes a term into query text.

    Raises BadRequest for anything but an IRI or a literal (a blank node or a triple cannot
    be bound in VALUES); pyoxigraph has already refused IRIs that are not IRIs.

    >>> term_text(ox.NamedNode("https://w3id.org/exmech/id/theme/mood"))
    '<https://w3id.org/exmech/id/theme/mood>'
    >>> term_text(ox.Literal('say "hi"', language="en"))
    '"say \\\\"hi\\\\""@en'
    >>> term_text(ox.BlankNode("b0"))
    Traceback (most recent call last):
    exmech.errors.BadRequest: cannot bind _:b0: only an IRI or a literal can be bound
    """
    if isinstance(term, ox.NamedNode | ox.Literal):
        return str(term)
    raise BadRequest(f"cannot bind {term}: only an IRI or a literal can be bound")


def values_edit(
    tokens: list[Token], form: str, substitutions: Iterable[tuple[str, Bound]]
) -> Edit | None:
    """The edit ``with_values`` makes in the text of ``tokens`` (None: nothing is bound)."""
    pairs = list(substitutions)
    if not pairs:
        return None
    for name, _ in pairs:
        if not _VARIABLE.fullmatch(name):
            raise BadRequest(f"cannot bind ?{name}: not a SPARQL variable name")
    groups = [t for t in tokens if t.depth == 0 and t.text == "{"]
    where = [i for i, t in enumerate(tokens) if t.depth == 0 and t.text.upper() == "WHERE"]
    opener = None
    if where and where[0] + 1 < len(tokens) and tokens[where[0] + 1].text == "{":
        opener = tokens[where[0] + 1]
    elif groups:
        opener = groups[1] if form == "CONSTRUCT" and len(groups) > 1 else groups[0]
    if opener is None:
        raise BadRequest("cannot bind values in a query without a WHERE group")
    variables = " ".join(f"?{name}" for name, _ in pairs)
    values = " ".join(term_text(term) for _, term in pairs)
    cut = opener.start + 1
    return (cut, cut, f" VALUES ({variables}) {{ ({values}) }}")


def with_values(text: str, form: str, substitutions: Iterable[tuple[str, Bound]]) -> str:
    """The query with its variables pre-bound by a VALUES block at the top of its WHERE group.

    Both stores bind this way. SPARQL 1.1 has no protocol parameter for bound values, and
    pyoxigraph plans a VALUES block first in the outer group better than its own
    ``substitutions`` (bench/README.md, "Query plans on the embedded store"). Raises
    BadRequest for a name that is not a variable name, a value that is not a term, or a
    query without a WHERE group.

    >>> with_values("SELECT * WHERE { ?s ?p ?o }", "SELECT", [("s", ox.NamedNode("http://e/a"))])
    'SELECT * WHERE { VALUES (?s) { (<http://e/a>) } ?s ?p ?o }'
    >>> with_values("ASK { ?s ?p ?o }", "ASK", [("o", ox.Literal("1"))])
    'ASK { VALUES (?o) { ("1") } ?s ?p ?o }'
    """
    pairs = list(substitutions)
    if not pairs:
        return text
    edit = values_edit(tokenize(text), form, pairs)
    return text if edit is None else splice(text, [edit])
