"""ORDER BY rewritten into keys the engine can sort without crashing. Pure.

pyoxigraph 0.5.13 sorts with a comparison that is not a total order when literals of
different kinds meet (numbers compare by value, a number and a string by their text, so
``2 < 10 < "15" < 2``); Rust's sort then panics and the whole worker process dies
(docs/upstream.md). So every ORDER BY condition ``E`` is replaced by a fixed list of keys,
each of which only ever holds values of one comparable kind (or is unbound), so any two
solutions compare the same way whatever their order:

1. the kind of term, in SPARQL 1.1 §15.1 order: blank node < IRI < literal, literals by
   class: numbers, NaN, strings, booleans, dateTimes, everything else;
2. a number's value as xsd:double, then exactly as xsd:decimal (integers beyond 2^53);
3. a boolean's value; a dateTime's instant (no timezone read as Z, XPath's implicit one);
4. the lexical form, the datatype IRI and the language tag as plain strings.

Wherever SPARQL's ``<`` orders two values (numbers, strings, booleans, dateTimes) the keys
order them the same way; elsewhere §15.1 leaves the order to the implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from exmech.errors import BadRequest
from exmech.querytext import Edit, Token, splice, tokenize

XSD = "http://www.w3.org/2001/XMLSchema#"
_ENDS = frozenset({"LIMIT", "OFFSET", "VALUES"})
_PAIRS = {"(": ")", "{": "}"}
# Longest ORDER BY expression accepted: each key repeats it about 25 times.
MAX_EXPRESSION = 4000
UNREADABLE = (
    "exmech rewrites ORDER BY so that the engine sorts safely (docs/upstream.md) and could "
    "not read this one"
)


def sort_keys(expression: str) -> list[str]:
    """The keys that replace ``ORDER BY expression``, lowest priority last.

    >>> sort_keys("?o")[1]
    'IF(isNUMERIC(?o) && ?o = ?o, <http://www.w3.org/2001/XMLSchema#double>(?o), 0e0)'
    """
    e = expression
    t = f"DATATYPE({e})"

    def xsd(name: str) -> str:
        return f"<{XSD}{name}>"

    boolean = f"{xsd('boolean')}(STR({e}))"
    instant = f"{xsd('dateTime')}(STR({e}))"
    literal_kind = (
        f"IF({t} = {xsd('string')}, 5, "
        f"IF({t} = {xsd('boolean')}, COALESCE(IF(isLITERAL({boolean}), 6, 6), 8), "
        f"IF({t} = {xsd('dateTime')}, COALESCE(IF(isLITERAL({instant}), 7, 7), 8), 8)))"
    )
    kind = (
        f"IF(isBLANK({e}), 1, IF(isIRI({e}), 2, IF(isNUMERIC({e}), IF({e} = {e}, 3, 4), "
        f"IF(isLITERAL({e}), {literal_kind}, 9))))"
    )
    exact = (
        f"COALESCE(IF(isNUMERIC({e}) && {t} != {xsd('double')} && {t} != {xsd('float')}, "
        f"{xsd('decimal')}({e}), 0.0), 0.0)"
    )
    epoch = f'"0001-01-01T00:00:00Z"^^{xsd("dateTime")}'
    utc = f'IF(TZ({e}) = "", {xsd("dateTime")}(CONCAT(STR({e}), "Z")), {instant})'
    return [
        kind,
        f"IF(isNUMERIC({e}) && {e} = {e}, {xsd('double')}({e}), 0e0)",
        exact,
        f"COALESCE(IF({t} = {xsd('boolean')}, {boolean}, false), false)",
        f"COALESCE(IF({t} = {xsd('dateTime')}, {utc}, {epoch}), {epoch})",
        f'COALESCE(STR({e}), "")',
        f'COALESCE(STR({t}), "")',
        f'COALESCE(LANG({e}), "")',
    ]


@dataclass(frozen=True)
class _Condition:
    descending: bool
    expression: str


def _closing(tokens: list[Token], i: int) -> int:
    """Index of the token that closes the bracket at ``tokens[i]``, or -1."""
    depth = 0
    for j in range(i, len(tokens)):
        text = tokens[j].text if tokens[j].kind == "punct" else ""
        if text in _PAIRS:
            depth += 1
        elif text in (")", "}"):
            depth -= 1
            if depth == 0:
                return j
    return -1


def _unreadable(tokens: list[Token], i: int) -> BadRequest:
    near = " ".join(t.text for t in tokens[i : i + 4])[:80] if i < len(tokens) else "the end"
    return BadRequest(
        f"{UNREADABLE}: expected a variable, ASC(...), DESC(...), a bracketed expression or "
        f"a function call, near {near!r}"
    )


def _conditions(text: str, tokens: list[Token], i: int) -> tuple[list[_Condition], int, int]:
    """The conditions of the ORDER BY whose first condition is ``tokens[i]``.

    Returns (conditions, start offset, end offset); raises BadRequest when they cannot
    be read.
    """
    found: list[_Condition] = []
    start = tokens[i].start if i < len(tokens) else len(text)
    end = start
    while i < len(tokens):
        token = tokens[i]
        word = token.text.upper() if token.kind == "word" else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        descending = False
        if word in _ENDS or token.text == "}":
            break
        if word in ("ASC", "DESC") and nxt is not None and nxt.text == "(":
            descending, first = word == "DESC", i + 1
        elif token.kind == "var":
            found.append(_Condition(False, token.text))
            end, i = token.start + len(token.text), i + 1
            continue
        elif token.text == "(":
            first = i
        elif token.kind in ("word", "iri", "pname") and nxt is not None and nxt.text == "(":
            first = i
        elif word in ("EXISTS", "NOT"):
            first = i
        else:
            raise _unreadable(tokens, i)
        bracket = next((j for j in range(first, len(tokens)) if tokens[j].text in _PAIRS), -1)
        last = _closing(tokens, bracket) if bracket >= 0 else -1
        if last < 0:
            raise _unreadable(tokens, i)
        end = tokens[last].start + 1
        expression = text[tokens[first].start : end]
        found.append(_Condition(descending, f"({expression})"))
        i = last + 1
    return found, start, end


def order_edits(text: str, tokens: list[Token]) -> list[Edit]:
    """The edits ``safe_order`` makes, read from the tokens of ``text`` (lexed once by
    whoever has them); raises what ``safe_order`` raises."""
    if "ORDER" not in text.upper():
        return []
    clauses = [
        i + 2
        for i in range(len(tokens) - 1)
        if tokens[i].kind == "word"
        and tokens[i].text.upper() == "ORDER"
        and tokens[i + 1].kind == "word"
        and tokens[i + 1].text.upper() == "BY"
    ]
    edits: list[Edit] = []
    for first in clauses:
        if edits and tokens[first].start < edits[-1][1]:
            continue  # an ORDER BY inside the last one's conditions: rewritten with them
        conditions, start, end = _conditions(text, tokens, first)
        if not conditions:
            raise _unreadable(tokens, first)
        expressions = []
        for condition in conditions:
            # A subquery's ORDER BY inside the expression is rewritten too; the limit holds
            # for the rewritten expression, so nesting cannot multiply the text without end.
            expression = safe_order(condition.expression)
            if len(expression) > MAX_EXPRESSION:
                raise BadRequest(
                    f"an ORDER BY expression is {len(expression)} characters long; "
                    f"at most {MAX_EXPRESSION} can be sorted safely (docs/upstream.md)"
                )
            expressions.append(expression)
        keys = " ".join(
            f"{'DESC' if c.descending else 'ASC'}({key})"
            for c, expression in zip(conditions, expressions, strict=True)
            for key in sort_keys(expression)
        )
        edits.append((start, end, keys))
    return edits


@lru_cache(maxsize=512)
def safe_order(text: str) -> str:
    """``text`` with every ORDER BY rewritten into total-order keys (module docstring).

    Raises BadRequest for an ORDER BY it cannot read, or one with an expression longer
    than MAX_EXPRESSION characters: sorting it unchanged could crash the worker.

    >>> safe_order("SELECT * { ?s ?p ?o }")
    'SELECT * { ?s ?p ?o }'
    >>> q = safe_order("SELECT * { ?s ?p ?o } ORDER BY DESC(?o) ?s LIMIT 5")
    >>> q.count("DESC("), q.count("ASC("), q.endswith(" LIMIT 5")
    (8, 8, True)
    """
    if "ORDER" not in text.upper():
        return text
    return splice(text, order_edits(text, tokenize(text)))
