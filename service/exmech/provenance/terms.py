"""Bound values written out: as a VALUES clause for the ``/sparql`` twin link, as SPARQL JSON terms.

Values reach the store by substitution; they are written as text only for the link a person
can follow, by ``querytext.term_text`` (pyoxigraph writes them; an IRI that is not one never
became a term).
"""

from __future__ import annotations

import re

import pyoxigraph as ox

from exmech.querytext import Bound, term_text


def values_clause(bindings: dict[str, Bound]) -> str:
    """A trailing VALUES clause binding each variable to one value ("" when there are none).

    >>> values_clause({"claim": ox.NamedNode("https://w3id.org/exmech/id/claim/abc")})
    '\\nVALUES ?claim { <https://w3id.org/exmech/id/claim/abc> }\\n'
    """
    if not bindings:
        return "\n"
    names = " ".join(f"?{name}" for name in bindings if re.fullmatch(r"\w+", name))
    if len(bindings) == 1:
        (value,) = bindings.values()
        return f"\nVALUES {names} {{ {term_text(value)} }}\n"
    terms = " ".join(term_text(v) for v in bindings.values())
    return f"\nVALUES ({names}) {{ ({terms}) }}\n"


def term_json(term: Bound) -> dict[str, str]:
    """A bound value as a SPARQL JSON results term (the API's ``bindings``).

    >>> term_json(ox.Literal("10.2522/ptj.20110290"))
    {'type': 'literal', 'value': '10.2522/ptj.20110290'}
    """
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        out["datatype"] = term.datatype.value
    return out
