"""Bound values written out: as SPARQL text for the ``/sparql`` twin link, as SPARQL JSON terms.

Values reach the store by substitution; they are written as text only for the link a person
can follow, so writing refuses anything it cannot escape safely rather than guessing.
"""

from __future__ import annotations

import re

from exmech.store import Binding

_IRI_UNSAFE = re.compile(r'[<>"{}|^`\\\x00-\x20]')


def sparql_term(binding: Binding) -> str:
    """A bound value written as SPARQL; raises ValueError for a value it cannot write safely.

    >>> sparql_term(("iri", "https://w3id.org/exmech/id/mechanism/mood"))
    '<https://w3id.org/exmech/id/mechanism/mood>'
    >>> sparql_term(("literal", 'say "hi"\\n', "", ""))
    '"say \\\\"hi\\\\"\\\\n"'
    >>> sparql_term(("iri", "x> } DROP ALL"))
    Traceback (most recent call last):
    ValueError: not a safe IRI: 'x> } DROP ALL'
    """
    if binding[0] == "iri":
        if _IRI_UNSAFE.search(binding[1]) or ":" not in binding[1]:
            raise ValueError(f"not a safe IRI: {binding[1]!r}")
        return f"<{binding[1]}>"
    _, value, datatype, lang = binding
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    if lang:
        if not re.fullmatch(r"[a-zA-Z]+(-[a-zA-Z0-9]+)*", lang):
            raise ValueError(f"not a language tag: {lang!r}")
        return f'"{escaped}"@{lang}'
    if datatype:
        return f'"{escaped}"^^{sparql_term(("iri", datatype))}'
    return f'"{escaped}"'


def values_clause(bindings: dict[str, Binding]) -> str:
    """A trailing VALUES clause binding each variable to one value ("" when there are none).

    >>> values_clause({"claim": ("iri", "https://w3id.org/exmech/id/claim/abc")})
    '\\nVALUES ?claim { <https://w3id.org/exmech/id/claim/abc> }\\n'
    """
    if not bindings:
        return "\n"
    names = " ".join(f"?{name}" for name in bindings if re.fullmatch(r"\w+", name))
    if len(bindings) == 1:
        (value,) = bindings.values()
        return f"\nVALUES {names} {{ {sparql_term(value)} }}\n"
    terms = " ".join(sparql_term(v) for v in bindings.values())
    return f"\nVALUES ({names}) {{ ({terms}) }}\n"


def term_json(binding: Binding) -> dict[str, str]:
    """A bound value as a SPARQL JSON results term.

    >>> term_json(("literal", "10.2522/ptj.20110290", "", ""))
    {'type': 'literal', 'value': '10.2522/ptj.20110290'}
    """
    if binding[0] == "iri":
        return {"type": "uri", "value": binding[1]}
    out = {"type": "literal", "value": binding[1]}
    if binding[2]:
        out["datatype"] = binding[2]
    if binding[3]:
        out["xml:lang"] = binding[3]
    return out
